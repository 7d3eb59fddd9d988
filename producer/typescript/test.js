'use strict';
/**
 * Tests of wharf-client.js.
 *
 * Unit tests always run. The end-to-end tests need a RabbitMQ vhost and a
 * Redis prefix with a wharf-worker (family "system") running on them, given
 * by WHARF_AMQP_URL, WHARF_REDIS_URL and WHARF_REDIS_PREFIX (run_test.py
 * sets all of that up); without WHARF_AMQP_URL they are skipped.
 *
 * Prints one line per test and a final "N passed, M failed" line; exits 1 if
 * anything failed.
 */

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const wharf = require('./wharf-client');

const VECTORS = path.join(__dirname, '..', '..', 'schemas', 'vectors');
const WAIT_S = 30;

const tests = [];
function test(name, fn, { e2e = false } = {}) {
  tests.push({ name, fn, e2e });
}

// ---- unit tests -----------------------------------------------------------

test('newId gives 22 url-safe chars and no repeats', () => {
  const seen = new Set();
  for (let i = 0; i < 1000; i++) {
    const id = wharf.newId();
    assert.match(id, /^[A-Za-z0-9_-]{22}$/);
    seen.add(id);
  }
  assert.equal(seen.size, 1000);
});

test('buildEnvelope rejects what the contract rejects', () => {
  const bad = [
    ['system.noop', {}, { id: 'a:b' }],
    ['system.noop', {}, { id: 'job\n' }],
    ['system.noop', {}, { id: 'x'.repeat(65) }],
    ['System.noop', {}, {}],
    ['system.noop', [], {}],
    ['system.noop', {}, { target: 'a b' }],
    ['system.noop', {}, { maxAttempts: 0 }],
    ['system.noop', {}, { maxAttempts: 1.5 }],
    ['system.noop', {}, { timeoutS: 2592001 }],
    ['system.noop', {}, { meta: { k: 1 } }],
    ['system.noop', {}, { meta: { ['k'.repeat(65)]: 'v' } }],
    ['system.noop', {}, { meta: { k: '\u00e9'.repeat(513) } }], // 1026 bytes
  ];
  for (const [type, args, opts] of bad) {
    assert.throws(() => wharf.buildEnvelope(type, args, opts),
      (e) => e instanceof RangeError || e instanceof TypeError,
      JSON.stringify([type, args, opts]));
  }
});

test('encoding is byte-identical to the golden vectors', () => {
  const cases = [
    ['ok_noop_minimal', 'system.noop', {}],
    ['ok_sleep_minimal', 'system.sleep', { ms: 10 }],
    ['ok_fail_full', 'system.fail', { code: 'boom', message: 'm', transient: false }],
    ['ok_log_minimal', 'system.log', { lines: 3 }],
  ];
  for (const [name, type, args] of cases) {
    const want = fs.readFileSync(path.join(VECTORS, `${name}.msgpack`));
    const doc = JSON.parse(fs.readFileSync(path.join(VECTORS, `${name}.json`), 'utf8'));
    const env = wharf.buildEnvelope(type, args,
      { id: doc.value.id, createdAt: doc.value.created_at });
    assert.deepEqual(env, doc.value, name);
    assert.ok(wharf.encodeEnvelope(env).equals(want), `${name}: bytes differ`);
  }
});

test('publish options follow the contract', () => {
  const o = wharf.publishOptions('abc', 'system.noop');
  assert.equal(o.contentType, 'application/msgpack');
  assert.equal(o.deliveryMode, 2);
  assert.equal(o.messageId, 'abc');
  assert.equal(o.type, 'system.noop');
  assert.equal(o.mandatory, true);
  assert.deepEqual(o.headers['wharf-schema'], { '!': 'int', value: 1 });
});

// ---- end-to-end tests -------------------------------------------------------

let conn = null;
let redis = null;
const prefix = process.env.WHARF_REDIS_PREFIX || 'wharf:';

test('noop succeeds with its args as result', async () => {
  const id = await wharf.enqueue(conn, 'system.noop', { x: 1, s: 'str', a: [1, 2] });
  const h = await wharf.wait(redis, id, WAIT_S, { prefix });
  assert.equal(h.state, 'succeeded', JSON.stringify(h));
  assert.equal(h.id, id);
  assert.equal(h.type, 'system.noop');
  assert.deepEqual(wharf.result(h), { x: 1, s: 'str', a: [1, 2] });
  assert.deepEqual(await wharf.status(redis, id, prefix), h);
}, { e2e: true });

test('fail ends failed with its code', async () => {
  const id = await wharf.enqueue(conn, 'system.fail', { code: 'boom', message: 'm' },
    { maxAttempts: 2, meta: { from: 'test.js' } });
  const h = await wharf.wait(redis, id, WAIT_S, { prefix });
  assert.equal(h.state, 'failed', JSON.stringify(h));
  assert.equal(h.error, 'boom');
}, { e2e: true });

test('own id and a ConfirmChannel work too', async () => {
  const ch = await conn.createConfirmChannel();
  try {
    const id = wharf.newId();
    assert.equal(await wharf.enqueue(ch, 'system.sleep', { ms: 5 }, { id, target: 'host-1' }), id);
    const h = await wharf.wait(redis, id, WAIT_S, { prefix });
    assert.equal(h.state, 'succeeded', JSON.stringify(h));
  } finally {
    await ch.close();
  }
}, { e2e: true });

test('unroutable family rejects with EnqueueError', async () => {
  await assert.rejects(wharf.enqueue(conn, 'nosuchfamily.x', {}), wharf.EnqueueError);
}, { e2e: true });

test('status of an unknown id is null; wait times out', async () => {
  assert.equal(await wharf.status(redis, 'no-such-job', prefix), null);
  await assert.rejects(wharf.wait(redis, 'no-such-job', 0.3, { prefix }), wharf.WaitTimeout);
}, { e2e: true });

// ---- runner -----------------------------------------------------------------

async function main() {
  const e2e = Boolean(process.env.WHARF_AMQP_URL);
  if (e2e) {
    const amqp = require('amqplib');
    const Redis = require('ioredis');
    conn = await amqp.connect(process.env.WHARF_AMQP_URL);
    redis = new Redis(process.env.WHARF_REDIS_URL || 'redis://127.0.0.1:6379/0');
  }
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  try {
    for (const t of tests) {
      if (t.e2e && !e2e) {
        skipped++;
        console.log(`skip ${t.name} (WHARF_AMQP_URL not set)`);
        continue;
      }
      try {
        await t.fn();
        passed++;
        console.log(`ok   ${t.name}`);
      } catch (err) {
        failed++;
        console.log(`FAIL ${t.name}\n${err && err.stack ? err.stack : err}`);
      }
    }
  } finally {
    if (conn) await conn.close();
    if (redis) redis.disconnect();
  }
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  return failed === 0 ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }, (err) => {
  console.error(err);
  console.log('0 passed, 1 failed');
  process.exitCode = 1;
});
