"""Job functions the state's jobs name (imported by workers through sys.path)."""
import time


def noop(*args, **kwargs):
    return None


def fail(*args, **kwargs):
    raise RuntimeError("job-state: this job fails on purpose")


def block(*args, **kwargs):
    time.sleep(7200)
