import { parseNotification } from '../../src/adapters/xml/render-notification';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import type * as amqp from 'amqplib';
import { buildTopology } from '../../src/adapters/rabbitmq/topology';
import { DEFAULT_TOPOLOGY, parseReceipt } from '../helpers/amqp-client';
import { httpRequest } from '../helpers/http';
import { freePort } from '../helpers/ports';
import { startRabbitNode, type RabbitNode } from '../helpers/rabbit-node';
import { startRedis, type RedisProcess } from '../helpers/redis-process';
import { randomPrefix } from '../helpers/redis';
import { LOG_DIR, startService, type ServiceHandle } from '../helpers/service';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';
import { sleep, waitUntil } from '../helpers/wait';
import { workItemXml } from '../helpers/work-items';
import { DurableConsumer, PublishUncertainError, ResilientPublisher, publishControlConfirmed } from './support/resilient-amqp';
import { seededRandom, shuffle } from './support/rng';

/**
 * The no-loss fault run (issue 8). A private broker node (reached by the service through a TCP proxy), a
 * private Redis (AOF, appendfsync always) and the real service. A sender flows N work items with publisher
 * confirms and reply_to; a contact center consumes every contact event from a durable queue, closes and
 * reopens entrances and ends ~10% of the contacts; meanwhile the service is killed with SIGKILL (≥ 5 times),
 * the broker is restarted, Redis is killed and restarted, and the service's TCP connections are dropped.
 * At the end every entrance is opened and the run waits for quiescence; then the sender's ledger is checked
 * against everything the receipts queue, the contact center, the error queue and Redis saw.
 *
 * Env: FAULT_ITEMS (default 20000; `npm run test:fault:quick` uses 3000), FAULT_SEED (repeat a run's item mix
 * and fault order), FAULT_KILLS (≥ 5, one of them while every entrance reopens at the end),
 * FAULT_BROKER_RESTARTS, FAULT_REDIS_RESTARTS, FAULT_TCP_DROPS, FAULT_RATE, FAULT_AHEAD, FAULT_REDIS_APPENDONLY.
 * Prints `lost=0 double_ids=0 missing_receipts=0 missing_in_redis=0 items=N faults=… duration=…s` and a details
 * line; the full report (samples of failing items, log files) goes to $TMPDIR/workitem-test-logs/fault-no-loss-*.txt.
 */

const envInt = (name: string, dflt: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${v}"`);
  return n;
};

const N = envInt('FAULT_ITEMS', 20_000);
const SMALL = N <= 5_000;
const SEED = envInt('FAULT_SEED', Math.floor(Math.random() * 2 ** 31));
const KILLS = Math.max(5, envInt('FAULT_KILLS', SMALL ? 5 : 8));
const BROKER_RESTARTS = envInt('FAULT_BROKER_RESTARTS', SMALL ? 1 : 2);
const REDIS_RESTARTS = envInt('FAULT_REDIS_RESTARTS', SMALL ? 1 : 2);
const TCP_DROPS = envInt('FAULT_TCP_DROPS', SMALL ? 1 : 3);
/**
 * Average send rate (items/s). The sender sends in bursts (50..400 items at full speed, then a pause), so the
 * service sometimes idles and sometimes has a backlog with a full prefetch in flight when a fault hits.
 * Faults are spread over the expected send time N / RATE.
 */
const RATE = envInt('FAULT_RATE', SMALL ? 75 : 100);
/** The sender never gets more than this many items ahead of the receipts (bounded backlog). */
const AHEAD = envInt('FAULT_AHEAD', 2000);
const SEND_WINDOW = 64;
/** After a fault, the contact center waits this long before ending contacts (see endTick). */
const QUIET_MS = 5_000;
const PARK_RETRY_SECONDS = 2;
/**
 * Negative control: FAULT_REDIS_APPENDONLY=no runs Redis without persistence, so the Redis restart loses the
 * unfinished state and the run must fail (missing_in_redis > 0): proof that the checks can see a loss.
 */
const REDIS_APPENDONLY = (process.env.FAULT_REDIS_APPENDONLY ?? 'yes') !== 'no';

// Budget: setup ~30 s, flow, quiescence; jest reads testTimeout only at the top level, so set it here.
const SEND_SECONDS = N / Math.max(1, RATE);
const FLOW_TIMEOUT_MS = (120 + SEND_SECONDS * 2) * 1000;
const QUIESCE_TIMEOUT_MS = SMALL ? 90_000 : 240_000;
const TEST_TIMEOUT_MS = FLOW_TIMEOUT_MS + QUIESCE_TIMEOUT_MS + 120_000;
jest.setTimeout(TEST_TIMEOUT_MS);

