'use strict';
/**
 * wharf-client: enqueue wharf jobs from Node.js and follow their status.
 *
 * Speaks wire contract v1 (see schemas/README.md). Dependencies: amqplib,
 * @msgpack/msgpack, ioredis.
 *
 *   const amqp = require('amqplib');
 *   const Redis = require('ioredis');
 *   const wharf = require('./wharf-client');
 *
 *   const conn = await amqp.connect(AMQP_URL);
 *   const redis = new Redis(REDIS_URL);
 *   const id = await wharf.enqueue(conn, 'system.sleep', { ms: 100 });
 *   const final = await wharf.wait(redis, id, 30);   // seconds
 *   console.log(final.state);                        // 'succeeded'
 *
 * Notes
 *  - The client chooses the job id (newId() unless given); it is the
 *    idempotency key.
 *  - enqueue() talks to RabbitMQ only: the Redis job hash appears when a
 *    worker receives the job, so status() may return null until then.
 *  - JavaScript has one number type: whole numbers (even written 1.0) are
 *    encoded as msgpack ints, others as float64.
 */

const crypto = require('node:crypto');
const { encode } = require('@msgpack/msgpack');

const SCHEMA_VERSION = 1;
const EXCHANGE = 'wharf.jobs';
const CONTENT_TYPE = 'application/msgpack';
const DEFAULT_PREFIX = 'wharf:';

/** States after which a job hash no longer changes. */
const TERMINAL_STATES = new Set(['succeeded', 'failed', 'dead', 'cancelled']);

// Envelope rules from the contract. JavaScript's $ (without the m flag)
// matches only at the very end, so a trailing newline is rejected.
const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const TYPE_RE = /^[a-z][a-z0-9_]{0,31}\.[a-z][a-z0-9_.]{0,63}$/;
const TARGET_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** The broker did not take the job (returned as unroutable, or nacked). */
class EnqueueError extends Error {
  constructor(message) {
    super(message);
    this.name = 'EnqueueError';
  }
}

/** wait() gave up; `last` is the job hash as last read (or null). */
class WaitTimeout extends Error {
  constructor(message, last) {
    super(message);
    this.name = 'WaitTimeout';
    this.last = last;
  }
}

/** A fresh random job id: 22 chars of [A-Za-z0-9_-] (128 random bits). */
function newId() {
  return crypto.randomBytes(16).toString('base64url');
}

function isInt(x) {
  return Number.isSafeInteger(x);
}

function utf8Length(s) {
  return Buffer.byteLength(s, 'utf8');
}

/**
 * Build and check a v1 envelope; throws RangeError/TypeError if invalid.
 * Optional fields that are undefined or null are left out.
 */
function buildEnvelope(type, args, opts = {}) {
  const id = opts.id ?? newId();
  if (typeof id !== 'string' || !ID_RE.test(id)) {
    throw new RangeError(`id must match [A-Za-z0-9_-]{1,64}: ${JSON.stringify(id)}`);
  }
  if (typeof type !== 'string' || !TYPE_RE.test(type)) {
    throw new RangeError(`type must look like family.name: ${JSON.stringify(type)}`);
  }
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    throw new TypeError('args must be a plain object');
  }
  const createdAt = opts.createdAt ?? Date.now();
  if (!isInt(createdAt) || createdAt < 0) {
    throw new RangeError('createdAt must be an integer >= 0 (ms since epoch)');
  }
  const env = { v: SCHEMA_VERSION, id, type, args, created_at: createdAt };

  if (opts.target != null) {
    if (typeof opts.target !== 'string' || !TARGET_RE.test(opts.target)) {
      throw new RangeError(`invalid target: ${JSON.stringify(opts.target)}`);
    }
    env.target = opts.target;
  }
  if (opts.maxAttempts != null) {
    if (!isInt(opts.maxAttempts) || opts.maxAttempts < 1 || opts.maxAttempts > 100) {
      throw new RangeError('maxAttempts must be an integer in 1..100');
    }
    env.max_attempts = opts.maxAttempts;
  }
  if (opts.timeoutS != null) {
    if (!isInt(opts.timeoutS) || opts.timeoutS < 1 || opts.timeoutS > 2592000) {
      throw new RangeError('timeoutS must be an integer in 1..2592000');
    }
    env.timeout_s = opts.timeoutS;
  }
  if (opts.meta != null) {
    env.meta = checkMeta(opts.meta);
  }
  return env;
}

function checkMeta(meta) {
  if (typeof meta !== 'object' || Array.isArray(meta)) {
    throw new TypeError('meta must be an object of strings');
  }
  const entries = Object.entries(meta);
  if (entries.length > 64) throw new RangeError('meta has more than 64 entries');
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw new TypeError(`meta value ${k} is not a string`);
    const kl = utf8Length(k);
    if (kl < 1 || kl > 64) throw new RangeError(`meta key must be 1..64 bytes: ${k}`);
    if (utf8Length(v) > 1024) throw new RangeError(`meta value ${k} is over 1024 bytes`);
  }
  return { ...meta };
}

