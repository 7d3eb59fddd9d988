// nodeprobe: the installed wharf-client package driven by the tests, one
// JSON command a line on stdin, one JSON reply a line on stdout, like
// pyprobe.py (same commands and replies). It is copied into the project the
// tarball is installed in, so `wharf-client` resolves to the installed
// package. Options use the Python names and are mapped to TypeScript's.
// WHARF_CLIENT_TIMEOUT_S sets the client's timeout.
import { createInterface } from 'node:readline';
import { BatchError, Client, WharfError } from 'wharf-client';

const NAMES = {
  max_attempts: 'maxAttempts', timeout_s: 'timeoutS', run_at: 'runAt', unique_for_s: 'uniqueForS',
};

function opts(o = {}) {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [NAMES[k] ?? k, v]));
}

function plain(x) {
  if (x instanceof WharfError) return { code: x.code, field: x.field, message: x.message };
  if (Array.isArray(x)) return x.map(plain);
  return x === undefined ? null : x;
}

let client;
let evs = null;

async function run(cmd) {
  const c = client;
  switch (cmd.op) {
    case 'submit': return c.submit(cmd.type, cmd.args ?? {}, opts(cmd.opts));
    case 'submit_many': return c.submitMany(cmd.jobs.map((j) => ({ ...opts(j.opts), type: j.type, args: j.args })));
    case 'status': return c.status(cmd.id);
    case 'result': return c.result(cmd.id);
    case 'cancel': return c.cancel(cmd.id);
    case 'wait': return c.wait(cmd.id, { timeoutMs: (cmd.timeout ?? 30) * 1000 });
    case 'logs': return c.logs(cmd.id, { tail: cmd.tail ?? undefined });
    case 'follow': {
      const out = [];
      for await (const item of c.followLogs(cmd.id)) out.push(item);
      return out;
    }
    case 'sub':
      evs = c.events(cmd.ids ?? undefined);
      await evs.ready();
      return 'subscribed';
    case 'next': return evs.next(cmd.timeout === null || cmd.timeout === undefined ? null : cmd.timeout * 1000);
    case 'unsub':
      evs.close();
      return 'closed';
    default: throw new Error(`unknown op ${cmd.op}`);
  }
}

function reply(o) {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

async function main() {
  const timeoutMs = Number(process.env.WHARF_CLIENT_TIMEOUT_S ?? '5') * 1000;
  try {
    client = await Client.fromEnv(process.env, { timeoutMs });
  } catch (e) {
    reply({ err: plain(e) });
    process.exitCode = 1;
    return;
  }
  reply({ ok: 'ready' });
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    const t0 = performance.now();
    let out;
    try {
      out = { ok: plain(await run(JSON.parse(line))) };
    } catch (e) {
      if (!(e instanceof WharfError)) throw e;
      out = { err: plain(e) };
      if (e instanceof BatchError) out.results = plain(e.results);
    }
    out.s = (performance.now() - t0) / 1000;
    reply(out);
  }
  await client.close();
}

main().catch((e) => { console.error(e); process.exitCode = 2; });
