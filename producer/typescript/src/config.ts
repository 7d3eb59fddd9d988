/**
 * Client options, their defaults and the environment, and the AMQP topology
 * every producer declares (common/model/wh_topo.c).
 */
import { FAMILIES } from './envelope.js';
import { WharfError } from './errors.js';

export interface ClientOptions {
  /** One broker URL, or a cluster's nodes separated by commas or spaces, tried in order. */
  amqpUrl?: string;
  /**
   * redis://, rediss:// or unix:// URL, or
   * redis-sentinel://[[user]:password@]host:port[,host:port...]/master[/db] to find the master through Redis
   * Sentinel (as the C library).
   */
  redisUrl?: string;
  /** Redis key prefix of the deployment; default "wharf:". */
  prefix?: string;
  /** How long any call may take against a broker or Redis that does not answer, ms; default 5000. */
  timeoutMs?: number;
  /** How the family queues are declared, as the workers declare them; default "quorum". */
  queueType?: 'quorum' | 'classic';
  /** x-max-priority of classic family queues (amqp.max_priority); default 0. */
  maxPriority?: number;
  /** Recorded for jobs that set none and whose type has no default in the catalogue (jobs.max_attempts); default 3. */
  maxAttempts?: number;
  /** How long a cancelled job's hash is kept (jobs.ttl_s), s; default 604800. */
  jobTtlS?: number;
  /** The largest envelope to send, bytes (jobs.max_body; workers dead-letter bigger ones); default 1048576. */
  maxBody?: number;
}

export type Options = Required<ClientOptions>;

export const DEFAULTS: Options = {
  amqpUrl: 'amqp://guest:guest@127.0.0.1:5672/%2f',
  redisUrl: 'redis://127.0.0.1:6379/0',
  prefix: 'wharf:',
  timeoutMs: 5000,
  queueType: 'quorum',
  maxPriority: 0,
  maxAttempts: 3,
  jobTtlS: 604800,
  maxBody: 1048576,
};

/** WHARF_<SECTION>_<KEY>, as the worker and the CLI read their settings. */
const ENV: Array<[string, keyof ClientOptions, 'str' | 'int']> = [
  ['WHARF_AMQP_URL', 'amqpUrl', 'str'],
  ['WHARF_REDIS_URL', 'redisUrl', 'str'],
  ['WHARF_REDIS_PREFIX', 'prefix', 'str'],
  ['WHARF_AMQP_QUEUE_TYPE', 'queueType', 'str'],
  ['WHARF_AMQP_MAX_PRIORITY', 'maxPriority', 'int'],
  ['WHARF_JOBS_MAX_ATTEMPTS', 'maxAttempts', 'int'],
  ['WHARF_JOBS_TTL_S', 'jobTtlS', 'int'],
  ['WHARF_JOBS_MAX_BODY', 'maxBody', 'int'],
];

export function fromEnv(env: Record<string, string | undefined>): ClientOptions {
  const o: Record<string, unknown> = {};
  for (const [name, field, kind] of ENV) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    if (kind === 'int' && !/^\d+$/.test(v)) throw new WharfError('bad_config', `${name}: not a number`, field);
    o[field] = kind === 'int' ? Number(v) : v;
  }
  return o as ClientOptions;
}

function defined(o: ClientOptions): ClientOptions {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as ClientOptions;
}

export function checkOptions(given: ClientOptions): Options {
  const o: Options = { ...DEFAULTS, ...defined(given) };
  if (o.queueType !== 'quorum' && o.queueType !== 'classic') {
    throw new WharfError('bad_config', 'queueType: must be "quorum" or "classic"', 'queueType');
  }
  if (!Number.isInteger(o.maxPriority) || o.maxPriority < 0 || o.maxPriority > 9) {
    throw new WharfError('bad_config', 'maxPriority: must be 0..9', 'maxPriority');
  }
  if (!Number.isInteger(o.maxAttempts) || o.maxAttempts < 1 || o.maxAttempts > 100) {
    throw new WharfError('bad_config', 'maxAttempts: must be 1..100', 'maxAttempts');
  }
  if (!Number.isInteger(o.maxBody) || o.maxBody < 1024 || o.maxBody > 134217728) {
    throw new WharfError('bad_config', 'maxBody: must be 1024..134217728 bytes', 'maxBody');
  }
  if (!(o.timeoutMs > 0)) throw new WharfError('bad_config', 'timeoutMs: must be > 0', 'timeoutMs');
  if (!o.prefix || o.prefix.length > 64) throw new WharfError('bad_config', 'prefix: must be 1..64 bytes', 'prefix');
  return o;
}

export function amqpUrls(o: Options): string[] {
  return o.amqpUrl.split(/[,\s]+/).filter(Boolean);
}

const RETRY_TIERS = [1000, 5000, 30000, 120000, 600000]; // [retry] tiers, the default

export interface QueueDecl {
  name: string;
  args: Record<string, unknown>;
  exchange: string;
  routingKey: string;
  bindArgs?: Record<string, unknown>;
}

function queueArgs(o: Options, ttlMs: number, family: boolean): Record<string, unknown> {
  const a: Record<string, unknown> = { 'x-queue-type': o.queueType };
  if (family && o.maxPriority > 0) a['x-max-priority'] = o.maxPriority;
  if (ttlMs > 0) {
    a['x-message-ttl'] = ttlMs;
    a['x-dead-letter-exchange'] = 'wharf.jobs';
    if (o.queueType === 'quorum') {
      a['x-dead-letter-strategy'] = 'at-least-once';
      a['x-overflow'] = 'reject-publish';
    }
  }
  return a;
}

/** The queues of wire contract v1 and their bindings, as wh_topo_declare declares them. */
export function topology(o: Options): QueueDecl[] {
  const qs: QueueDecl[] = FAMILIES.map((f) => ({
    name: `wharf.${f}`, args: queueArgs(o, 0, true), exchange: 'wharf.jobs', routingKey: f,
  }));
  qs.push({ name: 'wharf.dead', args: queueArgs(o, 0, false), exchange: '', routingKey: '' });
  for (const t of RETRY_TIERS) {
    qs.push({
      name: `wharf.retry.${t}`, args: queueArgs(o, t, false), exchange: 'wharf.retry', routingKey: '',
      bindArgs: { 'x-match': 'all', 'wharf-retry-ms': String(t) },
    });
  }
  return qs;
}
