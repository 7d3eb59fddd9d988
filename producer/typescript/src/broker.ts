/**
 * The broker side: one amqplib connection with one confirm channel, the
 * topology declared, and a window of confirms in flight together. A broker
 * that is down or silent fails each call within the client's timeout.
 */
import * as amqp from 'amqplib';
import { amqpUrls, Options, topology } from './config.js';
import { Envelope } from './envelope.js';
import { WharfError } from './errors.js';
import { Frames, PublishItem } from './frames.js';

/** Reject with `err()` if `p` has not settled within `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, err: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(err()), ms); });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export function brokerError(e: unknown): WharfError {
  if (e instanceof WharfError) return e;
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return new WharfError('broker_error', `broker: ${msg.slice(0, 200)}`);
}

type Confirm = (err: unknown) => void;

/**
 * The parts of amqplib a batch is published through (see frames.ts): the
 * socket, the confirm channel's number and its window of confirm callbacks.
 * They are amqplib's internals, so each is checked; without them a batch
 * goes through ConfirmChannel.publish, one message at a time.
 */
interface Raw {
  stream: { writable: boolean; write(b: Buffer): boolean };
  frames: Frames;
  push: (cb: Confirm) => void;
}

function rawPath(conn: amqp.ChannelModel, ch: amqp.ConfirmChannel): Raw | null {
  const c = (conn as unknown as { connection?: { stream?: Raw['stream']; frameMax?: unknown } }).connection;
  const chan = ch as unknown as { ch?: unknown; pushConfirmCallback?: unknown };
  if (!c?.stream || typeof c.stream.write !== 'function' || typeof c.frameMax !== 'number' || c.frameMax < 4096 ||
    typeof chan.ch !== 'number' || typeof chan.pushConfirmCallback !== 'function') return null;
  const push = chan.pushConfirmCallback as (cb: Confirm) => void;
  return { stream: c.stream, frames: new Frames(chan.ch, c.frameMax), push: (cb) => push.call(ch, cb) };
}

export class Broker {
  private closed = false;
  private blocked = false;
  private readonly returned = new Set<string>();
  private readonly raw: Raw | null;

  private constructor(private readonly conn: amqp.ChannelModel, private readonly ch: amqp.ConfirmChannel,
    private readonly timeoutMs: number) {
    this.raw = rawPath(conn, ch);
    conn.on('error', () => { this.closed = true; });
    conn.on('close', () => { this.closed = true; });
    conn.on('blocked', () => { this.blocked = true; });
    conn.on('unblocked', () => { this.blocked = false; });
    ch.on('error', () => { this.closed = true; });
    ch.on('close', () => { this.closed = true; });
    // A basic.return always comes before the basic.ack of the same message.
    ch.on('return', (msg: amqp.Message) => { this.returned.add(String(msg.properties.messageId)); });
  }

  static async connect(o: Options): Promise<Broker> {
    let last: unknown = new Error('no amqpUrl');
    for (const url of amqpUrls(o)) {
      let gaveUp = false;
      // noDelay, as the C library sets TCP_NODELAY: a batch is one write,
      // and its last segment must not wait for the ack of the one before.
      const connecting = amqp.connect(url, {
        timeout: o.timeoutMs, noDelay: true, clientProperties: { connection_name: 'wharf producer' },
      });
      // A connection that comes after we gave up on it is closed at once.
      connecting.then((late) => { if (gaveUp) late.close().catch(() => {}); }, () => {});
      let conn: amqp.ChannelModel | undefined;
      try {
        conn = await withTimeout(connecting, o.timeoutMs,
          () => new WharfError('broker_error', `broker: no connection in ${o.timeoutMs} ms`));
        conn.on('error', () => {});
        const ch = await withTimeout(Broker.setup(conn, o), o.timeoutMs,
          () => new WharfError('timeout', `broker: declaring the topology took over ${o.timeoutMs} ms`));
        return new Broker(conn, ch, o.timeoutMs);
      } catch (e) {
        gaveUp = true;
        last = e;
        if (conn) conn.close().catch(() => {});
      }
    }
    throw brokerError(last);
  }

