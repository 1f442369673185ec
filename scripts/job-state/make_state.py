"""make_state.py ERA REDIS_URL: job-queue state of a Redash era, made by the real job libraries.

ERA is celery (Redash 8.0.0), rq10 (10.1.0) or rq25 (25.8.0, same pins in 26.3.0). Run it with the
virtualenv that venv.sh builds for ERA. Prints a JSON manifest of what it made on stdout.

Pins (requirements-ERA.txt), from upstream getredash/redash:
  v8.0.0:requirements.txt:27 redis==3.2.1, :39 celery==4.3.0, :40 kombu==4.6.3
  v10.1.0:requirements.txt:24 redis==3.5.0, :36 rq==1.5.0, :37 rq-scheduler==0.9.1
  v25.8.0:pyproject.toml:65 redis = "4.6.0", :69 rq = "1.16.1", :70 rq-scheduler = "0.13.1"
  v26.3.0:pyproject.toml:66 redis = "4.6.0", :70 rq = "1.16.1", :72 rq-scheduler = "0.13.1"
Queue names: v10.1.0:redash/tasks/general.py (@job "default", "emails", "queries", "schemas"),
v10.1.0:redash/models/__init__.py:101-102 (data sources' "queries", "scheduled_queries"),
v10.1.0:redash/tasks/schedule.py:35 (rq-scheduler on "periodic", interval=5);
v8.0.0:bin/docker-entrypoint:6 (Celery queues queries,scheduled_queries,celery,schemas),
v8.0.0:redash/tasks/queries.py:23 (lock key "query_hash_job:%s:%s" % (data_source_id, query_hash)).

Celery era on Python 3.10 or 3.11 (venv.sh found no 3.7 to 3.9): celery_compat.py, imported
before Celery, puts back the standard library names those releases removed that vine, kombu and
Celery import; the libraries themselves are unchanged. The manifest records the interpreter
("python") and whether that was needed ("stdlib_compat").

Helpers the tests call with the same virtualenv (the jobs they name are in jobs.py):
  make_state.py _rq_enqueue URL QUEUE FUNC COUNT   enqueue COUNT jobs, print their ids
  make_state.py _rq_burst URL QUEUE[,QUEUE...]     a burst worker over those queues
  make_state.py _rq_scheduler URL [NAME]           an rq-scheduler run until killed
  make_state.py _rq_worker URL QUEUE NAME          a worker until killed

Processes it leaves: a live worker (its pid is in the manifest as live_worker_pid; the caller
kills it). Everything else it started is killed with SIGKILL before it prints the manifest.
"""
import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta

# Workers import jobs.py from here: keep the source tree free of __pycache__.
sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

RQ_BACKLOG = {
    "queries": 3,
    "scheduled_queries": 2,
    "schemas": 1,
    "periodic": 1,
    "emails": 2,
    "default": 1,
}
CELERY_BACKLOG = {"queries": 3, "scheduled_queries": 2, "celery": 2, "schemas": 1}
# As Redash's periodic_job_definitions (v10.1.0:redash/tasks/schedule.py).
PERIODIC = [
    ("refresh_queries", 30),
    ("remove_ghost_locks", 60),
    ("empty_schedules", 3600),
    ("refresh_schemas", 1800),
]


SPAWNED = []


