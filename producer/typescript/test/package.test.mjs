// Tests of the installed wharf-client package (run_test.py installs the npm
// tarball in a fresh project and runs this file there with `node --test`):
// both module formats, the shipped Lua scripts, the encoder against the
// golden vectors, local checks and canonical JSON. Every operation against
// the servers, in every language, is in tests/clients/test_parity.py.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import * as esm from 'wharf-client';

const SRC = process.env.WHARF_SRC;
const VECTORS = join(SRC, 'schemas', 'vectors');
// Valid vectors no encoder produces, on purpose: they test decoders.
const DECODER_ONLY = new Set(['ok_full_envelope', 'ok_key_order', 'ok_nil_optionals', 'ok_wide_ints']);

test('installed from the tarball, as ESM and as CommonJS', () => {
  const require = createRequire(join(process.cwd(), 'package.json'));
  const resolved = require.resolve('wharf-client');
  assert.match(resolved, /node_modules\/wharf-client\/dist\/cjs\/index\.js$/);
  const cjs = require('wharf-client');
  assert.deepEqual(Object.keys(cjs).sort(), Object.keys(esm).sort());
  assert.equal(typeof esm.Client.connect, 'function');
  assert.equal(typeof cjs.Client.fromEnv, 'function');
});

test('ships the Lua scripts of common/model/lua unchanged', () => {
  for (const name of ['enqueue', 'unenqueue', 'cancel']) {
    assert.equal(esm.LUA[name], readFileSync(join(SRC, 'common', 'model', 'lua', `${name}.lua`), 'utf8'), name);
  }
});

test('ships the job types\' defaults of producer/job_types.json', () => {
  const types = JSON.parse(readFileSync(join(SRC, 'producer', 'job_types.json'), 'utf8')).types;
  assert.deepEqual(Object.keys(esm.TYPE_DEFAULTS).sort(), Object.keys(types).sort());
  for (const [name, d] of Object.entries(types)) {
    assert.deepEqual(esm.TYPE_DEFAULTS[name], { maxAttempts: d.max_attempts, timeoutS: d.timeout_s }, name);
  }
  assert.equal(esm.TYPE_DEFAULTS['runtime.stack.deploy'].maxAttempts, 1); // a deploy runs once
});

test('encodes the golden vectors byte for byte', () => {
  let checked = 0;
  for (const f of readdirSync(VECTORS).filter((n) => n.startsWith('ok_') && n.endsWith('.json'))) {
    const name = f.slice(0, -5);
    if (DECODER_ONLY.has(name)) continue;
    const v = JSON.parse(readFileSync(join(VECTORS, f), 'utf8')).value;
    const want = readFileSync(join(VECTORS, `${name}.msgpack`));
    const job = {
      type: v.type, args: v.args, id: v.id, target: v.target, maxAttempts: v.max_attempts, timeoutS: v.timeout_s,
      runAt: v.run_at, priority: v.priority, uniqueForS: v.unique_for_s, lock: v.lock, meta: v.meta,
    };
    assert.ok(esm.buildEnvelope(job, v.created_at).equals(want), `${name}: bytes differ`);
    checked++;
  }
  assert.ok(checked >= 10, `only ${checked} vectors`);
});

test('local checks name the field', () => {
  const bad = [
    [{ type: 'system.noop', id: 'a:b' }, 'bad_envelope', 'id'],
    [{ type: 'system.noop', id: 'job\n' }, 'bad_envelope', 'id'],
    [{ type: 'System.noop' }, 'unknown_type', 'type'],
    [{ type: 'nosuchfamily.x' }, 'unknown_type', 'type'],
    [{ type: 'system.noop', target: 'a b' }, 'bad_envelope', 'target'],
    [{ type: 'system.noop', maxAttempts: 0 }, 'bad_envelope', 'max_attempts'],
    [{ type: 'system.noop', maxAttempts: 1.5 }, 'bad_envelope', 'max_attempts'],
    [{ type: 'system.noop', timeoutS: 2592001 }, 'bad_envelope', 'timeout_s'],
    [{ type: 'system.noop', priority: 10 }, 'bad_envelope', 'priority'],
    [{ type: 'system.noop', uniqueForS: 0 }, 'bad_envelope', 'unique_for_s'],
    [{ type: 'system.noop', runAt: -1 }, 'bad_envelope', 'run_at'],
    [{ type: 'system.noop', lock: '-x' }, 'bad_envelope', 'lock'],
    [{ type: 'system.noop', meta: { k: 1 } }, 'bad_envelope', 'meta'],
    [{ type: 'system.noop', meta: { k: '\u00e9'.repeat(513) } }, 'bad_envelope', 'meta'],
    [{ type: 'system.noop', args: { f: NaN } }, 'bad_args', 'args.f'],
    [{ type: 'system.noop', args: { b: Buffer.from('x') } }, 'bad_args', 'args.b'],
    [{ type: 'system.noop', args: { x: 'y'.repeat(1 << 20) } }, 'too_large', 'args'],
  ];
  for (const [spec, code, field] of bad) {
    assert.throws(() => esm.buildEnvelope(spec, 0),
      (e) => e instanceof esm.WharfError && e.code === code && e.field === field, JSON.stringify(spec).slice(0, 80));
  }
});

