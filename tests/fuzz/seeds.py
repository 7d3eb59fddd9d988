#!/usr/bin/python3
"""Regenerate the seed inputs of tests/fuzz/corpus/ (then commit them).

    /usr/bin/python3 tests/fuzz/seeds.py

Seeds are files named seed-*; inputs merged in by `tests/fuzz/run --merge`
keep libFuzzer's hash names and are left alone. Sources: the golden
vectors in schemas/vectors (envelope), the JSON Schemas in schemas/jobs
(one plausible args map per job type), and hand-written samples of
WWW-Authenticate headers, image references, Docker log streams and worker
configs."""
import hashlib
import json
import os
import pathlib
import struct

import msgpack

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def write(target, data):
    d = HERE / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    (d / name).write_bytes(data)


def clear_seeds():
    for d in (HERE / "corpus").glob("*"):
        for f in d.glob("seed-*"):
            f.unlink()


def sample(schema):
    """A value that plausibly satisfies a (simple) JSON Schema."""
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return sample(schema[key][0])
    t = schema.get("type", "object")
    if isinstance(t, list):
        t = t[0]
    if t == "string":
        fmt = schema.get("pattern", "")
        if "sha256" in fmt:
            return "sha256:" + "a" * 64
        n = max(schema.get("minLength", 1), 1)
        return ("a1" * n)[:max(n, 2)]
    if t == "integer":
        return schema.get("minimum", 1)
    if t == "number":
        return schema.get("minimum", 1.5)
    if t == "boolean":
        return True
    if t == "array":
        return [sample(schema.get("items", {"type": "string"}))] * max(schema.get("minItems", 1), 1)
    if t == "object":
        props = schema.get("properties", {})
        return {k: sample(v) for k, v in props.items()}
    return None


def env_seeds():
    for f in sorted((ROOT / "schemas" / "vectors").glob("*.msgpack")):
        write("env", f.read_bytes())


def args_seeds():
    for f in sorted((ROOT / "schemas" / "jobs").glob("*.json")):
        schema = json.loads(f.read_text())
        name = f.name[:-len(".json")]
        full = sample(schema)
        required = {k: full[k] for k in schema.get("required", []) if k in full}
        for args in (full, required, {}):
            write("args", name.encode() + b"\0" + msgpack.packb(args, use_bin_type=True))


CHALLENGES = [
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
    'Basic realm="Registry Realm"',
    'Basic realm="x", Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/r:pull"',
    'Bearer realm="https://gitlab.example/jwt/auth",service="container_registry",error="insufficient_scope"',
    'Bearer realm="http://127.0.0.1:5001/token" , service = "reg", scope="repository:a/b:pull,push"',
    'Bearer realm="a\\"b,c",service=unquoted,scope="x"',
    'Negotiate, Bearer realm=x',
    'bearer REALM="lower-case scheme"',
    ',,, Basic ,',
]

REFS = [
    "nginx", "library/nginx:1.25", "docker.io/library/nginx:latest", "index.docker.io/nginx",
    "ghcr.io/owner/app:v1.2.3", "127.0.0.1:5000/test/img:1.0", "localhost/app",
    "[::1]:5000/a/b:c", "quay.io/org/repo@sha256:" + "0" * 64,
    "registry.gitlab.com/group/sub/project:tag@sha256:" + "f" * 64,
    "a/b/c/d/e", "UPPER/case", "name:", "@sha512:" + "1" * 128, "host:99999/x",
]


def frame(stream, payload):
    return struct.pack(">BxxxI", stream, len(payload)) + payload


def demux_seeds():
    out = frame(1, b"hello\n") + frame(2, b"warn: x\n") + frame(1, b"part")
    write("demux", b"\x00" + out)
    write("demux", b"\x00" + frame(1, b"a" * 9000 + b"\n"))
    write("demux", b"\x00" + frame(1, b"") + frame(2, b"\n\n\n"))
    write("demux", b"\x00" + frame(3, b"bad stream"))
    write("demux", b"\x00" + struct.pack(">BBBBI", 1, 0, 1, 0, 4) + b"pads")
    write("demux", b"\x01raw tty output\r\nsecond line\n")
    write("demux", b"\x06" + out[:11])


CONFIGS = [
    """[amqp]
url = amqp://guest:guest@127.0.0.1:5672/%2f
queue_type = quorum
prefetch = 32
[redis]
url = redis://127.0.0.1:6379/0
prefix = wharf:
[worker]
families = system,runtime
concurrency = 8
[jobs]
timeout_s = 900
""",
    """[host.web1]
docker = ssh://deploy@127.0.0.11:22
key_file = /dev/null
host_key = accept-new
fingerprint = SHA256:abc
known_hosts = /dev/null
[registry.hub]
provider = dockerhub
username = u
password_file = /dev/null
""",
    """[host.local]
docker = unix:///var/run/docker.sock
roots = /srv,/var/lib/data
[registry.ecr]
provider = ecr
url = https://1.dkr.ecr.eu-west-1.amazonaws.com
""",
    "[worker]\nconcurrency = -1\n",
    "[nosuch]\nkey = value\n",
    "no section = here\n",
    "[host.\x00]\n",
]


def main():
    clear_seeds()
    env_seeds()
    args_seeds()
    for c in CHALLENGES:
        write("chal", c)
    for r in REFS:
        write("ref", r)
    demux_seeds()
    for c in CONFIGS:
        write("cfg", c)
    for t in sorted(os.listdir(HERE / "corpus")):
        print(t, len(os.listdir(HERE / "corpus" / t)))


if __name__ == "__main__":
    main()