def wait_for(what, predicate, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    for process in SPAWNED:
        if process.poll() is None:
            kill9(process)
    sys.exit("make_state.py: timed out waiting for " + what)


def version(distribution):
    try:
        from importlib.metadata import version as installed
    except ImportError:
        from importlib_metadata import version as installed
    return installed(distribution)


def spawn(*args):
    """This script again, in its own session, output discarded (the caller reads our stdout)."""
    process = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__)] + list(args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    SPAWNED.append(process)
    return process


def kill9(process):
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


# ---- RQ eras ---------------------------------------------------------------------------------


def rq_worker(url, queue_name, name):
    """A real SimpleWorker that works on queue_name until killed."""
    from redis import Redis
    from rq import Queue, SimpleWorker

    connection = Redis.from_url(url)
    worker = SimpleWorker([Queue(queue_name, connection=connection)], connection=connection, name=name)
    worker.work()


def rq_scheduler_run(url, name=None):
    """A real rq-scheduler run, as Redash's `manage rq scheduler` starts it, until killed."""
    from redis import Redis
    from rq_scheduler import Scheduler

    scheduler_class = Scheduler
    connection = Redis.from_url(url)
    if hasattr(scheduler_class, "redis_scheduler_namespace_prefix"):
        scheduler = Scheduler(
            connection=connection, queue_name="periodic", interval=5, name=name or SCHEDULER_NAME
        )
    else:
        scheduler = Scheduler(connection=connection, queue_name="periodic", interval=5)
    scheduler.run()


SCHEDULER_NAME = "job-state-stale"


def rq_enqueue(url, queue_name, func, count):
    """COUNT jobs running FUNC (a name in jobs.py) on QUEUE_NAME; prints their ids."""
    from redis import Redis
    from rq import Queue

    queue = Queue(queue_name, connection=Redis.from_url(url))
    for _ in range(int(count)):
        print(queue.enqueue("jobs." + func, job_timeout=60).id)


def rq_burst(url, queue_names):
    """A real burst worker: works every job of the comma-separated queues, then stops cleanly."""
    from redis import Redis
    from rq import Queue, SimpleWorker

    connection = Redis.from_url(url)
    queues = [Queue(name, connection=connection) for name in queue_names.split(",")]
    SimpleWorker(queues, connection=connection).work(burst=True)


def scheduler_birth_key(scheduler_class):
    """rq-scheduler 0.9 registers in rq:scheduler; 0.10 and later in rq:scheduler_instance:NAME."""
    prefix = getattr(scheduler_class, "redis_scheduler_namespace_prefix", None)
    return prefix + SCHEDULER_NAME if prefix else scheduler_class.scheduler_key


def rq_state(url):
    from redis import Redis
    from rq import Queue, SimpleWorker, Worker
    from rq.registry import FailedJobRegistry, StartedJobRegistry
    from rq_scheduler import Scheduler

    connection = Redis.from_url(url)
    manifest = {
        "era": None,
        "libraries": {name: version(name) for name in ("rq", "rq-scheduler", "redis")},
    }

    # A failed job: a real burst worker runs a job that raises.
    default = Queue("default", connection=connection)
    failed_job = default.enqueue("jobs.fail", job_timeout=60)
    SimpleWorker([default], connection=connection, name="job-state-burst").work(burst=True)
    assert failed_job.id in FailedJobRegistry(queue=default).get_job_ids(), "the job did not fail"
    manifest["failed"] = {"default": [failed_job.id]}
    # The burst worker registered its death on the way out: its key expires 60 s later.
    manifest["finished_workers"] = ["job-state-burst"]

    # A started job held by a live worker: a real worker picks a job that blocks, and stays.
    queries = Queue("queries", connection=connection)
    started_job = queries.enqueue("jobs.block", job_timeout=7200)
    live = spawn("_rq_worker", url, "queries", "job-state-live")
    registry = StartedJobRegistry(queue=queries)
    wait_for("the live worker to start its job", lambda: started_job.id in registry.get_job_ids())
    manifest["started"] = {"queries": [started_job.id]}
    manifest["live_worker_pid"] = live.pid
    manifest["live_workers"] = ["job-state-live"]

    # A dead worker: a real worker registers, then dies by SIGKILL, leaving its key behind
    # (without "death", expiring when its heartbeat's TTL, 420 s by default, runs out). It
    # listens on emails, whose backlog is enqueued only after it is dead.
    dead = spawn("_rq_worker", url, "emails", "job-state-dead")
    dead_key = Worker.redis_worker_namespace_prefix + "job-state-dead"
    wait_for("the doomed worker to register", lambda: connection.exists(dead_key))
    kill9(dead)
    manifest["dead_workers"] = ["job-state-dead"]
    manifest["dead_worker_pid"] = dead.pid

    # A stale scheduler: a real rq-scheduler run, killed by SIGKILL. It leaves its birth key
    # (a hash with "birth" and no "death", expiring interval + 10 s after its last heartbeat).
    # Its lock key is held only while it moves due jobs, so it is rarely left behind.
    lock_key = getattr(Scheduler, "scheduler_lock_key", Scheduler.scheduler_key + "_lock")
    scheduler = spawn("_rq_scheduler", url)
    birth_key = scheduler_birth_key(Scheduler)
    wait_for("the scheduler to register", lambda: connection.exists(birth_key))
    kill9(scheduler)
    manifest["scheduler_keys"] = {
        "birth": birth_key,
        "lock": lock_key,
        "lock_left": bool(connection.exists(lock_key)),
        "ttl_seconds": connection.ttl(birth_key),
    }

    # Scheduled jobs as schedule_periodic_jobs makes them (after the scheduler is dead, so no
    # scheduler moves them to the periodic queue).
    periodic = Scheduler(connection=connection, queue_name="periodic", interval=5)
    for name, interval in PERIODIC:
        periodic.schedule(
            scheduled_time=datetime.utcnow() + timedelta(seconds=interval),
            func="jobs.noop",
            interval=interval,
            timeout=600,
            result_ttl=600,
            id="job-state-" + name,
        )
    manifest["scheduled"] = {
        "key": periodic.scheduled_jobs_key,
        "ids": sorted("job-state-" + name for name, _ in PERIODIC),
    }

    # The backlog, last, so that no worker above took it.
    queued = {}
    for name, count in RQ_BACKLOG.items():
        queue = Queue(name, connection=connection)
        for _ in range(count):
            queue.enqueue("jobs.noop", job_timeout=60)
        queued[name] = {"key": queue.key, "count": count}
    manifest["queued"] = queued
    return manifest


# ---- Celery era ------------------------------------------------------------------------------


def celery_stdlib_compat():
    """Whether celery_compat had to put removed standard library names back (Python >= 3.10)."""
    if sys.version_info[:2] <= (3, 9):
        return False
    import celery_compat

    return celery_compat.apply()


def celery_app(url):
    celery_stdlib_compat()
    from celery import Celery

    app = Celery("redash", broker=url)
    app.conf.task_acks_late = True

    @app.task(name="redash.tasks.execute_query")
    def execute_query(query, data_source_id, metadata):
        return None

    @app.task(name="redash.tasks.refresh_queries")
    def refresh_queries():
        return None

    @app.task(name="redash.tasks.refresh_schema")
    def refresh_schema(data_source_id):
        return None

    return app, execute_query, refresh_queries, refresh_schema


def celery_consumer(url):
    """A real kombu consumer (as the Celery worker's) that takes one message without acking it,
    then waits to be killed."""
    app = celery_app(url)[0]
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue("queries", no_ack=False)
        message = queue.get(block=True, timeout=30)
        sys.stderr.write("holding %s\n" % message.delivery_tag)
        time.sleep(3600)


def celery_state(url):
    from redis import Redis

    connection = Redis.from_url(url)
    app, execute_query, refresh_queries, refresh_schema = celery_app(url)
    manifest = {
        "era": None,
        "libraries": {name: version(name) for name in ("celery", "kombu", "vine", "redis")},
        "stdlib_compat": celery_stdlib_compat(),
    }

    # One message for the consumer that dies holding it; the backlog follows.
    held = execute_query.apply_async(args=("select 1", 1, {}), queue="queries")
    consumer = spawn("_celery_consumer", url)
    wait_for("the consumer to take a message", lambda: connection.hlen("unacked") == 1)
    kill9(consumer)
    manifest["unacked"] = {"key": "unacked", "index_key": "unacked_index", "task_ids": [held.id]}

    queued = {}
    locks = []
    for name, count in CELERY_BACKLOG.items():
        for number in range(count):
            if name in ("queries", "scheduled_queries"):
                query_hash = hashlib.md5(("%s-%d" % (name, number)).encode()).hexdigest()
                result = execute_query.apply_async(
                    args=("select %d" % number, 1, {"Queue": name}), queue=name
                )
                # As v8.0.0:redash/tasks/queries.py enqueue_query: the lock names the task.
                lock = "query_hash_job:%s:%s" % (1, query_hash)
                connection.set(lock, result.id, 60 * 60 * 12)
                locks.append(lock)
            elif name == "schemas":
                refresh_schema.apply_async(args=(1,), queue=name)
            else:
                refresh_queries.apply_async(queue=name)
        queued[name] = {"key": name, "count": count}
    manifest["queued"] = queued
    manifest["job_locks"] = sorted(locks)
    return manifest


def main():
    if len(sys.argv) >= 2 and sys.argv[1].startswith("_"):
        command, args = sys.argv[1], sys.argv[2:]
        {
            "_rq_worker": rq_worker,
            "_rq_scheduler": rq_scheduler_run,
            "_rq_enqueue": rq_enqueue,
            "_rq_burst": rq_burst,
            "_celery_consumer": celery_consumer,
        }[command](*args)
        return
    if len(sys.argv) != 3 or sys.argv[1] not in ("celery", "rq10", "rq25"):
        sys.exit("usage: make_state.py celery|rq10|rq25 REDIS_URL")
    era, url = sys.argv[1], sys.argv[2]
    # The libraries log to stdout (rq 1.16's burst worker does): stdout is the manifest's alone.
    manifest_out, sys.stdout = sys.stdout, sys.stderr
    manifest = celery_state(url) if era == "celery" else rq_state(url)
    manifest["era"] = era
    manifest["python"] = platform.python_version()
    json.dump(manifest, manifest_out, indent=2, sort_keys=True)
    manifest_out.write("\n")


if __name__ == "__main__":
    main()
