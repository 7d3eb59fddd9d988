/**
 * The client's Redis connection, from its redisUrl.
 *
 * redis://, rediss:// and unix:// URLs go to ioredis as they are. A
 * redis-sentinel://[[user]:password@]host:port[,host:port...]/master[/db] URL
 * (the C library's form, common/adapters/wh_redis_url.c) makes ioredis ask
 * the Sentinels, in order, for the master's address on each (re)connect, so
 * after a failover the next call finds the new master. The credentials are
 * the data nodes'; ioredis offers them to the Sentinels as well, which is how
 * a Sentinel with requirepass must be set up for the C library too.
 */
import { Redis, RedisOptions } from 'ioredis';
import { WharfError } from './errors.js';

const SCHEME = 'redis-sentinel://';
const MAX_SENTINELS = 8; // as the C library (WH_REDIS_SENTINELS)
const NODE = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/;

export interface SentinelUrl {
  sentinels: Array<{ host: string; port: number }>;
  master: string;
  db: number;
  username?: string;
  password?: string;
}

function bad(message: string): WharfError {
  return new WharfError('bad_config', `redisUrl: ${message}`, 'redisUrl');
}

function db(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 1000000) throw bad('bad database number');
  return Number(text);
}

function nodes(text: string): SentinelUrl['sentinels'] {
  const out = text.split(',').map((part) => {
    if (part === '') throw bad('empty entry in the Sentinel list');
    const m = NODE.exec(part);
    const port = m ? Number(m[3]) : 0;
    if (!m || port < 1 || port > 65535) throw bad(`Sentinel "${part.slice(0, 100)}" is not host:port`);
    return { host: m[1] ?? m[2], port };
  });
  if (out.length > MAX_SENTINELS) throw bad(`at most ${MAX_SENTINELS} Sentinels`);
  return out;
}

/** redis-sentinel://[[user]:password@]host:port[,host:port...]/master[/db] as the C library reads it. */
export function parseSentinelUrl(url: string): SentinelUrl {
  const rest = url.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  let authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash + 1);
  const out: Partial<SentinelUrl> = {};
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    authority = authority.slice(at + 1);
    const colon = userinfo.indexOf(':');
    const user = colon >= 0 ? decodeURIComponent(userinfo.slice(0, colon)) : '';
    const pass = decodeURIComponent(colon >= 0 ? userinfo.slice(colon + 1) : userinfo);
    if (user) out.username = user;
    if (pass) out.password = pass;
  }
  if (!authority || slash < 0) throw bad('redis-sentinel:// needs host:port,.../master_name');
  const sentinels = nodes(authority);
  const cut = path.indexOf('/');
  const master = cut < 0 ? path : path.slice(0, cut);
  const dbText = cut < 0 ? '' : path.slice(cut + 1);
  if (!master || master.length > 127) throw bad('missing or overlong master name');
  return { ...out, sentinels, master, db: dbText ? db(dbText) : 0 };
}

/** The client's Redis (not yet connected: lazyConnect); throws bad_config for a bad URL. */
export function newRedis(url: string, timeoutMs: number): Redis {
  const common: RedisOptions = {
    lazyConnect: true, connectTimeout: timeoutMs, commandTimeout: timeoutMs, maxRetriesPerRequest: null,
    retryStrategy: (n: number) => Math.min(50 * n, 500),
  };
  if (url.startsWith(SCHEME)) {
    const u = parseSentinelUrl(url);
    return new Redis({
      ...common, sentinels: u.sentinels, name: u.master, db: u.db, username: u.username, password: u.password,
      sentinelUsername: u.username, sentinelPassword: u.password,
      // Keep asking the Sentinels while none answers (a call still fails in time).
      sentinelRetryStrategy: (n: number) => Math.min(50 * n, 500),
    });
  }
  try {
    return new Redis(url, common);
  } catch (e) {
    throw bad((e as Error).message);
  }
}