/** Encode an envelope as msgpack (a Buffer). */
function encodeEnvelope(env) {
  const bytes = encode(env);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The AMQP publish options the contract requires for a job. */
function publishOptions(id, type) {
  return {
    contentType: CONTENT_TYPE,
    deliveryMode: 2, // persistent
    messageId: id,
    type,
    mandatory: true,
    // An AMQP integer. amqplib would pick the narrowest width (8-bit) for a
    // plain 1; say 32-bit explicitly, like most other clients do.
    headers: { 'wharf-schema': { '!': 'int', value: SCHEMA_VERSION } },
  };
}

// Confirm channel per connection, opened by enqueue() on first use. A
// WeakMap keeps it exactly as long as the connection.
const confirmChannels = new WeakMap();

/**
 * Per confirm channel: message ids that the broker returned as unroutable.
 * A basic.return always arrives before the basic.ack of the same message.
 */
const returnedIds = new WeakMap();

function watchReturns(ch) {
  if (returnedIds.has(ch)) return;
  const ids = new Set();
  returnedIds.set(ch, ids);
  ch.on('return', (msg) => ids.add(msg.properties.messageId));
}

async function confirmChannelFor(chOrConn) {
  if (typeof chOrConn.waitForConfirms === 'function') {
    watchReturns(chOrConn); // already a ConfirmChannel
    return chOrConn;
  }
  if (typeof chOrConn.createConfirmChannel !== 'function') {
    throw new TypeError('expected an amqplib connection or ConfirmChannel '
      + '(a plain Channel cannot publish with confirms)');
  }
  let pending = confirmChannels.get(chOrConn);
  if (!pending) {
    pending = chOrConn.createConfirmChannel().then((ch) => {
      watchReturns(ch);
      // Forget the channel when it closes (e.g. after a channel error).
      ch.on('close', () => confirmChannels.delete(chOrConn));
      ch.on('error', () => {}); // surfaced through the publish callbacks
      return ch;
    });
    pending.catch(() => confirmChannels.delete(chOrConn));
    confirmChannels.set(chOrConn, pending);
  }
  return pending;
}

/**
 * Publish a job; resolves to its id once RabbitMQ has confirmed it.
 *
 * chOrConn: an amqplib connection (a confirm channel is opened on it and
 *   reused) or a ConfirmChannel.
 * type, args: job type ("family.name") and its args object.
 * opts: { target, id, maxAttempts, timeoutS, meta, declareExchange = true }.
 *   declareExchange idempotently declares wharf.jobs (topic, durable) first,
 *   as workers do; queues are never declared here.
 *
 * Rejects with RangeError/TypeError for an invalid envelope and with
 * EnqueueError when the message is returned (no queue bound for the
 * family) or nacked; the job is then not enqueued and may be re-sent with
 * the same id.
 */
async function enqueue(chOrConn, type, args, opts = {}) {
  const env = buildEnvelope(type, args, opts);
  const ch = await confirmChannelFor(chOrConn);
  if (opts.declareExchange !== false) {
    await ch.assertExchange(EXCHANGE, 'topic', { durable: true });
  }
  const family = type.split('.', 1)[0];
  const returned = returnedIds.get(ch);
  await new Promise((resolve, reject) => {
    ch.publish(EXCHANGE, family, encodeEnvelope(env), publishOptions(env.id, type),
      (err) => (err ? reject(new EnqueueError(`job ${env.id} was nacked by the broker`))
        : resolve()));
  });
  if (returned.delete(env.id)) {
    throw new EnqueueError(
      `job ${env.id} was returned: no queue is bound for family '${family}' on this vhost`);
  }
  return env.id;
}

/**
 * The job hash <prefix>job:<id> as an object of strings, or null if it does
 * not exist (not yet received by a worker, expired, or unknown).
 */
async function status(redis, id, prefix = DEFAULT_PREFIX) {
  const h = await redis.hgetall(`${prefix}job:${id}`);
  return h && Object.keys(h).length > 0 ? h : null;
}

/** The decoded JSON result of a job hash, or null. */
function result(jobHash) {
  return jobHash && jobHash.result ? JSON.parse(jobHash.result) : null;
}

/**
 * Resolve with the job hash once the job is in a terminal state
 * (succeeded, failed, dead, cancelled). Subscribes to <prefix>events on a
 * duplicate of `redis` to react at once, and re-reads the hash every
 * pollInterval seconds in case an event is missed. Rejects with WaitTimeout
 * after `timeout` seconds.
 */
async function wait(redis, id, timeout, { prefix = DEFAULT_PREFIX, pollInterval = 0.5 } = {}) {
  const deadline = Date.now() + timeout * 1000;
  const sub = redis.duplicate();
  let wake = null; // resolves the current sleep early
  sub.on('message', (_channel, message) => {
    if (message.split(' ', 1)[0] === id && wake) wake();
  });
  sub.on('error', () => {}); // polling still works without events
  try {
    // Subscribe before the first read so no change can slip in between.
    await sub.subscribe(`${prefix}events`);
    for (;;) {
      const h = await status(redis, id, prefix);
      if (h && TERMINAL_STATES.has(h.state)) return h;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new WaitTimeout(
          `job ${id} not finished after ${timeout}s (state ${h ? h.state : null})`, h);
      }
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, Math.min(remaining, pollInterval * 1000));
        wake = () => { clearTimeout(timer); resolve(); };
      });
      wake = null;
    }
  } finally {
    sub.disconnect();
  }
}

module.exports = {
  SCHEMA_VERSION,
  EXCHANGE,
  TERMINAL_STATES,
  EnqueueError,
  WaitTimeout,
  newId,
  buildEnvelope,
  encodeEnvelope,
  publishOptions,
  enqueue,
  status,
  result,
  wait,
};
