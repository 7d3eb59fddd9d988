"""Private Docker registries (Debian's docker-registry, i.e. distribution)
and a token server for the registry tests.

    import registry
    reg = registry.Registry(tmpdir, auth="htpasswd", users={"ci": "pw"})
    tok = registry.TokenServer(tmpdir, users={"ci": "pw"})
    reg2 = registry.Registry(tmpdir, auth="token", token_server=tok)
    img = registry.push_image(reg.url, "team/app", "1.0", creds=("ci", "pw"))
    ...
    reg.stop(); tok.stop()

Each registry listens on its own free port of 127.0.0.1 with its storage
under the given directory and is stopped (by its own PID) at exit. The
token server runs in the test process (a thread) so the test can count its
requests (`tok.requests`) and make it answer 429 (`tok.fail_next(n)`). It
signs RS256 JWTs with a key made here by openssl; the registry trusts the
self-signed certificate through `rootcertbundle`, and each token carries it
in the `x5c` header, which distribution 2.8 verifies against that bundle.
Images are pushed through the v2 API here (push_image, push_index); the
tests that need a real client push with dockerd (tests/lib/dockerd.py
Dockerd.push). `requests()` reads what the registry answered from its own
log, for tests that count lookups; `delete=False` starts a registry that
refuses deletes (405), as distribution does by default.
"""

import atexit
import base64
import gzip
import hashlib
import http.server
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import jwt  # python3-jwt

HERE = os.path.dirname(os.path.abspath(__file__))
REGISTRY_BIN = "/usr/bin/docker-registry"
_live = []


def _free_port():
    out = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "freeport.py")], check=True,
                         capture_output=True, text=True).stdout
    return int(out.split()[0])


def _wait_http(url, timeout=15, proc=None, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("registry exited: %s" % (open(log).read()[-2000:] if log else ""))
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is up
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("no answer from %s" % url)


class TokenServer:
    """Docker token auth server: GET /token?service=&scope=... with optional
    Basic credentials. Grants the requested actions to known users (all of
    them) and nothing to anonymous callers unless `anonymous_pull`."""

    def __init__(self, tmpdir, users=None, service="wharf-test", issuer="wharf-test-issuer",
                 expires_in=300, anonymous_pull=False, host="127.0.0.1"):
        self.dir = os.path.join(tmpdir, "tokensrv-%d" % os.getpid())
        os.makedirs(self.dir, exist_ok=True)
        self.users = dict(users or {})
        self.service, self.issuer = service, issuer
        self.expires_in = expires_in
        self.anonymous_pull = anonymous_pull
        self.key_path = os.path.join(self.dir, "key.pem")
        self.cert_path = os.path.join(self.dir, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=wharf-test-token", "-keyout", self.key_path, "-out", self.cert_path],
                       check=True, capture_output=True)
        with open(self.key_path, "rb") as f:
            self.key = f.read()
        der = subprocess.run(["openssl", "x509", "-in", self.cert_path, "-outform", "DER"], check=True,
                             capture_output=True).stdout
        self.x5c = [base64.b64encode(der).decode()]
        self.lock = threading.Lock()
        self.requests = []          # (scope list, user or None, status)
        self.issued = []            # every token handed out
        self._fail = []             # statuses to answer next, with Retry-After
        self.retry_after = "1"
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                srv._handle(self)

        self.httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.realm = "http://%s:%d/token" % (host, self.port)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        _live.append(self)

    def fail_next(self, n=1, status=429, retry_after="1"):
        with self.lock:
            self._fail.extend([status] * n)
            self.retry_after = retry_after

    def count(self):
        with self.lock:
            return len(self.requests)

    def _user(self, h):
        a = h.headers.get("Authorization", "")
        if not a.startswith("Basic "):
            return None, True
        try:
            u, _, p = base64.b64decode(a[6:]).decode().partition(":")
        except Exception:
            return None, False
        return (u, True) if self.users.get(u) == p else (u, False)

    def _grant(self, scope, user):
        # "repository:name:pull,push" or "registry:catalog:*"
        parts = scope.split(":")
        if len(parts) < 3:
            return None
        typ, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
        if user is None:
            actions = [a for a in actions if a == "pull"] if self.anonymous_pull else []
        return {"type": typ, "name": name, "actions": actions}

    def _handle(self, h):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(h.path).query)
        scopes = q.get("scope", [])
        user, ok = self._user(h)
        with self.lock:
            status = self._fail.pop(0) if self._fail else (200 if ok else 401)
            self.requests.append((scopes, user, status))
            retry_after = self.retry_after
        if status != 200:
            h.send_response(status)
            if status in (429, 503) and retry_after is not None:
                h.send_header("Retry-After", retry_after)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        now = int(time.time())
        access = [g for g in (self._grant(s, user if ok else None) for s in scopes) if g]
        claims = {"iss": self.issuer, "sub": user or "", "aud": q.get("service", [self.service])[0],
                  "exp": now + self.expires_in, "nbf": now - 10, "iat": now,
                  "jti": base64.b32encode(os.urandom(10)).decode(), "access": access}
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"x5c": self.x5c})
        with self.lock:
            self.issued.append(token)
        body = json.dumps({"token": token, "access_token": token, "expires_in": self.expires_in,
                           "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def token_for(self, scopes, creds=None):
        """Fetch a token as a client would (for pushing test content)."""
        url = self.realm + "?" + urllib.parse.urlencode([("service", self.service)] + [("scope", s) for s in scopes])
        req = urllib.request.Request(url)
        if creds:
            req.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % creds).encode()).decode())
        return json.load(urllib.request.urlopen(req, timeout=10))["token"]

    def stop(self):
        if self in _live:
            _live.remove(self)
            self.httpd.shutdown()
            self.httpd.server_close()


