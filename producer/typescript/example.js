'use strict';
/**
 * Submit a few jobs with wharf-client and print how they end.
 *
 *   npm ci
 *   WHARF_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f \
 *   WHARF_REDIS_URL=redis://127.0.0.1:6379/0 WHARF_REDIS_PREFIX=wharf: \
 *   node example.js
 *
 * A worker must be running on the same vhost and Redis prefix. The defaults
 * are the contract's defaults.
 */

const amqp = require('amqplib');
const Redis = require('ioredis');
const wharf = require('./wharf-client');

async function main() {
  const amqpUrl = process.env.WHARF_AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672/%2f';
  const redisUrl = process.env.WHARF_REDIS_URL || 'redis://127.0.0.1:6379/0';
  const prefix = process.env.WHARF_REDIS_PREFIX || 'wharf:';

  const conn = await amqp.connect(amqpUrl);
  const redis = new Redis(redisUrl);
  try {
    // enqueue() resolves once RabbitMQ has confirmed each message.
    const ids = [
      await wharf.enqueue(conn, 'system.noop', { hello: 'world' }),
      await wharf.enqueue(conn, 'system.sleep', { ms: 200 }, { meta: { requested_by: 'example.js' } }),
      await wharf.enqueue(conn, 'system.fail', { code: 'demo_failure', message: 'this job always fails' },
        { maxAttempts: 1 }),
    ];
    let ok = true;
    // Wait for all of them at once.
    const results = await Promise.allSettled(ids.map((id) => wharf.wait(redis, id, 30, { prefix })));
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        ok = false;
        console.log(`${ids[i]}: ${r.reason.message}`);
      } else if (r.value.state === 'succeeded') {
        console.log(`${ids[i]} ${r.value.type} succeeded, result ${r.value.result}`);
      } else {
        console.log(`${ids[i]} ${r.value.type} ${r.value.state}: ${r.value.error} (${r.value.error_message})`);
      }
    });
    return ok ? 0 : 1;
  } finally {
    await conn.close();
    redis.disconnect();
  }
}

main().then((code) => { process.exitCode = code; }, (err) => {
  console.error(err instanceof wharf.EnqueueError ? `not enqueued: ${err.message}` : err);
  process.exitCode = 1;
});
