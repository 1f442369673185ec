"""celery_compat: the standard library names removed in Python 3.10 and 3.11 that Celery 4.3.0,
kombu 4.6.3 and vine 1.3.0 (Redash 8.0.0's pins) import, put back where they were.

make_state.py imports it before Celery only when no Python 3.7 to 3.9 is at hand (venv.sh then
builds the celery venv on the default python3, 3.10 or 3.11) and says so in its manifest
("stdlib_compat": true). It changes nothing in Celery, kombu or vine: it only restores
  collections.Mapping, MutableMapping, ... (aliases of collections.abc, removed in 3.10);
  inspect.getargspec (removed in 3.11) and inspect.formatargspec (removed in 3.11),
as the Python 3.9 standard library defined them (over getfullargspec, as 3.9 did).
"""
import collections
import collections.abc
import inspect
import sys

# The aliases Python 3.9's collections still exported (Lib/collections/__init__.py __getattr__).
ABC_ALIASES = [name for name in collections.abc.__all__ if not name.startswith("_")]

APPLIED = False


def apply():
    global APPLIED
    if sys.version_info[:2] <= (3, 9) or APPLIED:
        return APPLIED
    for name in ABC_ALIASES:
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))
    if not hasattr(inspect, "getargspec"):
        inspect.ArgSpec = collections.namedtuple("ArgSpec", "args varargs keywords defaults")

        def getargspec(func):
            # Python 3.9's inspect.getargspec.
            args, varargs, varkw, defaults, kwonlyargs, kwonlydefaults, ann = inspect.getfullargspec(func)
            if kwonlyargs or ann:
                raise ValueError(
                    "Function has keyword-only parameters or annotations"
                    ", use inspect.signature() API which can support them"
                )
            return inspect.ArgSpec(args, varargs, varkw, defaults)

        inspect.getargspec = getargspec
    if not hasattr(inspect, "formatargspec"):
        inspect.formatargspec = formatargspec
    APPLIED = True
    return APPLIED


def formatargspec(
    args,
    varargs=None,
    varkw=None,
    defaults=None,
    kwonlyargs=(),
    kwonlydefaults={},
    annotations={},
    formatarg=str,
    formatvarargs=lambda name: "*" + name,
    formatvarkw=lambda name: "**" + name,
    formatvalue=lambda value: "=" + repr(value),
    formatreturns=lambda text: " -> " + text,
    formatannotation=inspect.formatannotation,
):
    """Python 3.9's inspect.formatargspec."""

    def formatargandannotation(arg):
        result = formatarg(arg)
        if arg in annotations:
            result += ": " + formatannotation(annotations[arg])
        return result

    specs = []
    if defaults:
        firstdefault = len(args) - len(defaults)
    for i, arg in enumerate(args):
        spec = formatargandannotation(arg)
        if defaults and i >= firstdefault:
            spec = spec + formatvalue(defaults[i - firstdefault])
        specs.append(spec)
    if varargs is not None:
        specs.append(formatvarargs(formatargandannotation(varargs)))
    else:
        if kwonlyargs:
            specs.append("*")
    if kwonlyargs:
        for kwonlyarg in kwonlyargs:
            spec = formatargandannotation(kwonlyarg)
            if kwonlydefaults and kwonlyarg in kwonlydefaults:
                spec += formatvalue(kwonlydefaults[kwonlyarg])
            specs.append(spec)
    if varkw is not None:
        specs.append(formatvarkw(formatargandannotation(varkw)))
    result = "(" + ", ".join(specs) + ")"
    if "return" in annotations:
        result += formatreturns(formatannotation(annotations["return"]))
    return result
