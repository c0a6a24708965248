"""gunicorn settings for the app's workers: the API and pages (gthread) and the live contests' push
streams (gevent) alike (docs/deployment.md):

    gunicorn -c tools/gunicorn.conf.py -k gthread -w 2 --threads 8 -b 127.0.0.1:8000 'quiz:create_app()'
    gunicorn -c tools/gunicorn.conf.py -k gevent -w 2 --worker-connections 10000 \
        --keep-alive 75 -b 127.0.0.1:8001 'quiz:create_app()'

It imports nothing of the app: gevent must patch the standard library in each worker before the
app (and psycopg) is imported.

Once a worker has loaded the app, its objects (modules, SQLAlchemy's metadata and compiled
statements, translations, templates) live as long as the worker, yet Python's cyclic garbage
collector walks them again and again: `gc.freeze()` moves them out of every later collection, which
then walks only what requests made since. A join spent a tenth of its CPU in collections before
(docs/benchmarks.md "Joining"); a worker holding thousands of push streams has hundreds of
thousands of objects, and a full collection stops every stream of the worker meanwhile (tens of ms,
at random moments: a host's close can land on one).

In a gthread worker a thread whose database reply has arrived waits for the interpreter lock until
the thread holding it lets go, at the latest after the switch interval (5 ms by default): the
leader of a batch of joins (quiz/join_lane.py) waits so after each of its statements while every
join queued behind it waits too. SWITCH_INTERVAL_MS (default 1) shortens that wait; with 1 ms
the joins' throughput against a hello-world rose from 12–16 % to 16–17 % in alternating runs
(14–18 % in all eight runs with it; docs/benchmarks.md "Joining"). Under gevent there is one
thread doing the work: no effect.

A collection that still takes longer than GC_PAUSE_LOG_MS (default 20) is logged with its generation,
length and wall-clock time ("gc: pause …"), so a stalled close can be matched with one.
"""
import gc
import os
import sys
import time

# Python's defaults (700, 10, 10) ran a full collection in each worker every 10–30 s during a
# contest (each 110–400 ms, stopping every stream of the worker): the answers and buzzes in flight
# when a young collection runs outlive it and are promoted, and a burst of them soon makes a full
# collection due. With 50,000 allocations between young collections most requests are gone before
# one runs; no full collection ran in a whole benchmark contest (docs/benchmarks.md). GC_THRESHOLD
# ("a,b,c") overrides it.
GC_THRESHOLD = "50000,20,100"


def post_worker_init(worker):
    gc.collect()  # what loading the app left behind goes now, not into the frozen set
    gc.freeze()
    worker.log.info("gc: %d objects of the loaded app frozen out of later collections", gc.get_freeze_count())
    gc.set_threshold(*(int(n) for n in os.environ.get("GC_THRESHOLD", GC_THRESHOLD).split(",")))
    worker.log.info("gc: thresholds %s", gc.get_threshold())
    sys.setswitchinterval(float(os.environ.get("SWITCH_INTERVAL_MS", "1")) / 1000)
    worker.log.info("switch interval: %g ms", sys.getswitchinterval() * 1000)
    threshold = float(os.environ.get("GC_PAUSE_LOG_MS", "20")) / 1000
    started = [0.0, 0.0]

    def timed(phase, info):
        if phase == "start":
            started[:] = time.perf_counter(), time.thread_time()
            return
        took = time.perf_counter() - started[0]
        if took >= threshold:
            worker.log.warning("gc: pause at=%.3f generation=%d ms=%.1f cpu_ms=%.1f collected=%d pid=%d",
                               time.time() - took, info["generation"], took * 1000,
                               (time.thread_time() - started[1]) * 1000, info["collected"], os.getpid())

    gc.callbacks.append(timed)
