/**
 * The wharf client for Node.js: amqplib for RabbitMQ, ioredis for Redis.
 *
 * A submit is what the C library does (producer/client.c): check and encode
 * the envelope, run enqueue.lua (creates the `queued` hash only for a new
 * id), publish with mandatory routing on a confirm channel and wait for the
 * confirm; a nack, a return, a timeout or a lost connection runs
 * unenqueue.lua, so a failed submit leaves nothing behind and the same id
 * may be submitted again. A lost broker connection is made again by the
 * next submit; Redis reconnects in the background, and a command waits for
 * it at most the client's timeout.
 */
import { Redis } from 'ioredis';
import { Broker, brokerError, withTimeout } from './broker.js';
import { newRedis } from './redisconn.js';
import { checkOptions, ClientOptions, fromEnv, Options } from './config.js';
import { Args, checkJob, encodeEnvelope, Envelope, JobSpec, Submitted, SubmitOptions } from './envelope.js';
import { BatchError, WharfError } from './errors.js';
import { Events } from './events.js';
import * as m from './model.js';

type Outcome = Submitted | WharfError;
type Encoded = [number, Envelope, Buffer];

export function redisError(e: unknown): WharfError {
  if (e instanceof WharfError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new WharfError('redis_error', `redis: ${msg.slice(0, 200)}`);
}

export class Client {
  private broker: Broker | null = null;
  private connecting: Promise<Broker> | null = null;

  private constructor(readonly options: Options, private readonly redis: Redis) {}

  /**
   * Connect to RabbitMQ and Redis (the contract's local defaults for URLs
   * not given) and declare the topology. Rejects with a WharfError
   * (broker_error, redis_error, bad_config) within the timeout.
   */
  static async connect(opts: ClientOptions = {}): Promise<Client> {
    const o = checkOptions(opts);
    const t = o.timeoutMs;
    const redis = newRedis(o.redisUrl, t);
    redis.on('error', () => {}); // surfaced by the calls
    const c = new Client(o, redis);
    try {
      await c.call(() => redis.ping());
      await c.connectBroker();
    } catch (e) {
      await c.close();
      throw e;
    }
    return c;
  }

  /**
   * A client configured from WHARF_AMQP_URL, WHARF_REDIS_URL,
   * WHARF_REDIS_PREFIX (and WHARF_AMQP_QUEUE_TYPE, WHARF_AMQP_MAX_PRIORITY,
   * WHARF_JOBS_MAX_ATTEMPTS, WHARF_JOBS_TTL_S), as the CLI reads them;
   * options given win over the environment.
   */
  static async fromEnv(env: Record<string, string | undefined> = process.env,
    opts: ClientOptions = {}): Promise<Client> {
    return Client.connect({ ...fromEnv(env), ...opts });
  }

  async close(): Promise<void> {
    const b = this.broker;
    this.broker = null;
    if (b) await b.close();
    this.redis.disconnect();
  }

  /** A Redis call under the client's timeout, its failures as redis_error. */
  private async call<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await withTimeout(f(), this.options.timeoutMs,
        () => new WharfError('redis_error', `redis: no answer in ${this.options.timeoutMs} ms`));
    } catch (e) {
      throw redisError(e);
    }
  }

  private async connectBroker(): Promise<Broker> {
    if (this.broker && this.broker.alive()) return this.broker;
    if (!this.connecting) {
      const old = this.broker;
      this.broker = null;
      if (old) void old.close();
      this.connecting = Broker.connect(this.options)
        .then((b) => { this.broker = b; return b; })
        .finally(() => { this.connecting = null; });
    }
    return this.connecting;
  }

  private async evalScript(s: m.Script, args: m.RedisArg[]): Promise<unknown> {
    return this.call(async () => {
      try {
        return await this.redis.evalsha(s.sha, ...(args as [number, ...Array<string | Buffer>]));
      } catch (e) {
        if (!String((e as Error).message).startsWith('NOSCRIPT')) throw e;
        await this.redis.script('LOAD', s.text);
        return this.redis.evalsha(s.sha, ...(args as [number, ...Array<string | Buffer>]));
      }
    });
  }

  /** One pipelined round trip; a script cache lost to a restart is loaded and the refused calls made again. */
  private async evalMany(s: m.Script, calls: m.RedisArg[][]): Promise<unknown[]> {
    const replies = await this.call(async () => {
      const p = this.redis.pipeline();
      for (const args of calls) p.evalsha(s.sha, ...(args as [number, ...Array<string | Buffer>]));
      return (await p.exec()) ?? [];
    });
    const out: unknown[] = [];
    for (let i = 0; i < calls.length; i++) {
      const [err, res] = replies[i] ?? [new Error('no reply'), null];
      if (!err) out.push(res);
      else if (String(err.message).startsWith('NOSCRIPT')) out.push(await this.evalScript(s, calls[i]));
      else throw redisError(err);
    }
    return out;
  }

  // ---- submit ----------------------------------------------------------------

  /**
   * Submit one job and wait for the broker's confirm. Idempotent on the id:
   * an existing id (or, with uniqueForS, an equal live job) publishes
   * nothing and reports the state found (created false).
   */
  async submit(type: string, args: Args = {}, opts: SubmitOptions = {}): Promise<Submitted> {
    const out = (await this.submitAll([{ ...opts, type, args }]))[0];
    if (out instanceof WharfError) throw out;
    return out;
  }

  /**
   * Submit jobs with one Redis round trip and their confirms in flight
   * together. Rejects with a BatchError (its `results` say what became of
   * each job) when any failed; the others are enqueued.
   */
  async submitMany(jobs: JobSpec[]): Promise<Submitted[]> {
    const outs = await this.submitAll(jobs);
    const first = outs.find((o): o is WharfError => o instanceof WharfError);
    if (first) throw new BatchError<Submitted>(first, outs);
    return outs as Submitted[];
  }

  private async submitAll(jobs: JobSpec[]): Promise<Outcome[]> {
    // Every slot is filled below: an error here, or the enqueue's outcome.
    const outs: Outcome[] = new Array<Outcome>(jobs.length);
    const encoded: Encoded[] = [];
    jobs.forEach((job, i) => {
      try {
        const env = checkJob(job);
        encoded.push([i, env, encodeEnvelope(env, this.options.maxBody)]);
      } catch (e) {
        outs[i] = e instanceof WharfError ? e : new WharfError('bad_args', String(e), 'args');
      }
    });
    const now = Date.now();
    const calls = encoded.map(([, env, body]) => m.enqueueCall(this.options.prefix, env, body,
      this.options.maxAttempts, now));
    let replies: unknown[];
    try {
      replies = calls.length ? await this.evalMany(m.SCRIPTS.enqueue, calls) : [];
    } catch (e) {
      const err = redisError(e);
      for (const [i] of encoded) outs[i] = err;
      return outs;
    }
    const toPublish: Encoded[] = [];
    encoded.forEach((item, k) => {
      const s = m.enqueueResult(replies[k]);
      outs[item[0]] = s;
      if (s.created && s.state === 'queued') toPublish.push(item);
    });
    if (toPublish.length) await this.publish(toPublish, outs);
    return outs;
  }

  private async publish(items: Encoded[], outs: Outcome[]): Promise<void> {
    let errs: Array<WharfError | null>;
    try {
      const b = await this.connectBroker();
      errs = await b.publishAll(items.map(([, env, body]) => [env, body]));
    } catch (e) {
      errs = items.map(() => brokerError(e));
    }
    const failed: string[] = [];
    items.forEach(([i, env], k) => {
      const e = errs[k];
      if (e) {
        outs[i] = e;
        failed.push(env.id as string);
      }
    });
    // After a nack (mostly a quorum queue that lost its leader) or a timeout
    // the next submit starts on a fresh connection, as the C library does.
    if (errs.some((e) => e && e.code !== 'unroutable') && this.broker) {
      const b = this.broker;
      this.broker = null;
      void b.close();
    }
    if (failed.length) {
      await this.evalMany(m.SCRIPTS.unenqueue, failed.map((id) => m.unenqueueCall(this.options.prefix, id)))
        .catch(() => {});
    }
  }

  // ---- reading ---------------------------------------------------------------

  /** The job: numeric fields as numbers, `result` decoded (as GET /v1/jobs/{id}). Rejects not_found. */
  async status(id: string): Promise<m.JobStatus> {
    m.checkId(id);
    const h = await this.call(() => this.redis.hgetall(m.keyJob(this.options.prefix, id)));
    return m.jobJson(id, h);
  }

  /** The job's result decoded from JSON; null while it has none. Rejects not_found. */
  async result<T = unknown>(id: string): Promise<T | null> {
    const s = await this.status(id);
    return s.result === undefined ? null : (s.result as T);
  }

  private async state(id: string): Promise<string> {
    const st = await this.call(() => this.redis.hget(m.keyJob(this.options.prefix, id), 'state'));
    if (st === null) throw new WharfError('not_found', `no job with id "${id}"`, 'id');
    return st;
  }

  /**
   * Wait up to timeoutMs (default 30000; null: no limit) for a terminal
   * state and resolve to the final job. Rejects timeout (the job as last
   * read in the error's `last`) or not_found.
   */
  async wait(id: string, opts: { timeoutMs?: number | null } = {}): Promise<m.JobStatus> {
    m.checkId(id);
    const timeoutMs = opts.timeoutMs === undefined ? 30000 : opts.timeoutMs;
    const deadline = timeoutMs === null ? Infinity : Date.now() + timeoutMs;
    const evs = this.events([id]);
    try {
      await evs.ready(); // subscribed first, so no change slips by
      for (;;) {
        const h = await this.status(id);
        if (m.TERMINAL.has(h.state)) return h;
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new WharfError('timeout', `job ${id} is still ${h.state} after ${timeoutMs} ms`, '', h);
        }
        await evs.next(Math.min(left, 500));
      }
    } finally {
      evs.close();
    }
  }

  /** The job's log lines (at most 10,000), or its last `tail` lines. Rejects not_found. */
  async logs(id: string, opts: { tail?: number } = {}): Promise<m.LogLine[]> {
    m.checkId(id);
    const key = `${m.keyJob(this.options.prefix, id)}:log`;
    const tail = opts.tail && opts.tail > 0 ? Math.min(opts.tail, m.LOG_MAX) : 0;
    const r = await this.call(async () => {
      const p = this.redis.pipeline().exists(m.keyJob(this.options.prefix, id));
      if (tail) p.xrevrange(key, '+', '-', 'COUNT', tail);
      else p.xrange(key, '-', '+', 'COUNT', m.LOG_MAX);
      return (await p.exec()) ?? [];
    });
    for (const [err] of r) if (err) throw redisError(err);
    const entries = (r[1][1] ?? []) as Array<[string, string[]]>;
    if (!r[0][1] && entries.length === 0) throw new WharfError('not_found', `no job with id "${id}"`, 'id');
    const lines = entries.map(m.logLine);
    return tail ? lines.reverse() : lines;
  }

  private async page(key: string, x: m.XPage): Promise<Array<m.LogLine | m.LogGap>> {
    const r = await this.call(async () => {
      const t = this.redis.multi();
      for (const [cmd, ...args] of x.commands(key)) t.call(cmd, ...args);
      return (await t.exec()) ?? [];
    });
    return x.page(r[0]?.[0] ? null : r[0]?.[1], r[1]?.[0] ? null : r[1]?.[1]);
  }

  /**
   * Every log line of the job, then new ones as they come, until the job is
   * finished and all were read (as `wharf logs -f`). Lines the stream's cap
   * removed before they were read come as one LogGap where they were.
   */
  async *followLogs(id: string): AsyncGenerator<m.LogLine | m.LogGap, void, undefined> {
    m.checkId(id);
    const key = `${m.keyJob(this.options.prefix, id)}:log`;
    const x = new m.XPage();
    let state = await this.state(id);
    const blockMs = Math.max(1, Math.min(1000, Math.floor(this.options.timeoutMs / 2)));
    for (;;) {
      const page = await this.page(key, x);
      yield* page;
      if (page.some((p) => p.kind === 'line')) continue;
      if (m.TERMINAL.has(state)) return;
      await this.call(() => this.redis.xread('COUNT', 1, 'BLOCK', blockMs, 'STREAMS', key, x.last));
      state = await this.state(id);
    }
  }

  // ---- control ---------------------------------------------------------------

  /**
   * Cancel a job: "cancelled" when it had not started (it never runs),
   * "running" when its worker was asked to stop it. Rejects not_found, or
   * conflict when it already finished.
   */
  async cancel(id: string): Promise<'cancelled' | 'running'> {
    m.checkId(id);
    const rep = await this.evalScript(m.SCRIPTS.cancel, m.cancelCall(this.options.prefix, id, this.options.jobTtlS));
    return m.cancelResult(id, rep);
  }

  /**
   * A subscription to state changes on the events channel (of the jobs
   * `ids` only, when given): `for await (const ev of client.events([id]))`,
   * or `await evs.next(timeoutMs)`; close() it when done.
   */
  events(ids?: Iterable<string>): Events {
    return new Events(this.redis.duplicate(), `${this.options.prefix}events`, ids, this.options.timeoutMs);
  }
}
