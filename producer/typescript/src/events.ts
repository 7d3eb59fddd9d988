/**
 * State changes from the events channel, on a Redis connection of their own
 * (a subscribed connection can do nothing else). Pub/sub keeps nothing for a
 * subscriber that was away: read the job for the truth after a gap.
 */
import type { Redis } from 'ioredis';
import { withTimeout } from './broker.js';
import { WharfError } from './errors.js';
import { JobEvent, parseEvent } from './model.js';

export class Events implements AsyncIterable<JobEvent> {
  private readonly queue: JobEvent[] = [];
  private wake: (() => void) | null = null;
  private closed = false;
  private readonly subscribed: Promise<void>;

  constructor(private readonly sub: Redis, channel: string, ids: Iterable<string> | undefined,
    private readonly timeoutMs: number) {
    const only = ids === undefined ? null : new Set(ids);
    sub.on('error', () => {}); // surfaced by next()
    sub.on('message', (_ch: string, text: string) => {
      const ev = parseEvent(text);
      if (!ev || (only && !only.has(ev.id))) return;
      this.queue.push(ev);
      this.wake?.();
    });
    this.subscribed = withTimeout(sub.subscribe(channel).then(() => undefined), timeoutMs,
      () => new WharfError('redis_error', `redis: no subscription in ${timeoutMs} ms`));
    this.subscribed.catch(() => {});
  }

  /** Resolves once subscribed; rejects redis_error when Redis is not there. */
  async ready(): Promise<void> {
    try {
      await this.subscribed;
    } catch (e) {
      throw e instanceof WharfError ? e : new WharfError('redis_error', `redis: ${(e as Error).message}`);
    }
  }

  /** Resolves once the connection is up, or rejects redis_error after the timeout. */
  private async connected(): Promise<void> {
    const start = Date.now();
    while (this.sub.status !== 'ready') {
      if (this.closed) return;
      if (Date.now() - start >= this.timeoutMs) {
        throw new WharfError('redis_error', `redis: not connected (${this.sub.status}) for ${this.timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The next event, waiting up to timeoutMs (null: no limit); null when none came in time. */
  async next(timeoutMs: number | null = null): Promise<JobEvent | null> {
    await this.ready();
    const end = timeoutMs === null ? Infinity : Date.now() + timeoutMs;
    while (!this.closed) {
      const ev = this.queue.shift();
      if (ev) return ev;
      await this.connected();
      const left = end - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
      this.wake = null;
    }
    return null;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<JobEvent, void, undefined> {
    while (!this.closed) {
      const ev = await this.next(null);
      if (ev) yield ev;
    }
  }

  close(): void {
    this.closed = true;
    this.wake?.();
    this.sub.disconnect();
  }
}
