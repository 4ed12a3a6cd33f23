import * as amqp from 'amqplib';
import { assertTopology } from '../../src/adapters/rabbitmq/assert-topology';
import { workItemXml } from '../../tests/helpers/work-items';
import { ROUTING_KEY, TOPOLOGY_NAMES, now, sleep } from './base';
import { benchTopology } from './environment';
import { latenciesOf } from './statistics';

/** Broker plumbing of the benches: vhosts, feeding, collecting, probes. */
export async function connect(url: string, name: string): Promise<amqp.ChannelModel> {
  return amqp.connect(url, { clientProperties: { connection_name: `bench ${name}` } });
}

/** Declares exactly what the service declares, so items can be pre-loaded before it starts. */
export async function declareTopology(conn: amqp.ChannelModel): Promise<void> {
  await assertTopology(conn, benchTopology());
}

/** A ~1 KB valid work item for entrance `loans` (the size of a typical item with a short body). */
export function smallItem(externalId: string, entrance = 'loans'): Buffer {
  return Buffer.from(
    workItemXml({
      externalId,
      entrance,
      subject: 'Loan application needs review',
      body: 'The customer asked for a review of the loan application. '.repeat(9),
      priority: 5,
      customer: { name: 'Jane Doe', email: 'jane.doe@example.com' },
      contactData: { CaseUrl: `https://bank.example/cases/${externalId}` },
    }),
  );
}

/**
 * A sender: confirm channel on its own connection. Publishes respect the socket's back-pressure and keep
 * at most `window` publishes unconfirmed.
 */
export class Sender {
  private outstanding = 0;
  private waiters: (() => void)[] = [];
  private failure: Error | null = null;
  /** externalId → time the publish was handed to the socket (performance.now()). */
  readonly sentAt = new Map<string, number>();
  /** When set, every item carries this `reply_to` (so the worker sends its receipt there too). */
  replyTo: string | undefined;

  private constructor(
    private readonly conn: amqp.ChannelModel,
    private readonly ch: amqp.ConfirmChannel,
    private readonly window: number,
  ) {}

  static async open(url: string, name: string, window = 1000): Promise<Sender> {
    const conn = await connect(url, name);
    const ch = await conn.createConfirmChannel();
    const s = new Sender(conn, ch, window);
    ch.on('error', (err: Error) => (s.failure = err));
    return s;
  }

  private release(): void {
    this.outstanding--;
    const w = this.waiters.shift();
    w?.();
  }

  /** Resolves once the publish is on its way (window permitting); the returned `confirmed` settles on the broker's confirm. */
  async publish(
    externalId: string,
    body: Buffer,
    routingKey = ROUTING_KEY,
    exchange = TOPOLOGY_NAMES.inboundExchange,
  ): Promise<{ confirmed: Promise<void> }> {
    if (this.failure) throw this.failure;
    while (this.outstanding >= this.window) await new Promise<void>((r) => this.waiters.push(r));
    this.outstanding++;
    this.sentAt.set(externalId, now());
    let ok = true;
    const confirmed = new Promise<void>((resolve, reject) => {
      ok = this.ch.publish(
        exchange,
        routingKey,
        body,
        { contentType: 'application/xml', persistent: true, messageId: externalId, ...(this.replyTo && { replyTo: this.replyTo }) },
        (err) => {
          this.release();
          if (err) reject(err instanceof Error ? err : new Error(String(err)));
          else resolve();
        },
      );
    });
    confirmed.catch(() => undefined);
    if (!ok) await new Promise<void>((r) => this.ch.once('drain', r));
    return { confirmed };
  }

  /** Publishes ids[i] as fast as the window allows; resolves when all are confirmed. */
  async burst(ids: string[], body: (id: string) => Buffer, routingKey?: string): Promise<void> {
    const confirms: Promise<void>[] = [];
    for (const id of ids) confirms.push((await this.publish(id, body(id), routingKey)).confirmed);
    await Promise.all(confirms);
  }

  /** Publishes `ids` at `rate` per second (catching up after timer jitter); resolves when all are confirmed. */
  async paced(
    ids: string[],
    rate: number,
    body: (id: string) => Buffer,
    target: { exchange?: string; routingKey?: string } = {},
  ): Promise<number> {
    const started = now();
    const confirms: Promise<void>[] = [];
    let sent = 0;
    while (sent < ids.length) {
      const due = Math.min(ids.length, Math.floor(((now() - started) / 1000) * rate) + 1);
      while (sent < due) {
        const id = ids[sent++];
        confirms.push((await this.publish(id, body(id), target.routingKey, target.exchange)).confirmed);
      }
      const next = started + (sent / rate) * 1000;
      await sleep(Math.max(0, next - now()));
    }
    await Promise.all(confirms);
    return sent;
  }

  async close(): Promise<void> {
    await this.conn.close().catch(() => undefined);
  }
}

/** Ids `<tag>-0 … <tag>-(n-1)`; the tag groups them in the collector. */
export function ids(tag: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${tag}-${i}`);
}

function groupOf(externalId: string): string {
  const i = externalId.lastIndexOf('-');
  return i < 0 ? externalId : externalId.slice(0, i);
}

interface Group {
  count: number;
  first: number;
  last: number;
}

/**
 * The contact center stand-in: a queue bound to `contact.created.#` (declared before any worker starts,
 * so no event is unroutable), consumed without acks. Records when each externalId's first event arrived.
 */
