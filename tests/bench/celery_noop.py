#!/usr/bin/python3
"""Celery's side of the no-op comparison (issue 8, scenario 1b).

Debian's python3-celery with a RabbitMQ broker (publisher confirms), a Redis
result backend, acks_late, the msgpack serializer and a prefork pool at
concurrency = cores, running a no-op task whose results are fetched. Prints

    celery n=N seconds=S rate=R submit_seconds=S2 rss_peak_kb=K

where seconds runs from the first submit to the last result fetched and
rss_peak_kb is the peak total RSS of every worker process, sampled every
100 ms.

    WHARF_BENCH_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/vhost \\
    WHARF_BENCH_REDIS_URL=redis://127.0.0.1:6379/0 tests/bench/celery_noop.py -n 5000
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

TASKS = '''
import os
from celery import Celery
app = Celery("wharfbench", broker=os.environ["WHARF_BENCH_AMQP_URL"], backend=os.environ["WHARF_BENCH_REDIS_URL"])
app.conf.update(
    task_acks_late=True,
    task_serializer="msgpack",
    result_serializer="msgpack",
    accept_content=["msgpack"],
    broker_transport_options={"confirm_publish": True},
    worker_prefetch_multiplier=4,
    task_default_queue="wharfbench",
    result_expires=600,
)

@app.task(name="noop")
def noop(**kwargs):
    return kwargs
'''


def tree_rss_kb(root_pid):
    """Total RSS of root_pid and all its descendants, in kB."""
    children = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(p))
        except OSError:
            continue
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
        todo.extend(children.get(pid, []))
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="wharf-celery-")
    with open(os.path.join(tmp, "wharfbench_tasks.py"), "w") as f:
        f.write(TASKS)
    env = dict(os.environ, PYTHONPATH=tmp, PYTHONDONTWRITEBYTECODE="1")
    log = open(os.path.join(tmp, "worker.log"), "w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "wharfbench_tasks", "worker", "--pool", "prefork",
         "--concurrency", str(a.concurrency), "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
         "--without-heartbeat", "-Q", "wharfbench"],
        cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], tree_rss_kb(worker.pid))
            time.sleep(0.1)

    try:
        sys.path.insert(0, tmp)
        os.environ.update(env)
        import wharfbench_tasks  # noqa: E402
        # warm up: the worker is ready when a task round-trips
        deadline = time.monotonic() + 60
        while True:
            try:
                wharfbench_tasks.noop.apply_async(kwargs={"w": 1}).get(timeout=5)
                break
            except Exception:
                if time.monotonic() > deadline or worker.poll() is not None:
                    raise SystemExit("celery worker did not start; see " + log.name)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.monotonic()
        results = [wharfbench_tasks.noop.apply_async(kwargs={"i": i}) for i in range(a.n)]
        t_submit = time.monotonic() - t0
        for r in results:
            r.get(timeout=600)
        secs = time.monotonic() - t0
        stop.set()
        sampler.join()
        print("celery n=%d seconds=%.3f rate=%.0f submit_seconds=%.3f rss_peak_kb=%d"
              % (a.n, secs, a.n / secs, t_submit, peak[0]))
    finally:
        stop.set()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
