#!/usr/bin/python3
"""Submit a few jobs with wharf_client and print how they end.

Usage (a worker must be running on the same vhost and Redis prefix):

    WHARF_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f \\
    WHARF_REDIS_URL=redis://127.0.0.1:6379/0 \\
    WHARF_REDIS_PREFIX=wharf: \\
    /usr/bin/python3 example.py

The defaults are the contract's defaults, so on a standard local setup no
variable is needed.
"""

import os
import sys

import pika
import redis

import wharf_client


def main():
    amqp_url = os.environ.get("WHARF_AMQP_URL",
                              "amqp://guest:guest@127.0.0.1:5672/%2f")
    redis_url = os.environ.get("WHARF_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = os.environ.get("WHARF_REDIS_PREFIX", "wharf:")

    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        # enqueue() returns once RabbitMQ has confirmed the message.
        jobs = [
            wharf_client.enqueue(conn, "system.noop", {"hello": "world"}),
            wharf_client.enqueue(conn, "system.sleep", {"ms": 200},
                                 meta={"requested_by": "example.py"}),
            wharf_client.enqueue(conn, "system.fail",
                                 {"code": "demo_failure",
                                  "message": "this job always fails"},
                                 max_attempts=1),
        ]
        for job_id in jobs:
            # Right after enqueue the hash may not exist yet (None): only a
            # worker creates it. wait() handles that.
            print("%s: %s" % (job_id, wharf_client.status(r, job_id, prefix)))
        ok = True
        for job_id in jobs:
            try:
                h = wharf_client.wait(r, job_id, timeout=30, prefix=prefix)
            except wharf_client.WaitTimeout as e:
                print("%s: still %s after 30s" % (
                    job_id, e.last and e.last.get("state")))
                ok = False
                continue
            if h["state"] == "succeeded":
                print("%s %s succeeded, result %r" % (
                    job_id, h.get("type"), wharf_client.result(h)))
            else:
                print("%s %s %s: %s (%s)" % (
                    job_id, h.get("type"), h["state"], h.get("error"),
                    h.get("error_message")))
        return 0 if ok else 1
    except wharf_client.EnqueueError as e:
        print("not enqueued: %s" % e, file=sys.stderr)
        return 1
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