const ENTRANCES = ['loans', 'support', 'social'] as const;
type Entrance = (typeof ENTRANCES)[number];
type FaultKind = 'service-kill9' | 'broker-restart' | 'redis-restart' | 'tcp-drop';

interface Attempt {
  corr: string;
  state: 'pending' | 'confirmed' | 'uncertain';
  intendedDuplicate: boolean;
}

interface Item {
  i: number;
  ext: string;
  source: string;
  entrance: Entrance;
  /** An item built to be rejected (INVALID_FIELD): it must get a rejected receipt and an error copy. */
  invalid: boolean;
  /** Chosen to be ended by the contact center (once it is safe, see endTick). */
  toEnd: boolean;
  /** Sent a second time on purpose. */
  duplicate: boolean;
  xml: Buffer;
  attempts: Attempt[];
}

interface ItemSeen {
  contactIds: Set<string>;
  created: number;
  firstCreatedAt: number;
  receipts: number;
  statuses: Set<string>;
  errorCopies: number;
  errorCodes: Set<string>;
}

const T = DEFAULT_TOPOLOGY;

function buildItems(tag: string, rnd: () => number): Item[] {
  const items: Item[] = [];
  for (let i = 0; i < N; i++) {
    const r = rnd();
    const entrance: Entrance = r < 0.4 ? 'loans' : r < 0.8 ? 'support' : 'social';
    const source = entrance === 'social' ? 'social-hub' : rnd() < 0.5 ? 'bank-support' : 'bank-loans';
    const ext = `F${tag}-${String(i).padStart(6, '0')}`;
    const k = rnd();
    const invalid = k < 0.01;
    const toEnd = !invalid && k >= 0.01 && k < 0.11;
    const duplicate = !invalid && k >= 0.11 && k < 0.16;
    const xml = workItemXml({
      externalId: ext,
      source,
      entrance,
      subject: `Fault run item ${i}`,
      body: `Item ${i} of the fault run ${tag}. `.repeat(4),
      priority: invalid ? 'urgent' : 1 + (i % 10),
      taskType: entrance === 'loans' ? 'loan-review' : entrance === 'support' ? 'support-case' : 'social-post',
      contactData: { CaseUrl: `https://bank.example/cases/${i}` },
      ...(entrance === 'social' && { social: { platform: 'facebook', pageId: '1234', postId: `1234_${i}`, author: 'Jane Doe' } }),
    });
    items.push({ i, ext, source, entrance, invalid, toEnd, duplicate, xml: Buffer.from(xml), attempts: [] });
  }
  return items;
}

