/**
 * The Redis side of the contract, without I/O: keys, the Lua scripts and
 * their arguments, the job hash as JSON, cancel outcomes, log pages and
 * events (common/model: wh_keys, wh_status, wh_jobctl, wh_xpage in C).
 *
 * The scripts are the C library's own (common/model/lua/), embedded in
 * lua.js when the package is built (scripts/build.mjs); a test checks the
 * shipped copies equal the sources. So are the job types' defaults
 * (job_types.js, from producer/job_types.json, the C catalogue's).
 */
import { createHash } from 'node:crypto';
import { canonicalJson, Envelope, Submitted, uniqueMaterial } from './envelope.js';
import { WharfError } from './errors.js';
import { TYPE_DEFAULTS } from './job_types.js';
import { LUA } from './lua.js';

export const TERMINAL: ReadonlySet<string> = new Set(['succeeded', 'failed', 'dead', 'cancelled']);
const NUMERIC = new Set(['attempt', 'max_attempts', 'progress', 'redeliveries', 'created_at', 'queued_at',
  'started_at', 'finished_at', 'run_at', 'priority', 'args_truncated']);
/** Lines logs() returns at most, as GET /v1/jobs/{id}/logs. */
export const LOG_MAX = 10000;
const LOG_PAGE = 1000;

export interface Script {
  name: string;
  text: string;
  sha: string;
}

function script(name: keyof typeof LUA): Script {
  const text = LUA[name];
  return { name, text, sha: createHash('sha1').update(text).digest('hex') };
}

export const SCRIPTS = { enqueue: script('enqueue'), unenqueue: script('unenqueue'), cancel: script('cancel') };

export type RedisArg = string | Buffer | number;

export function keyJob(prefix: string, id: string): string {
  return `${prefix}job:${id}`;
}

/**
 * What a job of `type` that sets no max_attempts records: its type's default
 * in the catalogue, else `configured` (jobs.max_attempts), the order of the C
 * library and the worker.
 */
export function maxAttemptsFor(type: string, configured: number): number {
  const row = Object.prototype.hasOwnProperty.call(TYPE_DEFAULTS, type) ? TYPE_DEFAULTS[type] : undefined;
  return row?.maxAttempts || configured;
}

/**
 * enqueue.lua's keys and arguments for one job, as wh_status_enqueue builds
 * them; `maxAttempts` is the configuration's (the job's own, then its type's
 * default, win over it).
 */
export function enqueueCall(prefix: string, env: Envelope, body: Buffer, maxAttempts: number, nowMs: number): RedisArg[] {
  const id = env.id as string;
  const unique = (env.unique_for_s as number | undefined) ?? 0;
  const runAt = (env.run_at as number | undefined) ?? 0;
  return [3, keyJob(prefix, id), `${prefix}recent`, `${prefix}scheduled`,
    id, env.type as string, (env.target as string | undefined) ?? '', String(env.created_at),
    String(env.max_attempts ?? maxAttemptsFor(env.type as string, maxAttempts)), String(nowMs), `${prefix}events`, String(runAt),
    runAt ? body : '', String(unique), (env.lock as string | undefined) ?? '',
    String(env.priority ?? 0), prefix, unique ? uniqueMaterial(env) : '', '0',
    Buffer.from(canonicalJson(env.args), 'utf8')];
}

export function unenqueueCall(prefix: string, id: string): RedisArg[] {
  return [3, keyJob(prefix, id), `${prefix}recent`, `${prefix}scheduled`, id];
}

export function cancelCall(prefix: string, id: string, ttlS: number): RedisArg[] {
  const k = keyJob(prefix, id);
  return [4, k, `${k}:log`, `${prefix}scheduled`, `${prefix}leases`, id, String(Date.now()), String(ttlS),
    `${prefix}events`];
}

export function enqueueResult(reply: unknown): Submitted {
  const r = reply as [number, string, string];
  return { id: String(r[2]), created: Number(r[0]) === 1, state: String(r[1]) };
}

/** cancel.lua's reply: the state, or not_found / conflict. */
export function cancelResult(id: string, reply: unknown): 'cancelled' | 'running' {
  const r = reply as string[];
  if (r[0] === 'missing') throw new WharfError('not_found', `no job with id "${id}"`, 'id');
  if (r[0] === 'finished') throw new WharfError('conflict', `job ${id} already finished: it is ${r[1]}`, 'id');
  return r[0] === 'cancelled' ? 'cancelled' : 'running';
}

/**
 * A job as GET /v1/jobs/{id} and wharf_status_json give it: the hash's
 * fields, numeric ones as numbers and `result` and `args` as their JSON values.
 */
