/**
 * The broker side: one amqplib connection with one confirm channel, the
 * topology declared, and a window of confirms in flight together. A broker
 * that is down or silent fails each call within the client's timeout.
 */
import * as amqp from 'amqplib';
import { amqpUrls, Options, topology } from './config.js';
import { Envelope } from './envelope.js';
import { WharfError } from './errors.js';

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

export class Broker {
  private closed = false;
  private blocked = false;
  private readonly returned = new Set<string>();

  private constructor(private readonly conn: amqp.ChannelModel, private readonly ch: amqp.ConfirmChannel,
    private readonly timeoutMs: number) {
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
      const connecting = amqp.connect(url, {
        timeout: o.timeoutMs, clientProperties: { connection_name: 'wharf producer' },
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
    items.forEach(([env, body], i) => {
      const id = env.id as string;
      const type = env.type as string;
      const priority = (env.priority as number | undefined) ?? 0;
      try {
        this.ch.publish('wharf.jobs', type.split('.')[0], body, {
          contentType: 'application/msgpack', deliveryMode: 2, messageId: id, type, mandatory: true,
          // An AMQP integer; say 32-bit, as other clients send it.
          headers: { 'wharf-schema': { '!': 'int', value: 1 } },
          ...(priority > 0 ? { priority } : {}),
        }, (err: unknown) => {
          if (err) settle(i, new WharfError('broker_error', 'the broker refused the message (nack)'));
          else if (this.returned.delete(id)) {
            settle(i, new WharfError('unroutable', "no queue is bound for this job's family", 'type'));
          } else settle(i, null);
        });
      } catch (e) {
        this.closed = true;
        settle(i, brokerError(e));
      }
    });
    if (pending > 0) {
      await withTimeout(all, this.timeoutMs, () => new Error('confirms')).catch(() => {});
    }
    const late = this.blocked
      ? new WharfError('broker_blocked', `the broker blocks publishers (a resource alarm): no confirm in ${this.timeoutMs} ms`)
      : new WharfError(this.closed ? 'broker_error' : 'timeout',
        this.closed ? 'broker: the connection was lost' : `no confirm from the broker in ${this.timeoutMs} ms`);
    return results.map((r) => (r === undefined ? late : r));
  }
}
