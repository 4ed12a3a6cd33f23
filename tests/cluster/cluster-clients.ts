import * as amqp from 'amqplib';
import { buildTopology } from '../../src/adapters/rabbitmq/topology';
import { DEFAULT_TOPOLOGY, parseReceipt } from '../helpers/amqp-client';
import { sleep } from '../helpers/wait';

/**
 * The sender and the contact center of the scale-out test, each able to live through the loss of the
 * broker node it is connected to: on a lost connection they move on to the next node of the list.
 *
 * - LedgerSender publishes work items with publisher confirms and keeps a ledger: an item counts as sent
 *   only once confirmed; everything unconfirmed when a connection dies (or nacked) is sent again, so
 *   the service sees some items twice and must answer `duplicate` with the same contactId.
 * - ContactCenter consumes durable quorum queues bound to `contact.events` and `workitem.receipts`
 *   (and the error queue), so nothing it should see is lost with a node, and records what it saw.
 */

export const CC_EVENTS_QUEUE = 'cluster-test.contact-center';
export const SENDER_RECEIPTS_QUEUE = 'cluster-test.sender-receipts';

const QUORUM = { 'x-queue-type': 'quorum' };

function errorQueueSpec() {
  const spec = buildTopology({ topology: DEFAULT_TOPOLOGY, entrances: {} }).queues.find((q) => q.name === DEFAULT_TOPOLOGY.errorQueue);
  if (!spec) throw new Error('topology has no error queue');
  return spec;
}

/** Declares the contact center's and the sender's queues (call once all nodes have joined: 3 replicas). */
export async function declareTestQueues(url: string): Promise<void> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    const t = DEFAULT_TOPOLOGY;
    for (const ex of [t.eventsExchange, t.receiptsExchange, t.errorExchange, t.inboundExchange]) {
      await ch.assertExchange(ex, 'topic', { durable: true });
    }
    await ch.assertQueue(CC_EVENTS_QUEUE, { durable: true, arguments: QUORUM });
    await ch.bindQueue(CC_EVENTS_QUEUE, t.eventsExchange, '#');
    await ch.assertQueue(SENDER_RECEIPTS_QUEUE, { durable: true, arguments: QUORUM });
    await ch.bindQueue(SENDER_RECEIPTS_QUEUE, t.receiptsExchange, '#');
    const err = errorQueueSpec();
    await ch.assertQueue(err.name, { durable: true, arguments: err.arguments });
    for (const b of err.bindings) await ch.bindQueue(err.name, b.exchange, b.routingKey);
    await ch.close();
  } finally {
    await conn.close().catch(() => undefined);
  }
}

export interface SeenEvent {
  type: string;
  eventId: string;
  contactId: string;
  externalId: string;
  replayed: boolean;
  receivedAtMs: number;
  createdAtMs: number;
  arrivedAtMs: number;
  redelivered: boolean;
}

export interface SeenReceipt {
  status?: string;
  externalId?: string;
  contactId?: string;
  arrivedAtMs: number;
}

export interface SeenError {
  /** x-error-code of the service's error copies. */
  code?: string;
  /** Routing key: the service's error code, or DEAD_LETTERED for what the broker dead-lettered without one. */
  routingKey: string;
  /** x-first-death-reason when the broker dead-lettered it (e.g. delivery_limit). */
  deathReason?: string;
  body: string;
}

/** Rotates through `urls` until a connection opens; `stopped()` ends the loop. */
async function connectAny(
  urls: string[],
  start: number,
  name: string,
  stopped: () => boolean,
): Promise<{ conn: amqp.ChannelModel; index: number }> {
  for (let attempt = 0; ; attempt++) {
    const index = (start + attempt) % urls.length;
    if (stopped()) throw new Error(`${name}: stopped`);
    try {
      const conn = await amqp.connect(`${urls[index]}?heartbeat=5`, { timeout: 5_000, clientProperties: { connection_name: name } });
      return { conn, index };
    } catch {
      await sleep(attempt < urls.length ? 50 : 500);
    }
  }
}

