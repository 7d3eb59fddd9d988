/**
 * Jobs and their envelopes: checks, msgpack encoding, uniqueness material.
 * Pure (no I/O). The checks and codes follow the C library
 * (producer/client.c, common/model/wh_env.c); keys go in the contract's
 * order, so a job encodes to the same bytes as from C and Python, and the
 * golden vectors of schemas/vectors pin those bytes down.
 *
 * JavaScript has one number type: a safe integer (even written 1.0) is
 * encoded as a msgpack int, any other number as a float64.
 */
import { randomBytes } from 'node:crypto';
import { Encoder } from '@msgpack/msgpack';
import { WharfError } from './errors.js';

export const SCHEMA_VERSION = 1;
export const FAMILIES = ['system', 'runtime', 'registry', 'provision'] as const;
/** jobs.max_body by default: workers dead-letter bigger bodies, bytes. */
export const MAX_BODY = 1048576;
const MAX_DEPTH = 32; // containers, the envelope map included (decode rule 2)

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const TYPE_RE = /^[a-z][a-z0-9_]{0,31}\.[a-z][a-z0-9_.]{0,63}$/;
const TARGET_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const LOCK_RE = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$/;
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A JSON value, as job args hold them. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type Args = { [key: string]: JsonValue };

/** Everything submit() takes besides type and args; all optional. */
export interface SubmitOptions {
  /** [A-Za-z0-9_-]{1,64}; a new random id when absent. The idempotency key. */
  id?: string;
  /** An inventory host name. */
  target?: string;
  /** 1..100; the deployment's default when absent. */
  maxAttempts?: number;
  /** 1..2592000 s; the type's default when absent. */
  timeoutS?: number;
  /** Run no earlier: ms since the epoch, or a Date. A future time parks the job as `scheduled`. */
  runAt?: number | Date;
  /** 0..9, higher first where the queue supports it. */
  priority?: number;
  /** 1..2592000 s: while an equal job (type, target, args) is live, submit returns it. */
  uniqueForS?: number;
  /** A resource key: jobs sharing it never run at the same time. */
  lock?: string;
  /** Free-form labels: at most 64, keys 1..64 and values up to 1024 bytes. */
  meta?: Record<string, string>;
}

/** A job for submitMany(). */
export interface JobSpec extends SubmitOptions {
  type: string;
  args?: Args;
}

/** What a submit did (created false: the id, or an equal live job, existed). */
export interface Submitted {
  id: string;
  created: boolean;
  /** "queued" or "scheduled", or the state of the job that existed. */
  state: string;
}

/**
 * The envelope, its keys in the contract's order (msgpack writes an object's
 * keys in insertion order; none of these is integer-like, so none moves).
 */
export type Envelope = Record<string, unknown>;

// Random bytes for ids, drawn 256 ids' worth at a time.
let pool = Buffer.alloc(0);
let poolAt = 0;

/** A fresh random id: 22 characters of [A-Za-z0-9_-], the first a letter or digit. */
export function newId(): string {
  if (poolAt + 22 > pool.length) {
    pool = randomBytes(22 * 256);
    poolAt = 0;
  }
  let id = ID_ALPHABET[pool[poolAt] % 62];
  for (let i = 1; i < 22; i++) id += ID_ALPHABET[pool[poolAt + i] & 63];
  poolAt += 22;
  return id;
}

function bad(code: 'bad_envelope' | 'bad_args' | 'unknown_type', field: string, msg: string): WharfError {
  return new WharfError(code, msg, field);
}

function optInt(v: number | undefined, name: string, lo: number, hi: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Number.isSafeInteger(v) || v < lo || v > hi) {
    throw bad('bad_envelope', name, `${name}: must be an integer in ${lo}..${hi}`);
  }
  return v;
}