class Registry:
    """A private docker-registry on 127.0.0.1 (or `host`, e.g. 127.0.0.12)."""

    def __init__(self, tmpdir, auth=None, users=None, token_server=None, host="127.0.0.1", delete=True):
        if not os.access(REGISTRY_BIN, os.X_OK):
            raise RuntimeError("%s is missing: apt-get install docker-registry" % REGISTRY_BIN)
        self.port = _free_port()
        self.host = host
        self.dir = os.path.join(tmpdir, "registry-%d-%d" % (os.getpid(), self.port))
        os.makedirs(self.dir, exist_ok=True)
        self.auth, self.users, self.token_server = auth, dict(users or {}), token_server
        cfg = ["version: 0.1", "log:", "  level: info", "  accesslog:", "    disabled: true",
               "storage:", "  filesystem:", "    rootdirectory: %s" % os.path.join(self.dir, "data"),
               "  delete:", "    enabled: %s" % ("true" if delete else "false"), "  maintenance:", "    uploadpurging:", "      enabled: false",
               "http:", "  addr: %s:%d" % (host, self.port), "  secret: wharf-test-secret"]
        if auth == "htpasswd":
            pw = os.path.join(self.dir, "htpasswd")
            open(pw, "w").close()
            for u, p in self.users.items():
                subprocess.run(["htpasswd", "-B", "-b", "-C", "4", pw, u, p], check=True, capture_output=True)
            cfg += ["auth:", "  htpasswd:", "    realm: wharf-test", "    path: %s" % pw]
        elif auth == "token":
            t = token_server
            cfg += ["auth:", "  token:", "    realm: %s" % t.realm, "    service: %s" % t.service,
                    "    issuer: %s" % t.issuer, "    rootcertbundle: %s" % t.cert_path]
        self.config = os.path.join(self.dir, "config.yml")
        with open(self.config, "w") as f:
            f.write("\n".join(cfg) + "\n")
        self.log = os.path.join(self.dir, "registry.log")
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", self.config], stdout=self.logf,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _live.append(self)
        self.url = "http://%s:%d" % (host, self.port)
        _wait_http(self.url + "/v2/", proc=self.proc, log=self.log)

    def log_size(self):
        """A mark for requests(since=...): the log's current length."""
        self.logf.flush()
        return os.path.getsize(self.log)

    def requests(self, since=0):
        """The requests the registry answered (from its own log, after byte
        `since`): a list of (method, uri, status)."""
        self.logf.flush()
        with open(self.log, "r", errors="replace") as f:
            f.seek(since)
            text = f.read()
        out = []
        for ln in text.splitlines():
            if 'msg="response completed"' not in ln:
                continue
            m = re.search(r'http\.request\.method=(\S+)', ln)
            u = re.search(r'http\.request\.uri="?([^" ]+)', ln)
            st = re.search(r'http\.response\.status=(\d+)', ln)
            if m and u and st:
                out.append((m.group(1), u.group(1), int(st.group(1))))
        return out

    def creds_header(self, scopes, creds=None):
        """The Authorization header value a pusher uses for `scopes`."""
        if self.auth == "htpasswd":
            return "Basic " + base64.b64encode(("%s:%s" % creds).encode()).decode()
        if self.auth == "token":
            return "Bearer " + self.token_server.token_for(scopes, creds)
        return None

    def stop(self):
        if self in _live:
            _live.remove(self)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.logf.close()