export class ContactCenter {
  readonly events: SeenEvent[] = [];
  readonly receipts: SeenReceipt[] = [];
  readonly errors: SeenError[] = [];
  /** One line per (re)connect: when and to which node. */
  readonly connects: { atMs: number; url: string }[] = [];
  private conn: amqp.ChannelModel | null = null;
  private stopped = false;
  private next: number;
  private readonly createdIds = new Set<string>();

  constructor(
    private readonly urls: string[],
    startAt = 0,
  ) {
    this.next = startAt;
  }

  /** Distinct externalIds that have a contact.created event. */
  get itemsWithEvent(): number {
    return this.createdIds.size;
  }

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const { conn, index } = await connectAny(this.urls, this.next, 'cluster-test contact-center', () => this.stopped);
    this.next = index + 1;
    this.conn = conn;
    this.connects.push({ atMs: Date.now(), url: this.urls[index] });
    conn.on('error', () => undefined);
    conn.once('close', () => {
      if (this.conn === conn) this.conn = null;
      if (!this.stopped) void this.reconnect();
    });
    try {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      await ch.prefetch(1000);
      // A consumer the broker cancels (null delivery) is re-created by starting over on a new connection.
      const cancelled = (): void => void conn.close().catch(() => undefined);
      await ch.consume(CC_EVENTS_QUEUE, (m) => (m ? (this.onEvent(m), ch.ack(m)) : cancelled()));
      await ch.consume(SENDER_RECEIPTS_QUEUE, (m) => (m ? (this.onReceipt(m), ch.ack(m)) : cancelled()));
      await ch.consume(DEFAULT_TOPOLOGY.errorQueue, (m) => {
        if (!m) return cancelled();
        const code = m.properties.headers?.['x-error-code'];
        const death = m.properties.headers?.['x-first-death-reason'];
        this.errors.push({
          code: code === undefined ? undefined : String(code),
          routingKey: m.fields.routingKey,
          deathReason: death === undefined ? undefined : String(death),
          body: m.content.toString('utf8').slice(0, 500),
        });
        ch.ack(m);
      });
    } catch {
      // A queue without a leader right after a node loss refuses consumers for a moment: start over.
      await conn.close().catch(() => undefined);
    }
  }

  private async reconnect(): Promise<void> {
    await sleep(100);
    await this.connect().catch(() => undefined);
  }

  private onEvent(m: amqp.ConsumeMessage): void {
    try {
      const e = JSON.parse(m.content.toString('utf8')) as Record<string, unknown>;
      const ev: SeenEvent = {
        type: String(e.type),
        eventId: String(e.eventId),
        contactId: String(e.contactId),
        externalId: String(e.externalId),
        replayed: e.replayed === true,
        receivedAtMs: Date.parse(String(e.receivedAt)),
        createdAtMs: Date.parse(String(e.createdAt)),
        arrivedAtMs: Date.now(),
        redelivered: m.fields.redelivered,
      };
      this.events.push(ev);
      if (ev.type === 'contact.created') this.createdIds.add(ev.externalId);
    } catch {
      this.errors.push({ code: 'TEST_UNPARSABLE_EVENT', routingKey: m.fields.routingKey, body: m.content.toString('utf8').slice(0, 500) });
    }
  }

  private onReceipt(m: amqp.ConsumeMessage): void {
    const r = parseReceipt(m.content);
    this.receipts.push({ status: r.status, externalId: r.externalId, contactId: r.contactId, arrivedAtMs: Date.now() });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.conn?.close().catch(() => undefined);
  }
}

export interface SenderStats {
  total: number;
  confirmed: number;
  /** Publishes beyond the first per item (after a lost connection or a nack). */
  resent: number;
  nacked: number;
  returned: number;
  connects: { atMs: number; url: string }[];
}

