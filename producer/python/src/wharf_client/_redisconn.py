"""The Redis connection of both clients, from the client's redis_url.

redis://, rediss:// and unix:// URLs go to redis-py as they are. A
redis-sentinel://[[user]:password@]host:port[,host:port...]/master[/db] URL
(the C library's form, common/adapters/wh_redis_url.c) asks the Sentinels,
in order, for the master's address; redis-py's Sentinel connection pool
asks again on each new connection, so after a failover the next call finds
the new master. The credentials are the data nodes'; a Sentinel is sent
them only when it answers NOAUTH, as the C library does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, cast
from urllib.parse import unquote

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.exceptions
import redis.sentinel

from ._config import Options
from ._errors import WharfError

__all__ = ["SentinelUrl", "parse_sentinel_url", "sync_redis", "async_redis"]

SCHEME = "redis-sentinel://"
MAX_SENTINELS = 8      # as the C library (WH_REDIS_SENTINELS)
ASK_TIMEOUT_S = 1.0    # per Sentinel asked, at most (wh_redis_sent.c)
_NODE_RE = re.compile(r"(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})")


@dataclass(frozen=True)
class SentinelUrl:
    """A redis-sentinel:// URL taken apart."""
    nodes: Tuple[Tuple[str, int], ...]
    master: str
    db: int
    username: Optional[str]
    password: Optional[str]


def _bad(message: str) -> WharfError:
    return WharfError("bad_config", "redis_url: " + message, "redis_url")


def _db(text: str) -> int:
    if not text.isdigit() or int(text) > 1000000:
        raise _bad("bad database number")
    return int(text)


def _nodes(text: str) -> Tuple[Tuple[str, int], ...]:
    out: List[Tuple[str, int]] = []
    for part in text.split(","):
        if part == "":
            raise _bad("empty entry in the Sentinel list")
        m = _NODE_RE.fullmatch(part)
        if not m or not 1 <= int(m.group(3)) <= 65535:
            raise _bad('Sentinel "%.100s" is not host:port' % part)
        out.append((m.group(1) or m.group(2), int(m.group(3))))
    if len(out) > MAX_SENTINELS:
        raise _bad("at most %d Sentinels" % MAX_SENTINELS)
    return tuple(out)


def parse_sentinel_url(url: str) -> SentinelUrl:
    """redis-sentinel://[[user]:password@]host:port[,host:port...]/master[/db]
    as the C library reads it; raises bad_config naming redis_url."""
    rest = url[len(SCHEME):]
    authority, slash, path = rest.partition("/")
    user: Optional[str] = None
    password: Optional[str] = None
    if "@" in authority:
        userinfo, _, authority = authority.rpartition("@")
        name, colon, pw = userinfo.partition(":")
        user, password = (unquote(name) or None, unquote(pw)) if colon else (None, unquote(userinfo))
    if not authority or not slash:
        raise _bad("redis-sentinel:// needs host:port,.../master_name")
    nodes = _nodes(authority)
    master, _, db = path.partition("/")
    if not master or len(master) > 127:
        raise _bad("missing or overlong master name")
    return SentinelUrl(nodes, master, _db(db) if db else 0, user, password or None)


def _conn_kwargs(u: SentinelUrl, timeout: float) -> Any:
    return {"db": u.db, "username": u.username, "password": u.password, "socket_timeout": timeout,
            "socket_connect_timeout": timeout}


def _ask_kwargs(u: SentinelUrl, timeout: float, auth: bool) -> Any:
    t = min(timeout, ASK_TIMEOUT_S)
    kw: Dict[str, Any] = {"socket_timeout": t, "socket_connect_timeout": t}
    if auth:
        kw.update(username=u.username, password=u.password)
    return kw


class _Sentinel(redis.sentinel.Sentinel):
    """Sentinels asked without credentials until one answers NOAUTH."""

    def __init__(self, u: SentinelUrl, timeout: float) -> None:
        super().__init__(list(u.nodes), sentinel_kwargs=_ask_kwargs(u, timeout, False))
        self.url, self.timeout = u, timeout

    def discover_master(self, service_name: str) -> Any:
        try:
            return super().discover_master(service_name)
        except redis.exceptions.AuthenticationError:
            if not self.url.password:
                raise
        kw = _ask_kwargs(self.url, self.timeout, True)
        self.sentinels = [redis.Redis(host, port, **kw) for host, port in self.url.nodes]
        return super().discover_master(service_name)


class _AsyncSentinel(redis.asyncio.sentinel.Sentinel):
    """As _Sentinel, for redis.asyncio."""

    def __init__(self, u: SentinelUrl, timeout: float) -> None:
        super().__init__(list(u.nodes), sentinel_kwargs=_ask_kwargs(u, timeout, False))
        self.url, self.timeout = u, timeout

    async def discover_master(self, service_name: str) -> Any:
        try:
            return await super().discover_master(service_name)
        except redis.exceptions.AuthenticationError:
            if not self.url.password:
                raise
        kw = _ask_kwargs(self.url, self.timeout, True)
        self.sentinels = [redis.asyncio.Redis(host=h, port=p, **kw) for h, p in self.url.nodes]
        return await super().discover_master(service_name)


def sync_redis(o: Options) -> "redis.Redis[bytes]":
    """The sync client's Redis; raises bad_config for a bad URL."""
    if o.redis_url.startswith(SCHEME):
        u = parse_sentinel_url(o.redis_url)
        r = _Sentinel(u, o.timeout).master_for(u.master, redis_class=redis.Redis, **_conn_kwargs(u, o.timeout))
        return cast("redis.Redis[bytes]", r)
    try:
        return redis.Redis.from_url(o.redis_url, socket_timeout=o.timeout, socket_connect_timeout=o.timeout)
    except ValueError as e:
        raise _bad(str(e)) from None


def async_redis(o: Options) -> "redis.asyncio.Redis[bytes]":
    """The asyncio client's Redis; raises bad_config for a bad URL."""
    if o.redis_url.startswith(SCHEME):
        u = parse_sentinel_url(o.redis_url)
        r = _AsyncSentinel(u, o.timeout).master_for(u.master, redis_class=redis.asyncio.Redis,
                                                    **_conn_kwargs(u, o.timeout))
        return cast("redis.asyncio.Redis[bytes]", r)
    try:
        return redis.asyncio.Redis.from_url(o.redis_url, socket_timeout=o.timeout,
                                            socket_connect_timeout=o.timeout)
    except ValueError as e:
        raise _bad(str(e)) from None