function checkValue(v: unknown, path: string, depth: number): void {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw bad('bad_args', path, `${path}: number is not finite`);
    return;
  }
  if (typeof v !== 'object' || v instanceof Uint8Array || v instanceof Date) {
    throw bad('bad_args', path, `${path}: a ${typeof v} is not a JSON value`);
  }
  if (depth >= MAX_DEPTH) throw bad('bad_args', path, `${path}: nested deeper than ${MAX_DEPTH}`);
  if (Array.isArray(v)) {
    v.forEach((x, i) => checkValue(x, `${path}.${i}`, depth + 1));
    return;
  }
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    checkValue(x, `${path}.${k.slice(0, 64)}`, depth + 1);
  }
}

function checkMeta(meta: Record<string, string>): Record<string, string> {
  const msg = 'meta: keys must be 1..64 and values at most 1024 bytes of UTF-8 text, at most 64 entries';
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw bad('bad_envelope', 'meta', msg);
  const entries = Object.entries(meta);
  if (entries.length > 64) throw bad('bad_envelope', 'meta', msg);
  for (const [k, v] of entries) {
    const kl = Buffer.byteLength(k);
    if (typeof v !== 'string' || kl < 1 || kl > 64 || Buffer.byteLength(v) > 1024) {
      throw bad('bad_envelope', 'meta', msg);
    }
  }
  return { ...meta };
}

function checkType(t: unknown): string {
  if (typeof t !== 'string' || !TYPE_RE.test(t) || !(FAMILIES as readonly string[]).includes(t.split('.')[0])) {
    throw bad('unknown_type', 'type', `type: "${String(t)}" is not family.action of a known family`);
  }
  return t;
}

function runAtMs(v: number | Date | undefined): number | undefined {
  if (v === undefined || v === null) return undefined;
  const ms = v instanceof Date ? v.getTime() : v;
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw bad('bad_envelope', 'run_at', 'run_at: must be ms since the epoch (>= 0) or a Date');
  }
  return ms;
}

/**
 * Check a job like the C library does and return its envelope in the
 * contract's key order (unset options left out). Throws WharfError:
 * unknown_type, bad_envelope (naming the field) or bad_args.
 */
export function checkJob(job: JobSpec, createdAt?: number): Envelope {
  const id = job.id ?? newId();
  if (typeof id !== 'string' || !ID_RE.test(id)) throw bad('bad_envelope', 'id', 'id: must match [A-Za-z0-9_-]{1,64}');
  checkType(job.type);
  const args = job.args ?? {};
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw bad('bad_args', 'args', 'args: must be an object');
  }
  checkValue(args, 'args', 1);
  const env: Envelope = { v: SCHEMA_VERSION, id, type: job.type, args, created_at: createdAt ?? Date.now() };
  if (job.target !== undefined && job.target !== null && job.target !== '') {
    if (typeof job.target !== 'string' || !TARGET_RE.test(job.target)) {
      throw bad('bad_envelope', 'target', 'target: not a valid host name');
    }
    env.target = job.target;
  }
  const maxAttempts = optInt(job.maxAttempts, 'max_attempts', 1, 100);
  if (maxAttempts !== undefined) env.max_attempts = maxAttempts;
  const timeoutS = optInt(job.timeoutS, 'timeout_s', 1, 2592000);
  if (timeoutS !== undefined) env.timeout_s = timeoutS;
  if (job.meta !== undefined && job.meta !== null) env.meta = checkMeta(job.meta);
  const runAt = runAtMs(job.runAt);
  if (runAt) env.run_at = runAt;
  const priority = optInt(job.priority, 'priority', 0, 9);
  if (priority) env.priority = priority;
  const unique = optInt(job.uniqueForS, 'unique_for_s', 1, 2592000);
  if (unique) env.unique_for_s = unique;
  if (job.lock !== undefined && job.lock !== null && job.lock !== '') {
    if (typeof job.lock !== 'string' || !LOCK_RE.test(job.lock)) {
      throw bad('bad_envelope', 'lock',
        'lock: must be 1..200 bytes of A-Z a-z 0-9 . _ : / @ - starting with a letter or digit');
    }
    env.lock = job.lock;
  }
  return env;
}