describe('fault: no work item is lost', () => {
  let rabbit: RabbitNode | undefined;
  let redis: RedisProcess | undefined;
  let proxy: TcpProxy | undefined;
  let svc: ServiceHandle | undefined;
  const closers: (() => Promise<void>)[] = [];

  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await svc?.stop('SIGTERM', 10_000).catch(() => undefined);
    await proxy?.close().catch(() => undefined);
    await rabbit?.stop().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
  });

  it(`${N} items through service kills, a broker restart, a Redis restart and dropped connections`, async () => {
    const startedAt = Date.now();
    const rnd = seededRandom(SEED);
    const tag = randomBytes(3).toString('hex');
    const prefix = randomPrefix();
    const note = (msg: string): void => {
      process.stdout.write(`[fault ${((Date.now() - startedAt) / 1000).toFixed(1)}s] ${msg}\n`);
    };
    note(
      `seed=${SEED} items=${N} kills=${KILLS} broker_restarts=${BROKER_RESTARTS} redis_restarts=${REDIS_RESTARTS} tcp_drops=${TCP_DROPS}`,
    );

    // --- infrastructure ---------------------------------------------------------------------------
    [rabbit, redis] = await Promise.all([startRabbitNode(), startRedis({ appendonly: REDIS_APPENDONLY, appendfsync: 'always' })]);
    proxy = await startTcpProxy({ targetPort: rabbit.port });
    const broker = rabbit;
    const redisProc = redis;
    const tcp = proxy;
    note(`broker ${broker.nodename} on ${broker.port} (proxy ${tcp.port}), redis ${redisProc.port}, prefix ${prefix}`);

    // --- what the outside world saw ----------------------------------------------------------------
    const items = buildItems(tag, rnd);
    const byExt = new Map(items.map((it) => [it.ext, it]));
    const byCorr = new Map<string, Item>();
    const seen = new Map<string, ItemSeen>();
    const seenOf = (ext: string): ItemSeen => {
      let s = seen.get(ext);
      if (!s) {
        s = {
          contactIds: new Set(),
          created: 0,
          firstCreatedAt: 0,
          receipts: 0,
          statuses: new Set(),
          errorCopies: 0,
          errorCodes: new Set(),
        };
        seen.set(ext, s);
      }
      return s;
    };
    const receiptsByCorr = new Map<string, number>();
    const stray: string[] = [];
    const strayNote = (s: string): void => {
      if (stray.length < 50) stray.push(s);
    };
    let eventsTotal = 0;
    let replayedEvents = 0;
    let otherEvents = 0;
    let receiptCopies = 0;
    let replyReceipts = 0;
    let receiptedItems = 0;

    const onReceipt = (msg: amqp.ConsumeMessage, copy: boolean): void => {
      const r = parseReceipt(msg.content);
      const corr = msg.properties.correlationId as string | undefined;
      const item = (corr && byCorr.get(corr)) || (r.externalId ? byExt.get(r.externalId) : undefined);
      if (!item) {
        strayNote(`receipt without a known item: corr=${corr} ${msg.content.toString().slice(0, 200)}`);
        return;
      }
      if (r.externalId !== undefined && r.externalId !== item.ext) strayNote(`receipt for ${item.ext} names ${r.externalId}`);
      const s = seenOf(item.ext);
      if (r.contactId) s.contactIds.add(r.contactId);
      if (copy) {
        receiptCopies++;
        if (s.receipts === 0) receiptedItems++;
        s.receipts++;
        if (r.status) s.statuses.add(r.error?.code ? `${r.status}:${r.error.code}` : r.status);
        if (corr) receiptsByCorr.set(corr, (receiptsByCorr.get(corr) ?? 0) + 1);
      } else {
        replyReceipts++;
      }
    };

    const endable = new Map<string, { contactId: string; at: number }>();
    const ended = new Map<string, string>();
    const onEvent = (msg: amqp.ConsumeMessage): void => {
      eventsTotal++;
      let ev: { type?: string; contactId?: string; externalId?: string; replayed?: boolean };
      try {
        ev = JSON.parse(msg.content.toString('utf8')) as typeof ev;
      } catch {
        strayNote(`event not JSON: ${msg.content.toString().slice(0, 200)}`);
        return;
      }
      const item = ev.externalId ? byExt.get(ev.externalId) : undefined;
      if (!item || !ev.contactId) {
        strayNote(`event for no known item: ${msg.content.toString().slice(0, 200)}`);
        return;
      }
      const s = seenOf(item.ext);
      s.contactIds.add(ev.contactId);
      if (ev.replayed) replayedEvents++;
      if (ev.type === 'contact.created') {
        s.created++;
        if (!s.firstCreatedAt) s.firstCreatedAt = Date.now();
        if (item.toEnd && !ended.has(item.ext) && !endable.has(item.ext))
          endable.set(item.ext, { contactId: ev.contactId, at: Date.now() });
      } else {
        otherEvents++;
        strayNote(`unexpected ${ev.type} for ${item.ext}`);
      }
    };

    const errorQueue = buildTopology({ topology: T, entrances: {} }).queues.find((q) => q.name === T.errorQueue)!;
    const onErrorCopy = (msg: amqp.ConsumeMessage): void => {
      const corr = msg.properties.correlationId as string | undefined;
      const ext = /<externalId>([^<]*)<\/externalId>/.exec(msg.content.toString('utf8'))?.[1];
      const item = (corr && byCorr.get(corr)) || (ext ? byExt.get(ext) : undefined);
      const code = String((msg.properties.headers ?? {})['x-error-code'] ?? '?');
      if (!item) {
        strayNote(`error copy for no known item: ${code} ${msg.content.toString().slice(0, 200)}`);
        return;
      }
      const s = seenOf(item.ext);
      s.errorCopies++;
      s.errorCodes.add(code);
    };

    // The senders' side of contract 1.2: every lifecycle notification, by contactId and event (ids as published).
    const notes = new Map<string, Map<string, Set<string>>>();
    let notificationsTotal = 0;
    const onNotification = (msg: amqp.ConsumeMessage): void => {
      notificationsTotal++;
      let n: { event: string; contactId: string };
      try {
        n = parseNotification(msg.content);
      } catch (err) {
        strayNote(`notification not readable: ${(err as Error).message}`);
        return;
      }
      let byEvent = notes.get(n.contactId);
      if (!byEvent) notes.set(n.contactId, (byEvent = new Map()));
      let ids = byEvent.get(n.event);
      if (!ids) byEvent.set(n.event, (ids = new Set()));
      ids.add(String(msg.properties.messageId));
    };
    const noteIds = (contactId: string | undefined, event: string): Set<string> =>
      (contactId && notes.get(contactId)?.get(event)) || new Set();

    const url = broker.url;
    const notificationsConsumer = new DurableConsumer(
      url,
      { queue: 'fault.sender.notifications', bindings: [{ exchange: T.notificationsExchange, routingKey: '#' }] },
      onNotification,
    );
    const eventsConsumer = new DurableConsumer(
      url,
      { queue: 'fault.contact-center.events', bindings: [{ exchange: T.eventsExchange, routingKey: '#' }] },
      onEvent,
    );
    const receiptsConsumer = new DurableConsumer(
      url,
      { queue: 'fault.sender.receipts', bindings: [{ exchange: T.receiptsExchange, routingKey: '#' }] },
      (m) => onReceipt(m, true),
    );
    const errorsConsumer = new DurableConsumer(
      url,
      {
        queue: errorQueue.name,
        arguments: errorQueue.arguments,
        bindings: errorQueue.bindings,
      },
      onErrorCopy,
    );
    let replyQueue: string | undefined;
    const sender: ResilientPublisher = new ResilientPublisher(url, 'sender', async () => {
      // An exclusive reply queue per connection, like real senders: it vanishes with the connection (and
      // with a broker restart); the receipts-exchange copy is what the ledger relies on.
      const c = sender.conn.current;
      if (!c) throw new Error('sender connection gone');
      const ch = await c.createChannel();
      ch.on('error', () => undefined);
      const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true });
      await ch.consume(queue, (m) => m && onReceipt(m, false), { noAck: true });
      replyQueue = queue;
    });
    const contactCenter = new ResilientPublisher(url, 'contact-center');
    for (const c of [eventsConsumer, receiptsConsumer, errorsConsumer, notificationsConsumer, sender, contactCenter])
      closers.push(() => c.close());
    await Promise.all([
      eventsConsumer.start(),
      receiptsConsumer.start(),
      errorsConsumer.start(),
      notificationsConsumer.start(),
      sender.start(),
      contactCenter.start(),
    ]);

    // --- the service ---------------------------------------------------------------------------------
    const httpPort = await freePort();
    const logFiles: string[] = [];
    const startSvc = async (): Promise<ServiceHandle> => {
      const h = await startService({
        vhost: `fault-${tag}`,
        prefix,
        redisUrl: redisProc.url,
        httpPort,
        readyTimeoutMs: 120_000,
        config: { park: { retrySeconds: PARK_RETRY_SECONDS, maxParked: 1_000_000 } },
        env: { AMQP_URL: tcp.urlFor(url), LOG_LEVEL: 'info' },
      });
      logFiles.push(h.logFile);
      return h;
    };
    svc = await startSvc();
    const readyz = async (): Promise<boolean> => {
      try {
        // No keep-alive (httpRequest uses agent: false): no pooled socket outlives the service it talked to.
        return (await httpRequest(`${svc!.baseUrl}/readyz`, { timeoutMs: 2_000 })).status === 200;
      } catch {
        return false;
      }
    };
    const waitReady = (what: string): Promise<boolean> =>
      waitUntil(readyz, { timeoutMs: 120_000, intervalMs: 200, describe: `service ready after ${what}` });

    // --- control events (contact center → service), confirmed, retried until confirmed ---------------
    const publishControl = (routingKey: string, body: object): Promise<void> =>
      publishControlConfirmed(contactCenter, T.controlExchange, routingKey, body, 200);

    // --- faults -----------------------------------------------------------------------------------------
    let faultActive = false;
    let lastFaultEndedAt = 0;
    const faultsDone: string[] = [];
    const runFault = async (kind: FaultKind): Promise<void> => {
      faultActive = true;
      const t0 = Date.now();
      const at = `${receiptedItems}/${N}`;
      try {
        switch (kind) {
          case 'service-kill9': {
            await svc!.kill9();
            await sleep(rnd() * 1000);
            svc = await startSvc();
            break;
          }
          case 'broker-restart':
            await broker.restart();
            await waitReady(kind);
            break;
          case 'redis-restart':
            await redisProc.kill9();
            await sleep(500 + rnd() * 1500);
            await redisProc.restart();
            await waitReady(kind);
            break;
          case 'tcp-drop': {
            const n = tcp.dropAll();
            note(`tcp-drop: ${n} connections reset`);
            await sleep(200);
            await waitReady(kind);
            break;
          }
        }
      } finally {
        faultActive = false;
        lastFaultEndedAt = Date.now();
      }
      faultsDone.push(kind);
      note(`fault ${kind} at ${at} receipted, recovered in ${Date.now() - t0} ms`);
    };

    // One kill is kept for the final phase (while every entrance reopens and parked items are flushed).
    const plan: FaultKind[] = shuffle(
      [
        ...Array<FaultKind>(KILLS - 1).fill('service-kill9'),
        ...Array<FaultKind>(BROKER_RESTARTS).fill('broker-restart'),
        ...Array<FaultKind>(REDIS_RESTARTS).fill('redis-restart'),
        ...Array<FaultKind>(TCP_DROPS).fill('tcp-drop'),
      ],
      rnd,
    );
    // Fault k fires at a random moment of its slot of the expected send time (slots spread over 5%..90%).
    const faultAtMs = plan.map((_, k) => SEND_SECONDS * 1000 * (0.05 + (0.85 * (k + rnd())) / plan.length));
    // Entrances close and reopen during the run (fractions of the items sent).
    const entranceSchedule: { at: number; entrance: Entrance; open: boolean }[] = [
      { at: 0.08, entrance: 'support', open: false },
      { at: 0.3, entrance: 'support', open: true },
      { at: 0.25, entrance: 'loans', open: false },
      { at: 0.45, entrance: 'loans', open: true },
      { at: 0.5, entrance: 'social', open: false },
      { at: 0.75, entrance: 'social', open: true },
      { at: 0.7, entrance: 'support', open: false },
      { at: 0.88, entrance: 'support', open: true },
    ];
    entranceSchedule.sort((a, b) => a.at - b.at);

    const flowStartedAt = Date.now();
    let nextIndex = 0;
    const faultLoop = (async () => {
      for (let k = 0; k < plan.length; k++) {
        const wait = flowStartedAt + faultAtMs[k] - Date.now();
        if (wait > 0) await sleep(wait);
        await runFault(plan[k]);
      }
    })();
    const entranceLoop = (async () => {
      for (const e of entranceSchedule) {
        while (nextIndex < e.at * N) {
          if (Date.now() - startedAt > FLOW_TIMEOUT_MS) return;
          await sleep(50);
        }
        await publishControl(e.open ? 'entrance.opened' : 'entrance.closed', { entrance: e.entrance });
        note(`entrance ${e.entrance} ${e.open ? 'opened' : 'closed'} at ${nextIndex}/${N} sent, ${receiptedItems} receipted`);
      }
    })();

    // --- the contact center ends ~10% of the contacts ---------------------------------------------------
    // An ended item is no longer "known": a copy of it processed after the end would be a new item with a
    // new contactId (INTERFACE.md: duplicates are duplicates "while the item is known"). So the contact
    // center only ends an item when no copy of it can still be on its way: every publish of it confirmed and
    // receipted, and no fault in the last QUIET_MS (a crash redelivers unacked messages).
    let endingStopped = false;
    const endPublishes = new Set<Promise<void>>();
    const endTick = (): void => {
      if (endingStopped || faultActive || Date.now() - lastFaultEndedAt < QUIET_MS) return;
      const now = Date.now();
      for (const [ext, { contactId, at }] of endable) {
        if (now - at < 2_000) continue;
        const item = byExt.get(ext)!;
        if (!item.attempts.every((a) => a.state === 'confirmed' && (receiptsByCorr.get(a.corr) ?? 0) > 0)) continue;
        endable.delete(ext);
        ended.set(ext, contactId);
        const p = publishControl('contact.ended', { contactId })
          .catch((err) => strayNote(`contact.ended for ${ext} not published: ${(err as Error).message}`))
          .finally(() => endPublishes.delete(p));
        endPublishes.add(p);
      }
    };
    const endTimer = setInterval(endTick, 250);
    closers.push(async () => clearInterval(endTimer));

    // --- the sender -------------------------------------------------------------------------------------
    let resent = 0;
    let duplicatesSent = 0;
    const sendAttempt = async (item: Item, intendedDuplicate: boolean): Promise<void> => {
      const corr = `${item.ext}#${item.attempts.length}`;
      const attempt: Attempt = { corr, state: 'pending', intendedDuplicate };
      item.attempts.push(attempt);
      byCorr.set(corr, item);
      try {
        await sender.publish(T.inboundExchange, `workitem.${item.source}`, item.xml, {
          contentType: 'application/xml',
          persistent: true,
          replyTo: replyQueue,
          correlationId: corr,
          messageId: randomUUID(),
        });
        attempt.state = 'confirmed';
      } catch (err) {
        if (!(err instanceof PublishUncertainError)) throw err;
        attempt.state = 'uncertain';
      }
    };
    const resendQueue: Item[] = [];
    const dupQueue: { at: number; item: Item }[] = [];
    const inflight = new Set<Promise<void>>();
    const launch = (item: Item, dup: boolean): void => {
      const p = sendAttempt(item, dup).then(() => {
        const a = item.attempts[item.attempts.length - 1];
        if (a.state === 'uncertain' && !item.attempts.some((x) => x.state === 'confirmed')) resendQueue.push(item);
        else if (a.state === 'confirmed' && item.duplicate && !dup && !item.attempts.some((x) => x.intendedDuplicate)) {
          dupQueue.push({ at: item.i + 100 + Math.floor(rnd() * 1500), item });
        }
      });
      const tracked = p.finally(() => inflight.delete(tracked));
      inflight.add(tracked);
    };
    let burstLeft = 0;
    let burstStartedAt = 0;
    let burstSize = 0;
    const flow = (async () => {
      for (;;) {
        if (Date.now() - startedAt > FLOW_TIMEOUT_MS) throw new Error(`flow not done within ${FLOW_TIMEOUT_MS} ms`);
        if (inflight.size >= SEND_WINDOW) {
          await Promise.race(inflight);
          continue;
        }
        const resend = resendQueue.shift();
        if (resend) {
          resent++;
          launch(resend, false);
          continue;
        }
        const dueDup = dupQueue.findIndex((d) => d.at <= nextIndex || nextIndex >= N);
        if (dueDup >= 0) {
          const [{ item }] = dupQueue.splice(dueDup, 1);
          duplicatesSent++;
          launch(item, true);
          continue;
        }
        if (nextIndex < N) {
          if (nextIndex - receiptedItems > AHEAD) {
            await sleep(20);
            continue;
          }
          if (burstLeft === 0) {
            // Next burst once the average rate allows it.
            const due = burstStartedAt + (burstSize / RATE) * 1000;
            if (Date.now() < due) {
              await sleep(Math.min(50, due - Date.now()));
              continue;
            }
            burstSize = burstLeft = 50 + Math.floor(rnd() * 350);
            burstStartedAt = Date.now();
          }
          burstLeft--;
          launch(items[nextIndex++], false);
          continue;
        }
        if (inflight.size > 0) {
          await Promise.race(inflight);
          continue;
        }
        if (resendQueue.length === 0 && dupQueue.length === 0) break;
      }
    })();

    await flow;
    note(`sender done: ${N} items, ${resent} re-sent after unconfirmed publishes, ${duplicatesSent} duplicates on purpose`);
    await Promise.all([faultLoop, entranceLoop]);
    note(`faults done: ${faultsDone.join(', ')}`);

    // --- final phase: open every entrance (one more kill while it flushes), wait for quiescence ----------
    for (const e of ENTRANCES) await publishControl('entrance.opened', { entrance: e });
    await sleep(rnd() * 1500);
    await runFault('service-kill9');
    for (const e of ENTRANCES) await publishControl('entrance.opened', { entrance: e });

    const redisClient = new Redis(redisProc.url, { lazyConnect: true, maxRetriesPerRequest: 3 });
    closers.push(async () => void redisClient.disconnect());
    await redisClient.connect();
    const valid = items.filter((it) => !it.invalid);
    const quiet = async (): Promise<string | null> => {
      const missingEvent = valid.filter((it) => (seen.get(it.ext)?.created ?? 0) === 0).length;
      const missingReceipt = items.filter((it) => (seen.get(it.ext)?.receipts ?? 0) === 0).length;
      const missingError = items.filter((it) => it.invalid && (seen.get(it.ext)?.errorCopies ?? 0) === 0).length;
      if (missingEvent || missingReceipt || missingError)
        return `${missingEvent} without event, ${missingReceipt} without receipt, ${missingError} without error copy`;
      if (endPublishes.size > 0) return `${endPublishes.size} contact.ended publishes pending`;
      const depths = await broker.queueDepths();
      const busy = Object.entries(depths).filter(([name, d]) => d.messages > 0 && !name.startsWith('amq.gen-'));
      if (busy.length) return `queues not empty: ${busy.map(([n, d]) => `${n}=${d.messages}`).join(' ')}`;
      const parked = await Promise.all(ENTRANCES.map((e) => redisClient.zcard(`${prefix}parked:${e}`)));
      if (parked.some((n) => n > 0)) return `parked in Redis: ${parked.join('/')}`;
      const outbox = await redisClient.zcard(`${prefix}notes:due`);
      if (outbox > 0) return `${outbox} notifications in the outbox`;
      return null;
    };
    let lastSignature = '';
    let stableSince = Date.now();
    let lastReason: string | null = 'not checked';
    const quiesceStart = Date.now();
    let quiescent = false;
    while (Date.now() - quiesceStart < QUIESCE_TIMEOUT_MS) {
      // The contact center stops ending contacts once every item it may end is ended (items with an
      // unconfirmed publish never qualify, see endTick), or after half the wait.
      const endableLeft = [...endable.keys()].filter((e) => byExt.get(e)!.attempts.every((a) => a.state === 'confirmed')).length;
      if (!endingStopped && (endableLeft === 0 || Date.now() - quiesceStart > QUIESCE_TIMEOUT_MS / 2)) endingStopped = true;
      lastReason = await quiet().catch((err: Error) => `check failed: ${err.message}`);
      const signature = `${eventsTotal}/${receiptCopies}/${ended.size}/${notificationsTotal}/${lastReason}`;
      if (signature !== lastSignature) {
        lastSignature = signature;
        stableSince = Date.now();
      }
      if (lastReason === null && endingStopped && Date.now() - stableSince >= 3_000) {
        quiescent = true;
        break;
      }
      await sleep(500);
    }
    const flowSeconds = (Date.now() - flowStartedAt) / 1000;
    note(quiescent ? `quiescent after ${((Date.now() - quiesceStart) / 1000).toFixed(1)} s` : `NOT quiescent: ${lastReason}`);

    // --- the ledger check ----------------------------------------------------------------------------
    const ext = await redisClient.hgetall(`${prefix}ext`);
    const contactIdOf = (it: Item): string | undefined => {
      const ids = seen.get(it.ext)?.contactIds;
      return ids && ids.size === 1 ? [...ids][0] : undefined;
    };
    const doubleIds = items.filter((it) => (seen.get(it.ext)?.contactIds.size ?? 0) > 1);
    const lost = valid.filter((it) => (seen.get(it.ext)?.created ?? 0) === 0);
    const missingReceipts = items.filter((it) => (seen.get(it.ext)?.receipts ?? 0) === 0);
    const unfinished = valid.filter((it) => !ended.has(it.ext));
    const itemKeys = unfinished.map((it) => `${prefix}item:${contactIdOf(it) ?? 'none'}`);
    const exists: number[] = [];
    for (let k = 0; k < itemKeys.length; k += 1000) {
      const pipe = redisClient.pipeline();
      for (const key of itemKeys.slice(k, k + 1000)) pipe.exists(key);
      for (const [err, n] of (await pipe.exec()) ?? []) exists.push(err ? 0 : Number(n));
    }
    const missingInRedis = unfinished.filter((it, k) => {
      const cid = contactIdOf(it);
      return !cid || ext[`${it.source}|${it.ext}`] !== cid || exists[k] !== 1;
    });
    const endedInRedis = valid.filter((it) => ended.has(it.ext) && ext[`${it.source}|${it.ext}`] !== undefined);
    const unexpectedRejections = valid.filter((it) => {
      const s = seen.get(it.ext);
      return !!s && (s.errorCopies > 0 || [...s.statuses].some((st) => st.startsWith('rejected')));
    });
    const intended = items.filter((it) => it.invalid);
    const missingErrorCopies = intended.filter((it) => {
      const s = seen.get(it.ext);
      return !s || s.errorCopies === 0 || ![...s.statuses].some((st) => st.startsWith('rejected')) || s.contactIds.size > 0;
    });
    const redisUnfinished = await redisClient.zcard(`${prefix}unfinished`);
    // Notifications (issue 24): every ended item's sender hears `ended` (at least once, one id); every item whose
    // receipts all said buffered and that reached the contact center hears `routed`.
    const endedItems = valid.filter((it) => ended.has(it.ext));
    const lostEnded = endedItems.filter((it) => noteIds(ended.get(it.ext), 'ended').size === 0);
    const doubleNoteIds = endedItems.filter((it) => noteIds(ended.get(it.ext), 'ended').size > 1);
    const routedExpected = valid.filter((it) => {
      const s = seen.get(it.ext);
      return !!s && s.created > 0 && s.statuses.has('buffered') && !s.statuses.has('accepted');
    });
    const lostRouted = routedExpected.filter((it) => noteIds(contactIdOf(it), 'routed').size === 0);
    const lostNotifications = lostEnded.length + lostRouted.length;

    const faultCounts = new Map<string, number>();
    for (const f of faultsDone) faultCounts.set(f, (faultCounts.get(f) ?? 0) + 1);
    const faults = [...faultCounts].map(([k, n]) => `${k}x${n}`).join(',');
    const totalSeconds = ((Date.now() - startedAt) / 1000).toFixed(1);
    const line =
      `lost=${lost.length} double_ids=${doubleIds.length} missing_receipts=${missingReceipts.length} ` +
      `missing_in_redis=${missingInRedis.length} lost_notifications=${lostNotifications} items=${N} faults=${faults} ` +
      `duration=${flowSeconds.toFixed(1)}s`;
    const details =
      `unexpected_rejections=${unexpectedRejections.length} missing_error_copies=${missingErrorCopies.length} ` +
      `intended_rejections=${intended.length} ended=${ended.size} ended_in_redis=${endedInRedis.length} ` +
      `redis_unfinished=${redisUnfinished}/${unfinished.length} resent=${resent} duplicates_sent=${duplicatesSent} ` +
      `events=${eventsTotal} replayed_events=${replayedEvents} other_events=${otherEvents} receipt_copies=${receiptCopies} ` +
      `reply_receipts=${replyReceipts} notifications=${notificationsTotal} ended_notified=${endedItems.length - lostEnded.length}/${endedItems.length} ` +
      `routed_notified=${routedExpected.length - lostRouted.length}/${routedExpected.length} ended_notification_ids_gt1=${doubleNoteIds.length} ` +
      `stray=${stray.length} quiescent=${quiescent} seed=${SEED} total=${totalSeconds}s`;
    process.stdout.write(`\n${line}\n${details}\n`);

    const sample = (list: Item[]): string =>
      list
        .slice(0, 5)
        .map((it) => {
          const s = seen.get(it.ext);
          return (
            `${it.ext} [${it.entrance}${it.toEnd ? ',toEnd' : ''}${it.duplicate ? ',dup' : ''}${ended.has(it.ext) ? ',ended' : ''}] ` +
            `ids=${[...(s?.contactIds ?? [])].join('|') || '-'} created=${s?.created ?? 0} receipts=${s?.receipts ?? 0} ` +
            `statuses=${[...(s?.statuses ?? [])].join('|') || '-'} errors=${[...(s?.errorCodes ?? [])].join('|') || '-'} ` +
            `attempts=${it.attempts.map((a) => `${a.state}${a.intendedDuplicate ? '(dup)' : ''}:${receiptsByCorr.get(a.corr) ?? 0}`).join(',')} ` +
            `redis=${ext[`${it.source}|${it.ext}`] ?? '-'}`
          );
        })
        .join('\n  ');
    const report = [
      line,
      details,
      `service logs: ${logFiles.join(' ')}`,
      `broker log: ${broker.logFile}`,
      lost.length ? `lost:\n  ${sample(lost)}` : '',
      doubleIds.length ? `double ids:\n  ${sample(doubleIds)}` : '',
      missingReceipts.length ? `missing receipts:\n  ${sample(missingReceipts)}` : '',
      missingInRedis.length ? `missing in Redis:\n  ${sample(missingInRedis)}` : '',
      lostEnded.length ? `ended without an ended notification:\n  ${sample(lostEnded)}` : '',
      lostRouted.length ? `buffered, delivered, without a routed notification:\n  ${sample(lostRouted)}` : '',
      endedInRedis.length ? `ended but still in Redis:\n  ${sample(endedInRedis)}` : '',
      unexpectedRejections.length ? `unexpected rejections:\n  ${sample(unexpectedRejections)}` : '',
      missingErrorCopies.length ? `intended rejections without error copy/receipt:\n  ${sample(missingErrorCopies)}` : '',
      stray.length ? `stray:\n  ${stray.slice(0, 10).join('\n  ')}` : '',
      `sender connects=${sender.conn.connects} cc connects=${contactCenter.conn.connects} events consumer connects=${eventsConsumer.conn.connects}`,
    ]
      .filter(Boolean)
      .join('\n');
    mkdirSync(LOG_DIR, { recursive: true });
    const reportFile = path.join(LOG_DIR, `fault-no-loss-${tag}.txt`);
    writeFileSync(reportFile, `${report}\n`);
    process.stdout.write(`report: ${reportFile}\n`);
    if (!quiescent || lost.length || doubleIds.length || missingReceipts.length || missingInRedis.length || lostNotifications)
      process.stdout.write(`${report}\n`);

    expect({
      lost: lost.length,
      doubleIds: doubleIds.length,
      missingReceipts: missingReceipts.length,
      missingInRedis: missingInRedis.length,
      unexpectedRejections: unexpectedRejections.length,
      missingErrorCopies: missingErrorCopies.length,
      endedInRedis: endedInRedis.length,
      lostNotifications,
      endedNotificationIdsGt1: doubleNoteIds.length,
    }).toEqual({
      lost: 0,
      doubleIds: 0,
      missingReceipts: 0,
      missingInRedis: 0,
      unexpectedRejections: 0,
      missingErrorCopies: 0,
      endedInRedis: 0,
      lostNotifications: 0,
      endedNotificationIdsGt1: 0,
    });
    // Not quiescent = something stayed stuck (a queue that does not drain, parked items that never leave).
    expect({ quiescent, lastReason }).toEqual({ quiescent: true, lastReason: null });
    expect(faultsDone.filter((f) => f === 'service-kill9').length).toBeGreaterThanOrEqual(5);
    expect(faultsDone.length).toBe(plan.length + 1);
  });
});