test('canonical JSON is what jansson writes', () => {
  const value = {
    s: 'a"b\\c/\u0001\u001f\u007f\n\t\b\f\r \u00e9 \u2028', f1: 0.1, f2: 1e100, f3: 1.5e-7, f4: -2.5, f6: 0.0001,
    f7: 1e17, B: true, '\u00e9': null, a: -9007199254740991, z: 2.9802322387695312e-8,
  };
  const want = '{"B":true,"a":-9007199254740991,"f1":0.10000000000000001,"f2":1e100,"f3":1.4999999999999999e-7,'
    + '"f4":-2.5,"f6":0.0001,"f7":1e17,"s":"a\\"b\\\\c/\\u0001\\u001F\u007f\\n\\t\\b\\f\\r \u00e9 \u2028",'
    + '"z":2.9802322387695312e-8,"\u00e9":null}';
  assert.equal(esm.canonicalJson(value), want);
});

test('ids are 22 url-safe characters, the first a letter or digit', () => {
  const seen = new Set();
  for (let i = 0; i < 1000; i++) {
    const id = esm.newId();
    assert.match(id, /^[A-Za-z0-9][A-Za-z0-9_-]{21}$/);
    seen.add(id);
  }
  assert.equal(seen.size, 1000);
});

test('a batch is marshaled to the bytes amqplib writes for it', () => {
  // Neither file is a public entry point (package exports), so both are
  // loaded by path: the client's frames.js and amqplib's own encoder.
  const require = createRequire(join(process.cwd(), 'package.json'));
  const { Frames } = require(join(dirname(require.resolve('wharf-client')), 'frames.js'));
  const amqplib = join(dirname(require.resolve('amqplib')), 'lib');
  const defs = require(join(amqplib, 'defs.js'));
  const { publish } = require(join(amqplib, 'api_args.js'));
  const { makeBodyFrame } = require(join(amqplib, 'frame.js'));
  const frameMax = 4096;
  const channel = 3;
  // What ConfirmChannel.publish sends for a message (connection.js sendMessage).
  const reference = (it) => {
    const f = publish('wharf.jobs', it.type.split('.')[0], {
      contentType: 'application/msgpack', deliveryMode: 2, messageId: it.id, type: it.type, mandatory: true,
      headers: { 'wharf-schema': { '!': 'int', value: 1 } }, ...(it.priority > 0 ? { priority: it.priority } : {}),
    });
    const out = [defs.encodeMethod(defs.BasicPublish, channel, f),
      defs.encodeProperties(defs.BasicProperties, channel, it.body.length, f)];
    for (let o = 0; o < it.body.length; o += frameMax - 8) {
      out.push(makeBodyFrame(channel, it.body.subarray(o, o + frameMax - 8)));
    }
    return Buffer.concat(out);
  };
  const items = [
    { id: 'a', type: 'system.noop', priority: 0, body: esm.buildEnvelope({ type: 'system.noop', id: 'a' }, 1) },
    { id: 'Z'.repeat(64), type: 'runtime.container.start', priority: 9, body: Buffer.alloc(frameMax - 8, 1) },
    { id: 'b-_1', type: 'registry.tag', priority: 1, body: Buffer.alloc(frameMax - 7, 2) },
    { id: 'c', type: 'provision.x', priority: 0, body: Buffer.alloc(3 * frameMax + 5, 3) },
  ];
  const frames = new Frames(channel, frameMax);
  for (const it of items) assert.ok(Buffer.concat(frames.batch([it])).equals(reference(it)), `${it.type}: bytes differ`);
  const all = Buffer.concat(items.map(reference));
  assert.equal(frames.batch(items).length, 1);
  assert.ok(frames.batch(items)[0].equals(all), 'the batch differs');
  const chunks = frames.batch(items, 2 * frameMax); // the third and fourth do not fit with another
  assert.deepEqual(chunks.map((b) => b.length), [reference(items[0]).length + reference(items[1]).length,
    reference(items[2]).length, reference(items[3]).length]);
  assert.ok(Buffer.concat(chunks).equals(all), 'the chunks differ');
});

test('a bad option is bad_config before any connection', async () => {
  await assert.rejects(esm.Client.fromEnv({ WHARF_JOBS_MAX_ATTEMPTS: 'x' }),
    (e) => e instanceof esm.WharfError && e.code === 'bad_config');
});