class PagingProxy:
    """A tiny HTTP proxy in front of a registry that pages tag lists the
    ways other registries do (distribution 2.8 sends the whole tag list):

      mode "quay"    pages of `page` tags, Link: <absolute URL?next_page=...>; rel="next"
      mode "nolink"  honours n and last, sends no Link (older registries)
      mode "evil"    like quay, but the next link names another origin
      mode "endless" every page links to one more page of new tags, forever

    Everything else (auth challenges, tokens, manifests, DELETE) passes
    through unchanged; a large `page` in mode "quay" makes it a plain
    pass-through on its own port. `paths` records the request paths it
    served."""

    HOP = {"connection", "transfer-encoding", "keep-alive", "content-length", "date", "server"}

    def __init__(self, upstream, mode="quay", page=2, host="127.0.0.1"):
        self.upstream, self.mode, self.page = upstream, mode, page
        self.paths = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # Headers and body go out as two writes: without this, Nagle
                # and delayed ACKs add ~40 ms to every keep-alive answer.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *a):
                pass

            def do_GET(self):
                proxy._handle(self, "GET")

            def do_HEAD(self):
                proxy._handle(self, "HEAD")

            def do_DELETE(self):
                proxy._handle(self, "DELETE")

        self.httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = "http://%s:%d" % (host, self.port)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        _live.append(self)

    def _forward(self, h, method, path):
        req = urllib.request.Request(self.upstream.url + path, method=method)
        for k in ("Authorization", "Accept"):
            if h.headers.get(k):
                req.add_header(k, h.headers[k])
        try:
            r = urllib.request.urlopen(req, timeout=30)
            return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def _page(self, path, status, headers, body):
        u = urllib.parse.urlparse(path)
        q = urllib.parse.parse_qs(u.query)
        tags = sorted(json.loads(body).get("tags") or [])
        link = None
        if self.mode == "nolink":
            if "last" in q:
                tags = [t for t in tags if t > q["last"][0]]
            n = int(q.get("n", [len(tags)])[0])
            tags = tags[:n]
        elif self.mode == "endless":
            start = int(q.get("next_page", ["0"])[0])
            tags = ["t%d-%d" % (start, i) for i in range(self.page)]
            link = '<%s?next_page=%d>; rel="next"' % (u.path, start + 1)
        else:
            start = int(q.get("next_page", ["0"])[0])
            chunk = tags[start:start + self.page]
            if start + self.page < len(tags):
                origin = self.url if self.mode == "quay" else "http://127.0.0.2:%d" % self.port
                link = '<%s%s?next_page=%d>; rel="next"' % (origin, u.path, start + self.page)
            tags = chunk
        out = json.dumps({"name": json.loads(body).get("name"), "tags": tags}).encode()
        return status, link, out

    def _handle(self, h, method):
        self.paths.append(h.path)
        upath = h.path
        paged = method == "GET" and urllib.parse.urlparse(h.path).path.endswith("/tags/list")
        if paged:
            upath = urllib.parse.urlparse(h.path).path  # the upstream sends everything
        if paged and self.mode == "endless":  # synthesised: no upstream round trip per page
            status, headers, body = 200, {"Content-Type": "application/json"}, b'{"name": "x", "tags": []}'
        else:
            status, headers, body = self._forward(h, method, upath)
        link = None
        if paged and status == 200:
            status, link, body = self._page(h.path, status, headers, body)
        h.send_response(status)
        for k, v in headers.items():
            if k.lower() not in self.HOP and not (paged and k.lower() == "link"):
                h.send_header(k, v)
        if link:
            h.send_header("Link", link)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if method != "HEAD":
            h.wfile.write(body)

    def stop(self):
        if self in _live:
            _live.remove(self)
            self.httpd.shutdown()
            self.httpd.server_close()


def _request(method, url, auth=None, body=None, headers=None, ok=(200, 201, 202, 204)):
    req = urllib.request.Request(url, data=body, method=method)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    if auth:
        req.add_header("Authorization", auth)
    try:
        resp = urllib.request.urlopen(req, timeout=30)
    except urllib.error.HTTPError as e:
        raise RuntimeError("%s %s -> %d %s" % (method, url, e.code, e.read()[:300]))
    if resp.status not in ok:
        raise RuntimeError("%s %s -> %d" % (method, url, resp.status))
    return resp


def _digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def push_blob(reg, repo, data, auth):
    d = _digest(data)
    r = _request("POST", "%s/v2/%s/blobs/uploads/" % (reg.url, repo), auth, body=b"")
    loc = urllib.parse.urljoin(reg.url, r.headers["Location"])
    sep = "&" if "?" in loc else "?"
    _request("PUT", loc + sep + "digest=" + d, auth, body=data,
             headers={"Content-Type": "application/octet-stream"})
    return d