export interface JobStatus {
  id: string;
  type: string;
  state: string;
  attempt?: number;
  max_attempts?: number;
  progress?: number;
  created_at?: number;
  queued_at?: number;
  started_at?: number;
  finished_at?: number;
  result?: unknown;
  args?: unknown;
  error?: string;
  error_message?: string;
  [field: string]: unknown;
}

export function jobJson(id: string, h: Record<string, string>): JobStatus {
  if (!h || Object.keys(h).length === 0) throw new WharfError('not_found', `no job with id "${id}"`, 'id');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h)) {
    out[k] = v;
    if (NUMERIC.has(k) && /^[+-]?\d+$/.test(v.trim())) out[k] = Number(v);
    else if (k === 'result' || k === 'args') {
      try { out[k] = JSON.parse(v); } catch { /* kept as text */ }
    }
  }
  return out as JobStatus;
}

export function checkId(id: unknown): string {
  if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
    throw new WharfError('not_found', `"${String(id).slice(0, 64)}" is not a job id`, 'id');
  }
  return id;
}

// ---- logs --------------------------------------------------------------------

/** One log line: stream entry id, stream (out, err or sys) and text. */
export interface LogLine {
  kind: 'line';
  id: string;
  s: string;
  l: string;
}

/**
 * Lines the stream's cap (jobs.log_max_lines) removed before they were read:
 * `missing` of them (null: some, number unknown), where they were.
 */
export interface LogGap {
  kind: 'gap';
  missing: number | null;
  message: string;
}

export function logGap(missing: number | null): LogGap {
  const message = missing === null
    ? 'lines were trimmed here (the stream keeps the newest jobs.log_max_lines)'
    : `${missing} ${missing === 1 ? 'line was' : 'lines were'} trimmed here (the stream keeps the newest jobs.log_max_lines)`;
  return { kind: 'gap', missing, message };
}

type Entry = [string, string[]];

export function logLine(e: Entry): LogLine {
  const f = e[1] ?? [];
  let s = 'out';
  let l = '';
  for (let i = 0; i + 1 < f.length; i += 2) {
    if (f[i] === 's') s = f[i + 1];
    else if (f[i] === 'l') l = f[i + 1];
  }
  return { kind: 'line', id: e[0], s, l };
}

function idKey(id: string): [bigint, bigint] {
  const [ms, seq] = id.split('-');
  return [BigInt(ms || 0), BigInt(seq || 0)];
}

function idLess(a: string, b: string): boolean {
  const [am, as] = idKey(a);
  const [bm, bs] = idKey(b);
  return am !== bm ? am < bm : as < bs;
}

/**
 * A reader's place in a capped log stream, as wh_xpage keeps it: the last
 * entry consumed and the number of the next expected, so entries the cap
 * removed are noticed (XINFO STREAM's entries-added numbers them all).
 */
export class XPage {
  last = '0-0';
  next = 0;

  /** The commands of one page, for one MULTI. */
  commands(key: string): string[][] {
    return [['XINFO', 'STREAM', key], ['XRANGE', key, `(${this.last}`, '+', 'COUNT', String(LOG_PAGE)]];
  }

  /** One MULTI's replies (null info: no stream yet) as a gap and lines. */
  page(info: unknown, entries: unknown): Array<LogLine | LogGap> {
    if (!Array.isArray(info) || !Array.isArray(entries)) return [];
    const d: Record<string, unknown> = {};
    for (let i = 0; i + 1 < info.length; i += 2) d[String(info[i])] = info[i + 1];
    const oldest = Number(d['entries-added'] ?? 0) - Number(d.length ?? 0) + 1;
    const first = d['first-entry'] as Entry | null | undefined;
    const behind = Boolean(first) && idLess(this.last, (first as Entry)[0]);
    let missing: number | null = 0;
    if (this.next) {
      if (behind && this.next < oldest) {
        missing = oldest - this.next;
        this.next = oldest;
      }
    } else if (this.last === '0-0') {
      missing = oldest - 1;
      this.next = oldest;
    } else if (behind) {
      missing = null;
      this.next = oldest;
    }
    const out: Array<LogLine | LogGap> = missing !== 0 ? [logGap(missing)] : [];
    for (const e of entries as Entry[]) {
      const line = logLine(e);
      this.last = line.id;
      out.push(line);
    }
    if (this.next) this.next += entries.length;
    return out;
  }
}

// ---- events ------------------------------------------------------------------

/** A state change: job `id` is now `state` ("cancelling": a cancel of a running job was asked). */
export interface JobEvent {
  id: string;
  state: string;
}

export function parseEvent(text: string): JobEvent | null {
  const sp = text.indexOf(' ');
  return sp > 0 ? { id: text.slice(0, sp), state: text.slice(sp + 1) } : null;
}