export class EventCollector {
  readonly arrivedAt = new Map<string, number>();
  readonly groups = new Map<string, Group>();
  replayed = 0;
  duplicates = 0;
  total = 0;

  private constructor(private readonly conn: amqp.ChannelModel) {}

  static async open(url: string, pattern = 'contact.created.#'): Promise<EventCollector> {
    const conn = await connect(url, 'event collector');
    const c = new EventCollector(conn);
    const ch = await conn.createChannel();
    await ch.assertExchange(TOPOLOGY_NAMES.eventsExchange, 'topic', { durable: true });
    const { queue } = await ch.assertQueue('bench.events', { exclusive: true, durable: false });
    await ch.bindQueue(queue, TOPOLOGY_NAMES.eventsExchange, pattern);
    await ch.consume(queue, (m) => m && c.onEvent(m), { noAck: true });
    return c;
  }

  private onEvent(m: amqp.ConsumeMessage): void {
    const t = now();
    this.total++;
    let ev: { externalId?: string; replayed?: boolean };
    try {
      ev = JSON.parse(m.content.toString('utf8')) as typeof ev;
    } catch {
      return;
    }
    if (ev.replayed) this.replayed++;
    const id = ev.externalId ?? '';
    if (this.arrivedAt.has(id)) {
      this.duplicates++;
      return;
    }
    this.arrivedAt.set(id, t);
    const gk = groupOf(id);
    const g = this.groups.get(gk);
    if (g) {
      g.count++;
      g.last = t;
    } else this.groups.set(gk, { count: 1, first: t, last: t });
  }

  count(tag: string): number {
    return this.groups.get(tag)?.count ?? 0;
  }

  group(tag: string): Group {
    return this.groups.get(tag) ?? { count: 0, first: NaN, last: NaN };
  }

  /** Waits until `n` distinct events of `tag` arrived; fails when nothing new arrives for stallMs. */
  async waitFor(tag: string, n: number, stallMs = 30_000, onProgress?: (count: number) => void): Promise<void> {
    let last = -1;
    let lastChange = now();
    let lastReport = now();
    while (this.count(tag) < n) {
      const c = this.count(tag);
      if (c !== last) {
        last = c;
        lastChange = now();
      } else if (now() - lastChange > stallMs) {
        throw new Error(`stalled: ${c}/${n} events of ${tag} after ${stallMs} ms without progress`);
      }
      if (onProgress && now() - lastReport > 2000) {
        lastReport = now();
        onProgress(c);
      }
      await sleep(20);
    }
  }

  /** Publish→event latencies (ms) of the given ids that arrived. */
  latencies(sentAt: Map<string, number>, idList: string[]): number[] {
    return latenciesOf(sentAt, this.arrivedAt, idList);
  }

  async close(): Promise<void> {
    await this.conn.close().catch(() => undefined);
  }
}

/**
 * The senders' reply queue: items carry `reply_to` = this queue, so a worker publishes a receipt to it (a third
 * publish next to the event and the receipts-exchange copy). Consumed without acks; counts what arrives.
 */
export class ReplyQueue {
  readonly queue = 'bench.replies';
  received = 0;

  private constructor(private readonly conn: amqp.ChannelModel) {}

  static async open(url: string): Promise<ReplyQueue> {
    const conn = await connect(url, 'reply queue');
    const r = new ReplyQueue(conn);
    const ch = await conn.createChannel();
    await ch.assertQueue(r.queue, { exclusive: true, durable: false });
    await ch.consume(r.queue, (m) => m && r.received++, { noAck: true });
    return r;
  }

  async close(): Promise<void> {
    await this.conn.close().catch(() => undefined);
  }
}

/**
 * A broker-only latency probe: a quorum queue in the bench's vhost, fed through the default exchange and
 * consumed by the bench itself. Its publish→deliver latency is what the broker alone adds (e.g. while its
 * shared quorum WAL writes a flood of large messages), next to the service's publish→event latency.
 */
export class BrokerProbe {
  readonly queue = 'bench.probe';
  readonly arrivedAt = new Map<string, number>();

  private constructor(private readonly conn: amqp.ChannelModel) {}

  static async open(url: string): Promise<BrokerProbe> {
    const conn = await connect(url, 'broker probe');
    const p = new BrokerProbe(conn);
    const ch = await conn.createChannel();
    await ch.assertQueue(p.queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await ch.consume(
      p.queue,
      (m) => {
        if (!m) return;
        const id = m.properties.messageId as string;
        if (!p.arrivedAt.has(id)) p.arrivedAt.set(id, now());
        ch.ack(m);
      },
      { noAck: false },
    );
    return p;
  }

  count(idList: string[]): number {
    return idList.filter((id) => this.arrivedAt.has(id)).length;
  }

  async waitFor(idList: string[], timeoutMs = 60_000): Promise<void> {
    const deadline = now() + timeoutMs;
    while (this.count(idList) < idList.length) {
      if (now() > deadline) throw new Error(`broker probe: ${this.count(idList)}/${idList.length} after ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  /** Publish→deliver latencies (ms) of the given ids that arrived. */
  latencies(sentAt: Map<string, number>, idList: string[]): number[] {
    return latenciesOf(sentAt, this.arrivedAt, idList);
  }

  async close(): Promise<void> {
    await this.conn.close().catch(() => undefined);
  }
}