def layer_tar(files):
    """A gzip'd tar of {path: bytes}, reproducible."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        for name, data in sorted(files.items()):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(data), 0, 0o755
            t.addfile(ti, io.BytesIO(data))
    tar = raw.getvalue()
    return tar, gzip.compress(tar, mtime=0)


def push_image(reg, repo, tag, creds=None, files=None, arch="amd64", os_="linux", variant=None, oci=False,
               push_tag=True, cmd=None, labels=None, healthcheck=None):
    """Push a one-layer image; returns its manifest digest. `files` are
    added to a file whose content makes the image unique; `cmd` and
    `labels` go to the image config (a runnable image needs a static binary
    in `files`, e.g. busybox_files())."""
    files = dict(files or {})
    files["hello.txt"] = ("%s:%s %s %f" % (repo, tag, arch, time.time())).encode()
    auth = reg.creds_header(["repository:%s:pull,push" % repo], creds)
    tar, gz = layer_tar(files)
    layer = push_blob(reg, repo, gz, auth)
    run = {}
    if cmd:
        run["Cmd"] = list(cmd)
    if labels:
        run["Labels"] = dict(labels)
    if healthcheck:
        run["Healthcheck"] = dict(healthcheck)
    config = {"architecture": arch, "os": os_, "rootfs": {"type": "layers", "diff_ids": [_digest(tar)]},
              "config": run}
    if variant:
        config["variant"] = variant
    cfg_bytes = json.dumps(config, sort_keys=True).encode()
    cfg = push_blob(reg, repo, cfg_bytes, auth)
    if oci:
        mt, cmt, lmt = ("application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.config.v1+json",
                        "application/vnd.oci.image.layer.v1.tar+gzip")
    else:
        mt, cmt, lmt = ("application/vnd.docker.distribution.manifest.v2+json",
                        "application/vnd.docker.container.image.v1+json",
                        "application/vnd.docker.image.rootfs.diff.tar.gzip")
    man = {"schemaVersion": 2, "mediaType": mt, "config": {"mediaType": cmt, "size": len(cfg_bytes), "digest": cfg},
           "layers": [{"mediaType": lmt, "size": len(gz), "digest": layer}]}
    body = json.dumps(man).encode()
    ref = tag if push_tag else _digest(body)
    _request("PUT", "%s/v2/%s/manifests/%s" % (reg.url, repo, ref), auth, body=body, headers={"Content-Type": mt})
    return _digest(body)


def busybox_files():
    """{"bin/busybox": the static busybox binary} for runnable test images."""
    path = shutil.which("busybox", path="/bin:/usr/bin")
    if not path:
        raise RuntimeError("busybox not found: install busybox-static (tests/lib/packages.txt)")
    with open(path, "rb") as f:
        return {"bin/busybox": f.read()}


def push_index(reg, repo, tag, platforms, creds=None):
    """Push an OCI index over one image per (os, arch, variant); returns
    (index digest, {"os/arch[/variant]": manifest digest})."""
    entries, digests = [], {}
    auth = reg.creds_header(["repository:%s:pull,push" % repo], creds)
    for os_, arch, variant in platforms:
        d = push_image(reg, repo, tag, creds, arch=arch, os_=os_, variant=variant, oci=True, push_tag=False)
        blob = _request("GET", "%s/v2/%s/manifests/%s" % (reg.url, repo, d), auth,
                        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).read()
        p = {"os": os_, "architecture": arch}
        if variant:
            p["variant"] = variant
        entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": len(blob),
                        "digest": d, "platform": p})
        digests["/".join(x for x in (os_, arch, variant) if x)] = d
    idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
    body = json.dumps(idx).encode()
    _request("PUT", "%s/v2/%s/manifests/%s" % (reg.url, repo, tag), auth, body=body,
             headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})
    return _digest(body), digests


_B64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")


def leaked(text, canaries):
    """The canaries found in `text`: as they are, or inside any base64 or
    base64url run (an Authorization or X-Registry-Auth value made from
    them, whatever its JSON field order). Returns a list of (canary, how)."""
    found = [(c, "plain") for c in canaries if c in text]
    for m in _B64.finditer(text):
        run = m.group(0).rstrip("=")
        for off in range(4):  # the run may start before the value does
            tok = run[off:]
            for dec in (base64.b64decode, base64.urlsafe_b64decode):
                try:
                    raw = dec(tok + "=" * (-len(tok) % 4)).decode("latin-1")
                except Exception:
                    continue
                found += [(c, "base64") for c in canaries if c in raw]
    return found


@atexit.register
def _stop_all():
    for x in list(_live):
        try:
            x.stop()
        except Exception:
            pass