/**
 * Publishes `items` (externalId → XML) at `ratePerSec`, at most `window` unconfirmed at a time, and
 * re-sends whatever was not confirmed when its connection was lost.
 */
export class LedgerSender {
  readonly confirmed = new Set<string>();
  readonly connects: { atMs: number; url: string }[] = [];
  resent = 0;
  nacked = 0;
  /** Publishes the broker returned as unroutable (the inbound queue not bound): a broken setup. */
  returned = 0;
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly inflight = new Map<string, number>();
  private readonly published = new Set<string>();
  private ch: amqp.ConfirmChannel | null = null;
  private conn: amqp.ChannelModel | null = null;
  private gen = 0;
  private stopped = false;
  private next: number;
  private wake: (() => void) | null = null;
  private done!: Promise<void>;

  constructor(
    private readonly urls: string[],
    private readonly items: Map<string, string>,
    private readonly ratePerSec: number,
    private readonly window = 500,
    startAt = 0,
  ) {
    this.next = startAt;
  }

  get stats(): SenderStats {
    return {
      total: this.items.size,
      confirmed: this.confirmed.size,
      resent: this.resent,
      nacked: this.nacked,
      returned: this.returned,
      connects: this.connects,
    };
  }

  /** Starts sending; finished() resolves once every item is confirmed. */
  start(): void {
    this.done = this.run();
  }