  private static async setup(conn: amqp.ChannelModel, o: Options): Promise<amqp.ConfirmChannel> {
    const ch = await conn.createConfirmChannel();
    ch.on('error', () => {});
    await ch.assertExchange('wharf.jobs', 'topic', { durable: true });
    await ch.assertExchange('wharf.retry', 'headers', { durable: true });
    for (const q of topology(o)) {
      await ch.assertQueue(q.name, { durable: true, arguments: q.args });
      if (q.exchange) await ch.bindQueue(q.name, q.exchange, q.routingKey, q.bindArgs);
    }
    return ch;
  }

  alive(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    await withTimeout(this.conn.close(), 2000, () => new Error('close')).catch(() => {});
  }

  /**
   * Publish every envelope (mandatory, persistent) and wait for all their
   * confirms within the timeout. Resolves to one error or null per item.
   */
  async publishAll(items: Array<[Envelope, Buffer]>): Promise<Array<WharfError | null>> {
    const results: Array<WharfError | null | undefined> = items.map(() => undefined);
    let pending = items.length;
    let done: () => void = () => {};
    const all = new Promise<void>((resolve) => { done = resolve; });
    const settle = (i: number, e: WharfError | null): void => {
      if (results[i] !== undefined) return;
      results[i] = e;
      if (--pending === 0) done();
    };
    const confirm = (i: number, id: string): Confirm => (err: unknown) => {
      if (err) settle(i, new WharfError('broker_error', 'the broker refused the message (nack)'));
      else if (this.returned.delete(id)) {
        settle(i, new WharfError('unroutable', "no queue is bound for this job's family", 'type'));
      } else settle(i, null);
    };
    const msgs: PublishItem[] = items.map(([env, body]) => ({
      id: env.id as string, type: env.type as string, priority: (env.priority as number | undefined) ?? 0, body,
    }));
    if (this.raw) this.writeBatch(this.raw, msgs, confirm, settle);
    else msgs.forEach((it, i) => this.publishOne(it, confirm(i, it.id), (e) => settle(i, e)));
    if (pending > 0) {
      await withTimeout(all, this.timeoutMs, () => new Error('confirms')).catch(() => {});
    }
    const late = this.blocked
      ? new WharfError('broker_blocked', `the broker blocks publishers (a resource alarm): no confirm in ${this.timeoutMs} ms`)
      : new WharfError(this.closed ? 'broker_error' : 'timeout',
        this.closed ? 'broker: the connection was lost' : `no confirm from the broker in ${this.timeoutMs} ms`);
    return results.map((r) => (r === undefined ? late : r));
  }

  /** The batch in one write (of 1 MiB buffers), its confirm callbacks queued first in publish order. */
  private writeBatch(raw: Raw, msgs: PublishItem[], confirm: (i: number, id: string) => Confirm,
    settle: (i: number, e: WharfError) => void): void {
    try {
      // A closed channel would never call the callbacks: fail now instead.
      if (this.closed || !raw.stream.writable) throw new Error('the connection is closed');
      const frames = raw.frames.batch(msgs);
      msgs.forEach((it, i) => raw.push(confirm(i, it.id)));
      for (const b of frames) raw.stream.write(b);
    } catch (e) {
      this.closed = true;
      msgs.forEach((_, i) => settle(i, brokerError(e)));
    }
  }

  private publishOne(it: PublishItem, cb: Confirm, fail: (e: WharfError) => void): void {
    try {
      this.ch.publish('wharf.jobs', it.type.split('.')[0], it.body, {
        contentType: 'application/msgpack', deliveryMode: 2, messageId: it.id, type: it.type, mandatory: true,
        // An AMQP integer; say 32-bit, as other clients send it.
        headers: { 'wharf-schema': { '!': 'int', value: 1 } },
        ...(it.priority > 0 ? { priority: it.priority } : {}),
      }, cb);
    } catch (e) {
      this.closed = true;
      fail(brokerError(e));
    }
  }
}
