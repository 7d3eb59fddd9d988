// Every call of wharf-client, typed: tests run `tsc --noEmit` on this file
// against the installed package (strict mode), and it runs as an example:
//   WHARF_AMQP_URL=... WHARF_REDIS_URL=... node every_call.js
import {
  BatchError, Client, JobEvent, JobSpec, JobStatus, LogGap, LogLine, Submitted, WharfError,
} from 'wharf-client';

async function tour(c: Client): Promise<void> {
  const job: Submitted = await c.submit('system.log', { lines: 3 }, { meta: { requested_by: 'every_call.ts' } });
  for await (const item of c.followLogs(job.id)) {
    const text: string = item.kind === 'gap' ? (item as LogGap).message : `${item.s}: ${item.l}`;
    console.log(text);
  }
  const final: JobStatus = await c.wait(job.id, { timeoutMs: 30000 });
  const result = await c.result<{ lines: number; bytes: number }>(job.id);
  console.log(job.id, final.state, result?.lines);
  const last: LogLine[] = await c.logs(job.id, { tail: 2 });
  console.log(last.length, 'last lines');
  const specs: JobSpec[] = [0, 1, 2].map((i) => ({ type: 'system.noop', args: { i } }));
  try {
    const batch: Submitted[] = await c.submitMany(specs);
    console.log(batch.map((s) => s.id));
  } catch (e) {
    if (e instanceof BatchError) console.log('some failed:', e.results);
    else throw e;
  }
  const later = await c.submit('system.noop', {}, {
    runAt: new Date(Date.now() + 60000), uniqueForS: 60, lock: 'example', priority: 1, maxAttempts: 2, timeoutS: 10,
    target: 'web-1', id: undefined,
  });
  const state: 'cancelled' | 'running' = await c.cancel(later.id);
  console.log(later.state, state, (await c.status(later.id)).state);
  const evs = c.events([later.id]);
  const ev: JobEvent | null = await evs.next(100);
  console.log('event:', ev);
  evs.close();
}

async function main(): Promise<number> {
  let c: Client | undefined;
  try {
    c = await Client.fromEnv(process.env, { timeoutMs: 5000 });
    await tour(c);
    return 0;
  } catch (e) {
    if (!(e instanceof WharfError)) throw e;
    console.error(`wharf: ${e.message} (code ${e.code}, field ${e.field})`);
    return 1;
  } finally {
    await c?.close();
  }
}

main().then((code) => { process.exitCode = code; });