  finished(): Promise<void> {
    return this.done;
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private nap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private enqueue(id: string, front = false): void {
    if (this.confirmed.has(id) || this.queued.has(id)) return;
    this.queued.add(id);
    if (front) this.queue.unshift(id);
    else this.queue.push(id);
  }

  /** Drops the channel (and its connection) of generation `gen`; what it had in flight is sent again. */
  private recycle(gen: number): void {
    if (this.gen === gen) this.onLost?.();
  }

  private onLost: (() => void) | null = null;

  private async channel(): Promise<amqp.ConfirmChannel> {
    while (!this.ch) {
      if (this.stopped) throw new Error('sender stopped');
      const { conn, index } = await connectAny(this.urls, this.next, 'cluster-test sender', () => this.stopped);
      this.next = index + 1;
      try {
        const ch = await conn.createConfirmChannel();
        const gen = ++this.gen;
        const lost = (): void => {
          if (this.gen !== gen) return;
          this.gen++;
          this.ch = null;
          this.conn = null;
          // Everything not confirmed on the lost channel goes out again, first.
          const again = [...this.inflight.entries()].filter(([, g]) => g === gen).map(([id]) => id);
          for (const id of again) this.inflight.delete(id);
          for (const id of again.reverse()) this.enqueue(id, true);
          conn.close().catch(() => undefined);
          this.poke();
        };
        this.onLost = lost;
        conn.on('error', () => undefined);
        ch.on('error', () => undefined);
        ch.on('return', () => this.returned++);
        conn.once('close', lost);
        ch.once('close', lost);
        this.conn = conn;
        this.ch = ch;
        this.connects.push({ atMs: Date.now(), url: this.urls[index] });
      } catch {
        await conn.close().catch(() => undefined);
        await sleep(200);
      }
    }
    return this.ch;
  }

  private async run(): Promise<void> {
    const ids = [...this.items.keys()];
    const startedAt = Date.now();
    let produced = 0;
    while (this.confirmed.size < ids.length) {
      if (this.stopped) throw new Error('sender stopped before every item was confirmed');
      // Paced production of first sends.
      const due = Math.min(ids.length, Math.floor(((Date.now() - startedAt) / 1000) * this.ratePerSec) + 1);
      while (produced < due) this.enqueue(ids[produced++]);
      if (this.queue.length === 0 || this.inflight.size >= this.window) {
        await this.nap(this.queue.length === 0 && produced < ids.length ? Math.max(1, 1000 / this.ratePerSec) : 50);
        continue;
      }
      let ch: amqp.ConfirmChannel;
      try {
        ch = await this.channel();
      } catch {
        continue;
      }
      const gen = this.gen;
      const id = this.queue.shift()!;
      this.queued.delete(id);
      if (this.confirmed.has(id)) continue;
      if (this.published.has(id)) this.resent++;
      this.published.add(id);
      this.inflight.set(id, gen);
      try {
        ch.publish(
          DEFAULT_TOPOLOGY.inboundExchange,
          'workitem.bank-support',
          Buffer.from(this.items.get(id)!, 'utf8'),
          { persistent: true, contentType: 'application/xml', messageId: `${id}-${this.published.size}`, mandatory: true },
          (err) => {
            if (this.gen !== gen || this.inflight.get(id) !== gen) return; // the close handler re-queued it
            this.inflight.delete(id);
            if (err) {
              // A nack: send it again, on a new channel. (RabbitMQ 3.10 keeps nacking every later publish of a
              // channel whose first publish to a quorum queue met the queue's leader just lost with its node.)
              this.nacked++;
              this.enqueue(id, true);
              this.recycle(gen);
            } else this.confirmed.add(id);
            this.poke();
          },
        );
      } catch {
        // Channel closed under us: the close handler re-queues what was in flight.
        if (this.inflight.get(id) === gen) {
          this.inflight.delete(id);
          this.enqueue(id, true);
        }
      }
      // Let confirms and socket writes through now and then.
      if (this.published.size % 50 === 0) await new Promise((r) => setImmediate(r));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.poke();
    await this.conn?.close().catch(() => undefined);
  }
}

export interface LedgerResult {
  items: number;
  lost: number;
  doubleIds: number;
  noReceipt: number;
  receiptsByStatus: Record<string, number>;
  /** contact.created events beyond one per item (same contactId: re-publishes after a redelivery). */
  extraEvents: number;
  lostIds: string[];
  doubleIdSamples: [string, string[]][];
}

/** Every sent item against what the contact center and the sender saw: exactly one contactId, ≥ 1 event, a receipt. */
export function ledger(ids: string[], cc: ContactCenter): LedgerResult {
  const want = new Set(ids);
  const contactIds = new Map<string, Set<string>>();
  const add = (ext: string | undefined, cid: string | undefined): void => {
    if (!ext || !cid || !want.has(ext)) return;
    contactIds.set(ext, (contactIds.get(ext) ?? new Set()).add(cid));
  };
  const withReceipt = new Set<string>();
  const receiptsByStatus: Record<string, number> = {};
  for (const r of cc.receipts) {
    if (!r.externalId || !want.has(r.externalId)) continue;
    withReceipt.add(r.externalId);
    receiptsByStatus[r.status ?? '?'] = (receiptsByStatus[r.status ?? '?'] ?? 0) + 1;
    add(r.externalId, r.contactId);
  }
  const created = new Map<string, number>();
  const eventIds = new Set<string>();
  for (const e of cc.events) {
    if (e.type !== 'contact.created' || !want.has(e.externalId)) continue;
    if (eventIds.has(e.eventId)) continue; // the same message delivered twice to the test consumer
    eventIds.add(e.eventId);
    add(e.externalId, e.contactId);
    created.set(e.externalId, (created.get(e.externalId) ?? 0) + 1);
  }
  const lostIds = ids.filter((x) => !created.has(x));
  const doubles = [...contactIds.entries()].filter(([, s]) => s.size > 1);
  return {
    items: ids.length,
    lost: lostIds.length,
    doubleIds: doubles.length,
    noReceipt: ids.filter((x) => !withReceipt.has(x)).length,
    receiptsByStatus,
    extraEvents: [...created.values()].reduce((a, n) => a + n - 1, 0),
    lostIds: lostIds.slice(0, 20),
    doubleIdSamples: doubles.slice(0, 5).map(([ext, s]) => [ext, [...s]]),
  };
}
