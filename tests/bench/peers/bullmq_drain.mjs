// The BullMQ side of tests/bench/drain (run from tests/bench/peers, where
// package.json pins bullmq and `npm ci` installs it).
//
//   node bullmq_drain.mjs fill N   Queue.addBulk of N no-op jobs, in chunks
//                                  of 1,000, then exits (untimed)
//   node bullmq_drain.mjs work N   one Worker, concurrency 50, whose
//                                  processor returns at once; exits when it
//                                  has completed N jobs (with
//                                  WHARF_BENCH_HOLD=1, when stdin closes)
//
// `work` prints the marks of wharf-bench's drain modes (tests/bench/drain.c):
// "mark <done> <monotonic us>" when 5% of the jobs are done and when the
// last one is, then "bullmq n=.. counted=.. seconds=.. rate=..". A job is
// done when the Worker emits `completed`, which it does after the script
// that moves the job to the completed set has returned: its outcome is in
// Redis, as for the other sides. Everything else is BullMQ's default (jobs
// kept in the completed set, the default prefix), as a new user runs it.
// Redis: WHARF_BENCH_REDIS_URL (redis://127.0.0.1:PORT/DB); queue `drain`.
import { Queue, Worker } from 'bullmq';

const [mode, nArg] = process.argv.slice(2);
const n = Number.parseInt(nArg, 10);
const url = new URL(process.env.WHARF_BENCH_REDIS_URL);
// BullMQ asks its blocking connections not to give up on a request.
const connection = {
  host: url.hostname,
  port: Number(url.port),
  db: Number(url.pathname.slice(1) || 0),
  maxRetriesPerRequest: null,
};
const QUEUE = 'drain';
const CHUNK = 1000;

const monoUs = () => process.hrtime.bigint() / 1000n; // CLOCK_MONOTONIC

async function fill() {
  const q = new Queue(QUEUE, { connection });
  for (let i = 0; i < n; i += CHUNK) {
    const jobs = [];
    for (let j = i; j < Math.min(n, i + CHUNK); j++) jobs.push({ name: 'noop', data: { i: j } });
    await q.addBulk(jobs);
  }
  await q.close();
  console.log(`bullmq-fill n=${n}`);
}

async function work() {
  const at5 = Math.ceil(n / 20);
  let done = 0;
  let done5 = -1;
  let t5 = 0n;
  let finished;
  const allDone = new Promise((resolve) => { finished = resolve; });
  const w = new Worker(QUEUE, async () => null, { connection, concurrency: 50 });
  w.on('completed', () => {
    done++;
    if (done5 < 0 && done >= at5) {
      done5 = done;
      t5 = monoUs();
      console.log(`mark ${done} ${t5}`);
    }
    if (done === n) {
      const t = monoUs();
      console.log(`mark ${done} ${t}`);
      const s = Number(t - t5) / 1e6;
      console.log(`bullmq n=${n} counted=${n - done5} seconds=${s.toFixed(3)} rate=${Math.round((n - done5) / s)}`);
      finished();
    }
  });
  w.on('failed', (job, err) => console.error(`bullmq: job ${job && job.id} failed: ${err}`));
  await allDone;
  await w.close();
  // tests/bench/drain reads this process's peak RSS after the last mark.
  if (process.env.WHARF_BENCH_HOLD === '1') {
    await new Promise((resolve) => {
      process.stdin.on('end', resolve);
      process.stdin.on('close', resolve);
      process.stdin.resume();
    });
  }
}

if (!(n > 0) || (mode !== 'fill' && mode !== 'work')) {
  console.error('usage: node bullmq_drain.mjs fill|work N');
  process.exit(2);
}
await (mode === 'fill' ? fill() : work());
process.exit(0);