/** The envelope as msgpack; too_large over maxBody bytes. */
const encoder = new Encoder();

export function encodeEnvelope(env: Envelope, maxBody = MAX_BODY): Buffer {
  const bytes = encoder.encode(env); // a view into the encoder's buffer: copied below
  if (bytes.byteLength > maxBody) {
    throw new WharfError('too_large', `envelope is ${bytes.byteLength} bytes; the limit is ${maxBody}`, 'args');
  }
  return Buffer.from(bytes);
}

/**
 * The exact message body a submit of `job` publishes, with a fixed
 * createdAt (ms): for tests against schemas/vectors and for callers that
 * publish themselves. Throws WharfError like submit().
 */
export function buildEnvelope(job: JobSpec, createdAt: number): Buffer {
  return encodeEnvelope(checkJob(job, createdAt));
}

// ---- uniqueness material (enqueue.lua ARGV[14]) ------------------------------

const ESCAPES: Record<string, string> = {
  '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t',
};

function jsonStr(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    const e = ESCAPES[ch];
    out += e ?? (code < 0x20 ? `\\u${code.toString(16).toUpperCase().padStart(4, '0')}` : ch);
  }
  return out + '"';
}

/**
 * A float as jansson writes it: C's %.17g (computed exactly from the
 * double's bits, rounding half to even like glibc), ".0" added when there is
 * neither a dot nor an exponent, and the exponent without "+" or zeros.
 */
export function jsonReal(x: number): string {
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let e2 = biased - 1075;
  if (biased === 0) e2 = -1074; else mant |= 1n << 52n;
  // x = mant * 2^e2 = digits * 10^-scale exactly
  let digits: bigint;
  let scale: number;
  if (e2 >= 0) {
    digits = mant << BigInt(e2);
    scale = 0;
  } else {
    digits = mant * 5n ** BigInt(-e2);
    scale = -e2;
  }
  let s = digits.toString();
  let exp10 = s.length - 1 - scale;
  if (s.length > 17) {
    const cut = BigInt(s.length - 17);
    const div = 10n ** cut;
    let q = digits / div;
    const r = digits % div;
    const half = div / 2n;
    if (r > half || (r === half && (q & 1n) === 1n)) q += 1n;
    s = q.toString();
    if (s.length > 17) { // rounded up to a power of ten
      s = s.slice(0, 17);
      exp10 += 1;
    }
  }
  s = s.replace(/0+$/, '') || '0';
  let out: string;
  if (exp10 < -4 || exp10 >= 17) {
    out = (s.length > 1 ? `${s[0]}.${s.slice(1)}` : s) + `e${exp10}`;
  } else if (exp10 >= 0) {
    const int = s.slice(0, exp10 + 1).padEnd(exp10 + 1, '0');
    const frac = s.slice(exp10 + 1);
    out = frac ? `${int}.${frac}` : `${int}.0`;
  } else {
    out = `0.${'0'.repeat(-exp10 - 1)}${s}`;
  }
  return (x < 0 ? '-' : '') + out;
}

function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Compact JSON with object keys sorted by their UTF-8 bytes, exactly as the
 * C library's jansson writes it (JSON_COMPACT | JSON_SORT_KEYS), for the
 * values as msgpack carries them: safe integers as ints, other numbers as
 * floats. The uniqueness key of a job is then the same from any client.
 */
export function canonicalJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'number') return Number.isSafeInteger(v) ? String(v === 0 ? 0 : v) : jsonReal(v);
  if (typeof v === 'string') return jsonStr(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(v as Record<string, unknown>).sort(byUtf8);
  return `{${keys.map((k) => `${jsonStr(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** type NUL target NUL canonical-args-JSON, hashed by enqueue.lua. */
export function uniqueMaterial(env: Envelope): Buffer {
  const target = (env.target as string | undefined) ?? '';
  return Buffer.from(`${env.type as string}\0${target}\0${canonicalJson(env.args)}`, 'utf8');
}
