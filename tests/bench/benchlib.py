"""What the runtime benchmarks share: a private dockerd with the busybox
image, a runtime worker pointed at it as host `dock`, a broker connection to
submit with and Redis to wait on, torn down in reverse order.

    with benchlib.RuntimeBench("logs", concurrency=1) as b:
        jid = b.client.submit("runtime.host.stats", {}, target="dock").id
        h = b.client.wait(jid, 60)
"""
import http.client
import json
import os
import socket
import sys

SRC = os.environ.get("WHARF_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "producer", "python", "src"))
import dockerd  # noqa: E402
import wharf_client  # noqa: E402
import wharftest  # noqa: E402


def result_of(h):
    """A finished job's result from Client.wait's hash (decoded from JSON
    by the client; text from older ones)."""
    res = h["result"]
    return json.loads(res) if isinstance(res, (str, bytes)) else res


def cpu_s(pid):
    """User + system CPU seconds of process `pid` so far."""
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


class UnixHTTP(http.client.HTTPConnection):
    """HTTP over the engine's unix socket: the floor's plain client."""

    def __init__(self, path):
        super().__init__("docker")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


class RuntimeBench:
    """dockerd (`d`, image `img`), worker `w` on host `dock`, a wharf_client
    `client`, Redis `r` and the job `prefix`; a context manager."""

    def __init__(self, name, concurrency=1, extra_env=None):
        self.name, self.concurrency, self.extra_env = name, concurrency, extra_env

    def __enter__(self):
        self.env = wharftest.Env()
        self.d = dockerd.Dockerd.start(self.env.tmp)
        try:
            self.img = self.d.busybox_image()
            self.amqp, self.prefix = self.env.new_vhost(), self.env.new_prefix()
            cfg = os.path.join(self.env.tmp, "bench-%s.ini" % self.name)
            with open(cfg, "w") as f:
                f.write("[host.dock]\ndocker = unix://%s\n" % self.d.sock)
            self.w = self.env.start_worker(self.amqp, self.prefix, concurrency=self.concurrency, families="runtime",
                                           args=["--config", cfg], extra_env=self.extra_env)
        except BaseException:
            self.d.stop()
            raise
        self.client = wharf_client.Client(self.amqp, self.env.redis_url, prefix=self.prefix, timeout=60)
        self.r = self.env.redis()
        return self

    def __exit__(self, *exc):
        self.client.close()
        self.w.stop()
        self.d.stop()
        return False
