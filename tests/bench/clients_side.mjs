// One side of tests/bench/clients for the TypeScript package, like
// clients_side.py: node clients_side.mjs N BATCH (BATCH 1: single submits).
// It is copied into the project the tarball is installed in.
import { Client } from 'wharf-client';

const n = Number(process.argv[2]);
const batch = Number(process.argv[3]);
const c = await Client.fromEnv(process.env, { timeoutMs: 60000 });
await c.submit('system.noop', { i: 1 }); // warm: connections, script cache
const t0 = performance.now();
for (let sent = 0; sent < n; sent += batch) {
  const k = Math.min(batch, n - sent);
  if (batch === 1) await c.submit('system.noop', { i: 1 });
  else await c.submitMany(Array.from({ length: k }, () => ({ type: 'system.noop', args: { i: 1 } })));
}
const s = (performance.now() - t0) / 1000;
console.log(`n=${n} seconds=${s.toFixed(3)} rate=${Math.round(n / s)}`);
await c.close();
