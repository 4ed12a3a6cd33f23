import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as amqp from 'amqplib';
import Redis from 'ioredis';
import { buildTopology } from '../src/adapters/rabbitmq/topology';
import { DEFAULT_TOPOLOGY, parseReceipt } from '../tests/helpers/amqp-client';
import { reapAll } from '../tests/helpers/child-reaper';
import { httpRequest } from '../tests/helpers/http';
import { freePort } from '../tests/helpers/ports';
import { startRabbitNode, type RabbitNode } from '../tests/helpers/rabbit-node';
import { randomPrefix } from '../tests/helpers/redis';
import { startRedis, type RedisProcess } from '../tests/helpers/redis-process';
import { LOG_DIR, startService, type ServiceHandle } from '../tests/helpers/service';
import { sleep, withTimeout } from '../tests/helpers/wait';
import { cancelXml, updateXml, workItemXml } from '../tests/helpers/work-items';
import { DurableConsumer, PublishUncertainError, ResilientPublisher, publishControlConfirmed } from '../tests/fault/support/resilient-amqp';
import { seededRandom } from '../tests/fault/support/rng';
import { parseBenchArgs } from './lib/args';
import { SERVICE_MAIN } from './lib/base';

/**
 * Soak (issue 22): `npm run soak -- --minutes N`. A private RabbitMQ node and a private redis-server (AOF,
 * appendfsync always), two service instances (dist/main.js) against them, a steady mixed stream of work items
 * (creates, updates, cancels, large items with an attachment, a few invalid ones), a contact-center simulator
 * (ends a fraction of the contacts, closes and reopens entrances, now and then makes its queue for one entrance
 * "full": a queue with x-max-length 1 and x-overflow reject-publish bound next to it, so the broker nacks the
 * service's contact.created publishes for that entrance), and periodic faults: kill -9 of an instance (restarted
 * at once), a graceful restart of the broker node, a SHUTDOWN and restart of Redis on the same AOF dir.
 * At the end every entrance is opened and the run waits (bounded) until the service settles, then prints one
 * summary: items sent by kind, lost, double contactIds, missing receipts, the slopes of RSS, descriptors and Redis
 * used_memory, and the faults injected. Exit 0 when lost = 0 and double = 0, else 1 (2: the soak itself failed).
 * Every child (node, redis-server, services) is tracked by the test helpers' child reaper and killed on exit.
 *
 * The sender, the contact center and their ledger follow the no-loss fault suite (tests/fault/no-loss.test.ts) and
 * use its resilient AMQP clients. docs/soak.md says what it does and prints.
 */

const args = parseBenchArgs({
  minutes: { type: 'string' },
  rate: { type: 'string' },
  seed: { type: 'string' },
  'kill-every': { type: 'string' },
  'broker-every': { type: 'string' },
  'redis-every': { type: 'string' },
  'close-every': { type: 'string' },
  'close-for': { type: 'string' },
  'full-every': { type: 'string' },
  'full-for': { type: 'string' },
  'end-fraction': { type: 'string' },
  'settle-seconds': { type: 'string' },
  'sample-seconds': { type: 'string' },
  'kill-both': { type: 'boolean' },
});

function num(name: string, dflt: number, min = 0): number {
  const raw = args.values[name];
  if (raw === undefined) return dflt;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min) throw new Error(`--${name} must be a number ≥ ${min}, got "${String(raw)}"`);
  return v;
}
const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

const MINUTES = num('minutes', args.quick ? 2 : 10, 0.5);
const RUN_S = MINUTES * 60;
const RATE = num('rate', 30, 1);
const SEED = Math.floor(num('seed', Math.floor(Math.random() * 2 ** 31)));
// Intervals in seconds; 0 turns a fault off. Defaults scale with the run (30 min: 6 kills, 3 broker and 3 Redis restarts).
const KILL_EVERY = num('kill-every', clamp(RUN_S / 6, 30, 300));
const BROKER_EVERY = num('broker-every', clamp(RUN_S / 2.5, 70, 600));
const REDIS_EVERY = num('redis-every', clamp(RUN_S / 2.5, 70, 600));
const CLOSE_EVERY = num('close-every', clamp(RUN_S / 4, 30, 60));
const CLOSE_FOR = num('close-for', Math.min(20, CLOSE_EVERY / 2));
const FULL_EVERY = num('full-every', clamp(RUN_S / 3, 45, 300));
const FULL_FOR = num('full-for', 20);
const END_FRACTION = clamp(num('end-fraction', 0.7), 0, 1);
const SETTLE_S = num('settle-seconds', 180, 10);
const SAMPLE_S = num('sample-seconds', RUN_S >= 600 ? 10 : 5, 1);
/** Kill only instance A (B is the survivor whose slopes cover the whole run) unless --kill-both. */
const KILL_BOTH = args.values['kill-both'] === true;
/** Samples in the first seconds of a process's life (start-up, warm-up) are left out of its slopes. */
const WARMUP_S = 20;
/** After a fault the contact center waits this long before it ends or the sender cancels (redeliveries settle). */
const QUIET_MS = 8_000;
/** The sender never has more than this many messages without a receipt (bounded backlog through faults). */
const AHEAD = 3_000;
const SEND_WINDOW = 64;
const PARK_RETRY_SECONDS = 5;

const T = DEFAULT_TOPOLOGY;
const ENTRANCES = ['loans', 'support', 'social'] as const;
type Entrance = (typeof ENTRANCES)[number];
type Kind = 'create' | 'large' | 'invalid' | 'update' | 'cancel';
const KINDS: Kind[] = ['create', 'large', 'invalid', 'update', 'cancel'];
/** Share of each kind in the stream (update/cancel fall back to create when no item qualifies). */
const MIX: [Kind, number][] = [
  ['create', 0.72],
  ['large', 0.015],
  ['invalid', 0.01],
  ['update', 0.18],
  ['cancel', 0.075],
];

interface Attempt {
  corr: string;
  state: 'pending' | 'confirmed' | 'uncertain';
  receipts: number;
}

interface Msg {
  id: string;
  kind: Kind;
  item: Item;
  body: Buffer;
  attempts: Attempt[];
  receipts: number;
  statuses: Set<string>;
}

interface Item {
  key: string;
  ext: string;
  source: string;
  entrance: Entrance;
  kind: 'create' | 'large' | 'invalid';
  toEnd: boolean;
  create: Msg;
  contactIds: Set<string>;
  created: number;
  createdAt: number;
  endAfterMs: number;
  updates: number;
  cancel?: Msg;
  cancelled: boolean;
  ending: boolean;
  ended: boolean;
  errorCopies: number;
  withdrawn: number;
}

interface Sample {
  t: number;
  value: number;
}

interface Life {
  pid: number;
  startedAt: number;
  endedAt?: number;
  rss: Sample[];
  fds: Sample[];
}

interface Slot {
  name: 'A' | 'B';
  port: number;
  handle?: ServiceHandle;
  lives: Life[];
  kills: number;
  unexpectedExits: number;
  logFiles: string[];
}

const t0 = Date.now();
const elapsed = (): number => (Date.now() - t0) / 1000;
const note = (msg: string): void => void process.stdout.write(`[soak ${elapsed().toFixed(0).padStart(4)}s] ${msg}\n`);
const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

/** Least-squares slope of value over time, per minute (t in ms); NaN below 3 samples. */
function slopePerMinute(samples: Sample[]): number {
  if (samples.length < 3) return NaN;
  const xs = samples.map((s) => s.t / 60_000);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = samples.reduce((a, s) => a + s.value, 0) / samples.length;
  let num = 0;
  let den = 0;
  samples.forEach((s, i) => {
    num += (xs[i] - mx) * (s.value - my);
    den += (xs[i] - mx) ** 2;
  });
  return den === 0 ? NaN : num / den;
}

function readProc(pid: number): { rss: number; fds: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    return Number.isFinite(kb) ? { rss: kb * 1024, fds } : undefined;
  } catch {
    return undefined; // the process is gone (killed between the check and the read)
  }
}

async function main(): Promise<number> {
  const rnd = seededRandom(SEED);
  const tag = randomBytes(3).toString('hex');
  const prefix = randomPrefix();
  note(
    `seed=${SEED} minutes=${MINUTES} rate=${RATE}/s kill_every=${KILL_EVERY}s${KILL_BOTH ? ' (both)' : ' (A only)'} ` +
      `broker_every=${BROKER_EVERY}s redis_every=${REDIS_EVERY}s close_every=${CLOSE_EVERY}s/${CLOSE_FOR}s ` +
      `full_every=${FULL_EVERY}s/${FULL_FOR}s end_fraction=${END_FRACTION} sample=${SAMPLE_S}s`,
  );
  note('hold: skipped, the service has no hold yet');

  const closers: (() => Promise<unknown>)[] = [];
  let rabbit: RabbitNode | undefined;
  let redisProc: RedisProcess | undefined;
  const slots: Slot[] = [];
  let stopping = false;
  const cleanup = async (): Promise<void> => {
    stopping = true;
    for (const c of closers.reverse()) await c().catch(() => undefined);
    closers.length = 0;
    await Promise.all(slots.map((s) => s.handle?.stop('SIGTERM', 15_000).catch(() => undefined)));
    await rabbit?.stop().catch(() => undefined);
    await redisProc?.stop().catch(() => undefined);
    await reapAll();
  };
  process.once('SIGINT', () => {
    // The child reaper has already SIGKILLed every child (its handler runs first); remove what is left.
    process.stderr.write('\nsoak: interrupted, cleaning up\n');
    void withTimeout(cleanup(), 20_000, 'cleanup').finally(() => process.exit(130));
  });

  try {
    // --- private infrastructure ---------------------------------------------------------------------
    [rabbit, redisProc] = await Promise.all([
      startRabbitNode({ prefix: 'wisoak' }),
      startRedis({ appendonly: true, appendfsync: 'always' }),
    ]);
    const broker = rabbit;
    const rproc = redisProc;
    note(`broker ${broker.nodename} on ${broker.port} (log ${broker.logFile}), redis ${rproc.url} (AOF in ${rproc.dir})`);

    // --- the ledger ---------------------------------------------------------------------------------
    const items = new Map<string, Item>();
    const byCorr = new Map<string, { msg: Msg; attempt: Attempt }>();
    const sentByKind = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
    const allMsgs: Msg[] = [];
    const stray: string[] = [];
    const strayNote = (s: string): void => void (stray.length < 50 && stray.push(s));
    const counts = {
      events: 0,
      createdEvents: 0,
      replayed: 0,
      updatedEvents: 0,
      withdrawnEvents: 0,
      otherEvents: 0,
      receipts: 0,
      resent: 0,
      endsPublished: 0,
      closes: 0,
      opens: 0,
      fullEpisodes: 0,
      fullSkipped: 0,
    };
    let receiptedMsgs = 0;
    let lastFaultEndedAt = 0;
    let faultActive = false;
    // A full-queue episode counts as a fault: the service's nacked publishes close its publish channel, and every
    // inbound message in flight then (any entrance) is requeued and redelivered, even after its receipt went out.
    let fullActive = false;
    const quiet = (): boolean => !faultActive && !fullActive && Date.now() - lastFaultEndedAt >= QUIET_MS;

    const onReceipt = (m: amqp.ConsumeMessage): void => {
      counts.receipts++;
      const r = parseReceipt(m.content);
      const corr = m.properties.correlationId as string | undefined;
      const hit = corr ? byCorr.get(corr) : undefined;
      if (!hit) {
        strayNote(`receipt for no known message: corr=${corr} ${m.content.toString().slice(0, 160)}`);
        return;
      }
      const { msg, attempt } = hit;
      attempt.receipts++;
      if (msg.receipts++ === 0) receiptedMsgs++;
      msg.statuses.add(r.error?.code ? `${r.status}:${r.error.code}` : String(r.status));
      if (r.contactId) msg.item.contactIds.add(r.contactId);
      if (msg.kind === 'cancel' && r.status === 'cancelled') msg.item.cancelled = true;
    };

    /** Items the contact center will end, from their first contact.created until their end is published. */
    const endCandidates = new Set<Item>();
    const onEvent = (m: amqp.ConsumeMessage): void => {
      counts.events++;
      let ev: { type?: string; contactId?: string; externalId?: string; source?: string; replayed?: boolean };
      try {
        ev = JSON.parse(m.content.toString('utf8')) as typeof ev;
      } catch {
        strayNote(`event not JSON: ${m.content.toString().slice(0, 160)}`);
        return;
      }
      const item = items.get(`${ev.source}|${ev.externalId}`);
      if (!item || !ev.contactId) {
        strayNote(`event for no known item: ${m.content.toString().slice(0, 160)}`);
        return;
      }
      item.contactIds.add(ev.contactId);
      if (ev.replayed) counts.replayed++;
      if (ev.type === 'contact.created') {
        counts.createdEvents++;
        if (item.created++ === 0) {
          item.createdAt = Date.now();
          if (item.toEnd) endCandidates.add(item);
        }
      } else if (ev.type === 'contact.updated') counts.updatedEvents++;
      else if (ev.type === 'contact.withdrawn') {
        counts.withdrawnEvents++;
        item.withdrawn++;
      } else {
        counts.otherEvents++;
        strayNote(`unexpected ${ev.type} for ${item.key}`);
      }
    };

    const onErrorCopy = (m: amqp.ConsumeMessage): void => {
      const corr = m.properties.correlationId as string | undefined;
      const hit = corr ? byCorr.get(corr) : undefined;
      if (hit) hit.msg.item.errorCopies++;
      else strayNote(`error copy for no known message: ${String((m.properties.headers ?? {})['x-error-code'])}`);
    };

    // --- AMQP clients: sender, receipts, contact center, error queue -------------------------------------
    const url = broker.url;
    const errorQueue = buildTopology({ topology: T, entrances: {} }).queues.find((q) => q.name === T.errorQueue)!;
    const eventsConsumer = new DurableConsumer(
      url,
      { queue: `soak.contact-center.events`, bindings: [{ exchange: T.eventsExchange, routingKey: '#' }] },
      onEvent,
    );
    const receiptsConsumer = new DurableConsumer(
      url,
      { queue: 'soak.sender.receipts', bindings: [{ exchange: T.receiptsExchange, routingKey: '#' }] },
      onReceipt,
    );
    const errorsConsumer = new DurableConsumer(
      url,
      { queue: errorQueue.name, arguments: errorQueue.arguments, bindings: errorQueue.bindings },
      onErrorCopy,
    );
    let replyQueue: string | undefined;
    const sender: ResilientPublisher = new ResilientPublisher(url, 'soak sender', async () => {
      // An exclusive reply queue per connection, like real senders; the ledger counts the receipts-exchange copies.
      const c = sender.conn.current;
      if (!c) throw new Error('sender connection gone');
      const ch = await c.createChannel();
      ch.on('error', () => undefined);
      const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true });
      await ch.consume(queue, () => undefined, { noAck: true });
      replyQueue = queue;
    });
    const contactCenter = new ResilientPublisher(url, 'soak contact-center');
    for (const c of [eventsConsumer, receiptsConsumer, errorsConsumer, sender, contactCenter]) closers.push(() => c.close());
    await Promise.all([eventsConsumer.start(), receiptsConsumer.start(), errorsConsumer.start(), sender.start(), contactCenter.start()]);

    const publishControl = (routingKey: string, body: object): Promise<void> =>
      publishControlConfirmed(contactCenter, T.controlExchange, routingKey, body, 400);

    // --- two service instances ------------------------------------------------------------------------
    const secret = randomBytes(32).toString('hex');
    const serviceConfig = { park: { retrySeconds: PARK_RETRY_SECONDS, maxParked: 1_000_000 } };
    const startSlot = async (slot: Slot): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          const h = await startService({
            vhost: `soak-${tag}-${slot.name}`,
            prefix,
            entry: SERVICE_MAIN,
            redisUrl: rproc.url,
            httpPort: slot.port,
            readyTimeoutMs: 120_000,
            config: serviceConfig,
            env: { AMQP_URL: url, LOG_LEVEL: 'info', ATTACHMENT_URL_SECRET: secret },
          });
          slot.handle = h;
          slot.logFiles.push(h.logFile);
          const life: Life = { pid: h.pid, startedAt: Date.now(), rss: [], fds: [] };
          slot.lives.push(life);
          void h.exited.then((exit) => {
            life.endedAt = Date.now();
            if (slot.handle !== h || stopping) return;
            // Not killed by the soak: count it and start the instance again.
            slot.unexpectedExits++;
            slot.handle = undefined;
            note(`instance ${slot.name} (pid ${h.pid}) exited on its own (${JSON.stringify(exit)}), log ${h.logFile}; restarting`);
            void startSlot(slot).catch((err: Error) => note(`instance ${slot.name} restart failed: ${err.message}`));
          });
          return;
        } catch (err) {
          if (attempt >= 3 || stopping) throw err;
          note(`instance ${slot.name} did not start (${(err as Error).message.split('\n')[0]}); again`);
          await sleep(2_000);
        }
      }
    };
    for (const name of ['A', 'B'] as const)
      slots.push({ name, port: await freePort(), lives: [], kills: 0, unexpectedExits: 0, logFiles: [] });
    await Promise.all(slots.map(startSlot));
    note(`instances A pid ${slots[0].handle!.pid} :${slots[0].port}, B pid ${slots[1].handle!.pid} :${slots[1].port}, prefix ${prefix}`);

    const readyz = async (slot: Slot): Promise<boolean> => {
      if (!slot.handle) return false;
      try {
        return (await httpRequest(`${slot.handle.baseUrl}/readyz`, { timeoutMs: 2_000 })).status === 200;
      } catch {
        return false;
      }
    };
    const waitAllReady = async (what: string): Promise<void> => {
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        if ((await Promise.all(slots.map(readyz))).every(Boolean)) return;
        await sleep(250);
      }
      note(`WARNING: not every instance ready 120 s after ${what}`);
    };

    // --- Redis and process sampling ---------------------------------------------------------------------
    const redis = new Redis(rproc.url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000, enableOfflineQueue: false });
    redis.on('error', () => undefined);
    closers.push(async () => redis.disconnect());
    await redis.connect();
    const redisMem: Sample[] = [];
    const unfinishedSamples: Sample[] = [];
    let flowEndsAt = Infinity;
    const sampleOnce = async (): Promise<void> => {
      const t = Date.now();
      if (t > flowEndsAt) return;
      for (const slot of slots) {
        const life = slot.lives[slot.lives.length - 1];
        if (!life || life.endedAt || t - life.startedAt < WARMUP_S * 1000) continue;
        const p = readProc(life.pid);
        if (!p) continue;
        life.rss.push({ t, value: p.rss });
        life.fds.push({ t, value: p.fds });
      }
      try {
        const info = await withTimeout(redis.info('memory'), 2_000, 'INFO memory');
        const used = Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
        if (Number.isFinite(used)) redisMem.push({ t, value: used });
        unfinishedSamples.push({ t, value: await withTimeout(redis.zcard(`${prefix}unfinished`), 2_000, 'ZCARD') });
      } catch {
        // Redis restarting: no sample this time
      }
    };
    const sampler = setInterval(() => void sampleOnce(), SAMPLE_S * 1000);
    closers.push(async () => clearInterval(sampler));

    // --- the contact center: ends a fraction of the contacts ------------------------------------------------
    // An ended (or cancelled) item is no longer known: a copy of its create processed afterwards would be a new
    // item with a new contactId. So it is ended only when every publish of its create has a receipt and no fault
    // happened in the last QUIET_MS (a crash or a broker restart redelivers unacked messages), as in the fault suite.
    let endingStopped = false;
    const endPublishes = new Set<Promise<void>>();
    const createsSettled = (it: Item): boolean => it.create.attempts.every((a) => a.receipts > 0);
    const endTick = (): void => {
      if (endingStopped || !quiet()) return;
      const now = Date.now();
      for (const it of endCandidates) {
        if (now - it.createdAt < it.endAfterMs || !createsSettled(it) || it.contactIds.size !== 1) continue;
        endCandidates.delete(it);
        it.ending = true;
        const contactId = [...it.contactIds][0];
        const p = publishControl('contact.ended', { contactId })
          .then(() => {
            it.ended = true;
            counts.endsPublished++;
          })
          .catch((err: Error) => strayNote(`contact.ended for ${it.key} not published: ${err.message}`))
          .finally(() => endPublishes.delete(p));
        endPublishes.add(p);
      }
    };
    const endTimer = setInterval(endTick, 500);
    closers.push(async () => clearInterval(endTimer));

    // --- entrances close and reopen ---------------------------------------------------------------------
    const closed = new Set<Entrance>();
    let flowDone = false;
    const sleepUnlessDone = async (ms: number): Promise<boolean> => {
      const until = Date.now() + ms;
      while (!flowDone && Date.now() < until) await sleep(Math.min(500, until - Date.now()));
      return !flowDone;
    };
    const entranceLoop = (async () => {
      if (CLOSE_EVERY <= 0) return;
      for (let k = 0; await sleepUnlessDone(CLOSE_EVERY * 1000 - CLOSE_FOR * 1000); k++) {
        const e = ENTRANCES[k % ENTRANCES.length];
        await publishControl('entrance.closed', { entrance: e, by: 'soak' });
        closed.add(e);
        counts.closes++;
        note(`entrance ${e} closed`);
        await sleepUnlessDone(CLOSE_FOR * 1000);
        await publishControl('entrance.opened', { entrance: e, by: 'soak' });
        closed.delete(e);
        counts.opens++;
        note(`entrance ${e} opened`);
      }
    })();

    // --- a full contact-center queue now and then ---------------------------------------------------------
    // A queue for one entrance's contact.created with x-max-length 1 and x-overflow reject-publish: once it
    // holds one message the broker nacks every further publish routed to it (the service's publish of that
    // entrance's contact.created is refused while the main contact-center queue still takes it). Exclusive to
    // its own connection: it disappears with it, also when the broker restarts meanwhile.
    const fullLoop = (async () => {
      if (FULL_EVERY <= 0) return;
      for (let k = 0; await sleepUnlessDone(FULL_EVERY * 1000 * (k === 0 ? 0.5 : 1)); k++) {
        const e = ENTRANCES[(k + 1) % ENTRANCES.length];
        let conn: amqp.ChannelModel | undefined;
        try {
          conn = await withTimeout(amqp.connect(url), 10_000, 'connect for the full queue');
          conn.on('error', () => undefined);
          const ch = await conn.createChannel();
          ch.on('error', () => undefined);
          const q = `soak.contact-center.full.${e}`;
          await ch.assertQueue(q, { exclusive: true, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
          await ch.bindQueue(q, T.eventsExchange, `contact.created.${e}`);
          counts.fullEpisodes++;
          fullActive = true;
          note(`contact-center queue for ${e} full (reject-publish) for ${FULL_FOR} s`);
          await sleepUnlessDone(FULL_FOR * 1000);
          note(`contact-center queue for ${e} no longer full`);
        } catch (err) {
          counts.fullSkipped++;
          note(`full-queue episode for ${e} skipped: ${(err as Error).message}`);
        } finally {
          await conn?.close().catch(() => undefined);
          if (fullActive) lastFaultEndedAt = Date.now();
          fullActive = false;
        }
      }
    })();

    // --- faults -------------------------------------------------------------------------------------------
    type FaultKind = 'kill9' | 'broker-restart' | 'redis-restart';
    const faultsDone: FaultKind[] = [];
    const plan: { at: number; kind: FaultKind }[] = [];
    const schedule = (kind: FaultKind, every: number, offset: number): void => {
      if (every <= 0) return;
      for (let at = every * offset; at < RUN_S - 10; at += every) plan.push({ at: Math.max(10, at + (rnd() - 0.5) * every * 0.3), kind });
    };
    schedule('kill9', KILL_EVERY, 0.6);
    schedule('broker-restart', BROKER_EVERY, 0.45);
    schedule('redis-restart', REDIS_EVERY, 0.8);
    plan.sort((a, b) => a.at - b.at);
    let killsTotal = 0;
    const runFault = async (kind: FaultKind): Promise<void> => {
      faultActive = true;
      const started = Date.now();
      try {
        switch (kind) {
          case 'kill9': {
            const slot = KILL_BOTH ? slots[killsTotal % 2] : slots[0];
            killsTotal++;
            const h = slot.handle;
            slot.handle = undefined;
            if (h) await h.kill9();
            slot.kills++;
            await sleep(rnd() * 1000);
            await startSlot(slot);
            note(`kill -9 instance ${slot.name} (pid ${h?.pid}); back as pid ${slot.handle!.pid} in ${Date.now() - started} ms`);
            break;
          }
          case 'broker-restart':
            await broker.restart();
            await waitAllReady(kind);
            note(`broker restarted (graceful stop, same data dir); instances ready after ${Date.now() - started} ms`);
            break;
          case 'redis-restart':
            // SIGTERM = SHUTDOWN: Redis fsyncs the AOF and exits; it starts again on the same port and dir.
            await rproc.restart();
            await sleep(1_000); // let the instances notice before asking them
            await waitAllReady(kind);
            note(`redis restarted (SHUTDOWN, same AOF dir); instances ready after ${Date.now() - started} ms`);
            break;
        }
        faultsDone.push(kind);
      } catch (err) {
        note(`fault ${kind} failed: ${(err as Error).message.split('\n')[0]}`);
      } finally {
        faultActive = false;
        lastFaultEndedAt = Date.now();
      }
    };
    const flowStartedAt = Date.now();
    const faultLoop = (async () => {
      for (const f of plan) {
        const wait = flowStartedAt + f.at * 1000 - Date.now();
        if (wait > 0 && !(await sleepUnlessDone(wait))) return;
        if (flowDone) return;
        await runFault(f.kind);
      }
    })();

    // --- the sender -------------------------------------------------------------------------------------
    let seq = 0;
    const openItems: Item[] = [];
    const pickOpen = (forCancel: boolean): Item | undefined => {
      for (let tries = 0; tries < 8 && openItems.length > 0; tries++) {
        const k = Math.floor(rnd() * openItems.length);
        const it = openItems[k];
        if (it.ending || it.ended || it.cancel) {
          openItems[k] = openItems[openItems.length - 1];
          openItems.pop();
          continue;
        }
        // An item is updated or cancelled once its create was answered (accepted or buffered).
        if (![...it.create.statuses].some((s) => s === 'accepted' || s === 'buffered' || s === 'duplicate')) continue;
        if (forCancel && (!createsSettled(it) || !quiet() || it.toEnd)) continue;
        return it;
      }
      return undefined;
    };
    const newMsg = (kind: Kind, item: Item, body: string | Buffer): Msg => ({
      id: randomUUID(),
      kind,
      item,
      body: Buffer.isBuffer(body) ? body : Buffer.from(body),
      attempts: [],
      receipts: 0,
      statuses: new Set(),
    });
    const largePad = randomBytes(700 * 1024);
    const newItem = (kind: 'create' | 'large' | 'invalid'): Item => {
      const n = seq++;
      const r = rnd();
      const entrance: Entrance = r < 0.4 ? 'loans' : r < 0.8 ? 'support' : 'social';
      const source = entrance === 'social' ? 'social-hub' : rnd() < 0.5 ? 'bank-support' : 'bank-loans';
      const ext = `S${tag}-${String(n).padStart(7, '0')}`;
      const large = kind === 'large';
      const xml = workItemXml({
        externalId: ext,
        source,
        entrance,
        subject: `Soak item ${n}`,
        body: `Item ${n} of the soak ${tag}. `.repeat(4),
        priority: kind === 'invalid' ? 'urgent' : 1 + (n % 10),
        taskType: entrance === 'loans' ? 'loan-review' : entrance === 'support' ? 'support-case' : 'social-post',
        contactData: { CaseUrl: `https://bank.example/cases/${n}` },
        ...(large && {
          // 300..700 KiB of attachment (base64 ≈ 400..930 KiB): over limits.largeMessageBytes (256 KiB).
          attachment: {
            fileName: `scan-${n}.pdf`,
            contentType: 'application/pdf',
            data: Buffer.concat([Buffer.from(`%PDF-1.4 ${ext}\n`), largePad.subarray(0, (300 + Math.floor(rnd() * 400)) * 1024)]),
          },
        }),
        ...(entrance === 'social' && { social: { platform: 'facebook', pageId: '1234', postId: `1234_${n}`, author: 'Jane Doe' } }),
      });
      const item = {
        key: `${source}|${ext}`,
        ext,
        source,
        entrance,
        kind,
        toEnd: kind !== 'invalid' && (large || rnd() < END_FRACTION),
        contactIds: new Set<string>(),
        created: 0,
        createdAt: 0,
        endAfterMs: 1_000 + rnd() * 4_000,
        updates: 0,
        cancelled: false,
        ending: false,
        ended: false,
        errorCopies: 0,
        withdrawn: 0,
      } as Omit<Item, 'create'> as Item;
      item.create = newMsg(kind, item, xml);
      items.set(item.key, item);
      if (kind !== 'invalid') openItems.push(item);
      return item;
    };

    const resendQueue: Msg[] = [];
    const inflight = new Set<Promise<void>>();
    const launch = (msg: Msg): void => {
      const attempt: Attempt = { corr: `${msg.id}#${msg.attempts.length}`, state: 'pending', receipts: 0 };
      msg.attempts.push(attempt);
      byCorr.set(attempt.corr, { msg, attempt });
      const p = sender
        .publish(T.inboundExchange, `workitem.${msg.item.source}`, msg.body, {
          contentType: 'application/xml',
          persistent: true,
          replyTo: replyQueue,
          correlationId: attempt.corr,
          // One message_id per logical message: a resent update is recognised as the same update.
          messageId: msg.id,
        })
        .then(
          () => void (attempt.state = 'confirmed'),
          (err: unknown) => {
            if (!(err instanceof PublishUncertainError)) throw err;
            attempt.state = 'uncertain';
            if (!msg.attempts.some((a) => a.state === 'confirmed')) resendQueue.push(msg);
          },
        );
      const tracked = p.finally(() => inflight.delete(tracked));
      inflight.add(tracked);
    };
    const pick = (): Kind => {
      let r = rnd();
      for (const [k, w] of MIX) if ((r -= w) < 0) return k;
      return 'create';
    };
    let sentMsgs = 0;
    let throttledMs = 0;
    const nextMessage = (): Msg => {
      const kind = pick();
      if (kind === 'update' || kind === 'cancel') {
        const it = pickOpen(kind === 'cancel');
        if (it) {
          if (kind === 'update') {
            it.updates++;
            return newMsg(
              'update',
              it,
              updateXml({
                externalId: it.ext,
                source: it.source,
                inner: `<priority>${1 + Math.floor(rnd() * 10)}</priority><contactData><item key="Note">update ${it.updates}</item></contactData>`,
              }),
            );
          }
          const m = newMsg('cancel', it, cancelXml({ externalId: it.ext, source: it.source }));
          it.cancel = m;
          return m;
        }
        return newItem('create').create;
      }
      return newItem(kind).create;
    };

    const statusTimer = setInterval(() => {
      const live = slots.map((s) => {
        const l = s.lives[s.lives.length - 1];
        const p = l && !l.endedAt ? readProc(l.pid) : undefined;
        return `${s.name}:${p ? `${mb(p.rss)}MB/${p.fds}fd` : 'down'}`;
      });
      const rm = redisMem[redisMem.length - 1];
      note(
        `sent=${sentMsgs} receipted=${receiptedMsgs} created_events=${counts.createdEvents} ended=${counts.endsPublished} ` +
          `closed=[${[...closed].join(',')}] ${live.join(' ')} redis=${rm ? mb(rm.value) : '?'}MB faults=${faultsDone.length}`,
      );
    }, 30_000);
    closers.push(async () => clearInterval(statusTimer));

    note(`traffic for ${MINUTES} min at ${RATE} messages/s; faults planned: ${plan.map((f) => `${f.kind}@${f.at.toFixed(0)}s`).join(' ')}`);
    const flowEnd = flowStartedAt + RUN_S * 1000;
    flowEndsAt = flowEnd;
    let due = Date.now();
    while (Date.now() < flowEnd) {
      if (inflight.size >= SEND_WINDOW) {
        await Promise.race(inflight);
        continue;
      }
      const resend = resendQueue.shift();
      if (resend) {
        counts.resent++;
        launch(resend);
        continue;
      }
      if (sentMsgs - receiptedMsgs > AHEAD) {
        throttledMs += 50;
        await sleep(50);
        due = Date.now();
        continue;
      }
      const wait = due - Date.now();
      if (wait > 0) {
        await sleep(Math.min(wait, 100));
        continue;
      }
      // Steady pace: never more than a second of catch-up after a stall.
      due = Math.max(due, Date.now() - 1000) + 1000 / RATE;
      const msg = nextMessage();
      sentByKind[msg.kind]++;
      sentMsgs++;
      allMsgs.push(msg);
      launch(msg);
    }
    flowDone = true;
    const flowSeconds = (Date.now() - flowStartedAt) / 1000;
    note(`traffic stopped after ${flowSeconds.toFixed(0)} s: ${sentMsgs} messages; waiting for faults and episodes to finish`);
    await Promise.all([faultLoop, entranceLoop, fullLoop]);
    // Unconfirmed publishes are sent again until confirmed (bounded).
    const resendDeadline = Date.now() + 60_000;
    while ((inflight.size > 0 || resendQueue.length > 0) && Date.now() < resendDeadline) {
      const resend = resendQueue.shift();
      if (resend) {
        counts.resent++;
        launch(resend);
      } else await Promise.race([...inflight, sleep(200)]);
    }

    // --- settle: open everything, wait (bounded) until every item has its outcome ----------------------------
    for (const e of ENTRANCES) await publishControl('entrance.opened', { entrance: e, by: 'soak' });
    const settleStart = Date.now();
    const valid = [...items.values()].filter((it) => it.kind !== 'invalid');
    const notDone = (it: Item): boolean => it.created === 0 && !it.cancelled;
    const why = async (): Promise<string | null> => {
      const noEvent = valid.filter(notDone).length;
      const noReceipt = allMsgs.filter((m) => m.receipts === 0).length;
      const invalidOpen = [...items.values()].filter((it) => it.kind === 'invalid' && it.create.receipts === 0).length;
      if (noEvent || noReceipt || invalidOpen)
        return `${noEvent} items without contact.created or cancel, ${noReceipt} messages without receipt`;
      if (endPublishes.size > 0) return `${endPublishes.size} contact.ended publishes pending`;
      const depths = await broker.queueDepths();
      const busy = Object.entries(depths).filter(([n, d]) => d.messages > 0 && !n.startsWith('amq.gen-'));
      if (busy.length) return `queues not empty: ${busy.map(([n, d]) => `${n}=${d.messages}`).join(' ')}`;
      const parked = await Promise.all(ENTRANCES.map((e) => redis.zcard(`${prefix}parked:${e}`)));
      if (parked.some((n) => n > 0)) return `parked in Redis: ${parked.join('/')}`;
      const ended = valid.filter((it) => it.ended);
      const index = ended.length ? await redis.hmget(`${prefix}ext`, ...ended.map((it) => it.key)) : [];
      const still = index.filter((v) => v !== null).length;
      if (still) return `${still} ended items still in Redis`;
      return null;
    };
    let settled = false;
    let lastReason: string | null = 'not checked';
    let lastSignature = '';
    let stableSince = Date.now();
    let lastNoted = 0;
    while (Date.now() - settleStart < SETTLE_S * 1000) {
      const endableLeft = [...endCandidates].filter(createsSettled).length;
      if (!endingStopped && (endableLeft === 0 || Date.now() - settleStart > (SETTLE_S * 1000) / 2)) endingStopped = true;
      lastReason = await why().catch((err: Error) => `check failed: ${err.message.split('\n')[0]}`);
      const signature = `${counts.events}/${counts.receipts}/${counts.endsPublished}/${lastReason}`;
      if (signature !== lastSignature) {
        lastSignature = signature;
        stableSince = Date.now();
      }
      if (lastReason === null && endingStopped && Date.now() - stableSince >= 3_000) {
        settled = true;
        break;
      }
      if (Date.now() - lastNoted > 15_000) {
        lastNoted = Date.now();
        note(`settling: ${lastReason ?? 'steady, confirming'}`);
      }
      await sleep(1_000);
    }
    endingStopped = true;
    const settleSeconds = (Date.now() - settleStart) / 1000;
    note(settled ? `settled after ${settleSeconds.toFixed(0)} s` : `NOT settled within ${SETTLE_S} s: ${lastReason}`);

    // --- the ledger check ---------------------------------------------------------------------------------
    const index = await redis.hgetall(`${prefix}ext`);
    const lost = valid.filter((it) => it.created === 0 && !it.cancelled && ![...it.create.statuses].some((s) => s.startsWith('rejected')));
    const doubles = [...items.values()].filter((it) => it.contactIds.size > 1);
    const missingReceipts = allMsgs.filter((m) => m.receipts === 0);
    const unfinished = valid.filter((it) => !it.ended && !it.cancelled && it.contactIds.size === 1);
    // A cancel whose only answer is NOT_FOUND although the item is gone and no contact.withdrawn came: the cancel
    // took effect (state removed) but its event and receipt did not go out before a crash or broker restart, and
    // the redelivered cancel found nothing. Counted apart from missing_in_redis.
    const cancelLostAnswer = unfinished.filter((it) => it.cancel && index[it.key] === undefined);
    const missingInRedis = unfinished.filter((it) => index[it.key] !== [...it.contactIds][0] && !cancelLostAnswer.includes(it));
    const endedInRedis = valid.filter((it) => (it.ended || it.cancelled) && index[it.key] !== undefined);
    const unexpectedRejections = valid.filter((it) => [...it.create.statuses].some((s) => s.startsWith('rejected')));
    const invalidWithoutRejection = [...items.values()].filter(
      (it) => it.kind === 'invalid' && (![...it.create.statuses].some((s) => s.startsWith('rejected')) || it.errorCopies === 0),
    );
    const statusCount = (kind: Kind): string => {
      const m = new Map<string, number>();
      for (const msg of allMsgs) if (msg.kind === kind) for (const s of msg.statuses) m.set(s, (m.get(s) ?? 0) + 1);
      return [...m].map(([s, n]) => `${s}=${n}`).join(',') || '-';
    };

    // --- slopes ---------------------------------------------------------------------------------------------
    const fmt = (v: number, digits = 2): string => (Number.isNaN(v) ? 'n/a' : `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`);
    const lifeSeconds = (l: Life): number => ((l.endedAt ?? Date.now()) - l.startedAt) / 1000;
    const slopeLines: string[] = [];
    for (const slot of slots) {
      const lives = slot.lives.filter((l) => l.rss.length >= 3);
      const longest = [...lives].sort((a, b) => b.rss.length - a.rss.length)[0];
      const median = (xs: number[]): number => {
        const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
        return s.length ? s[Math.floor(s.length / 2)] : NaN;
      };
      const what =
        slot.kills === 0 && slot.unexpectedExits === 0
          ? 'survivor, whole run'
          : `killed ${slot.kills}x, longest of ${slot.lives.length} lives`;
      if (!longest) {
        slopeLines.push(`  instance ${slot.name} (${what}): too few samples`);
        continue;
      }
      const span = (longest.rss[longest.rss.length - 1].t - longest.rss[0].t) / 1000;
      slopeLines.push(
        `  instance ${slot.name} (${what}: pid ${longest.pid}, ${span.toFixed(0)} s, ${longest.rss.length} samples): ` +
          `RSS ${fmt(slopePerMinute(longest.rss) / 1024 / 1024)} MB/min (${mb(longest.rss[0].value)}→${mb(longest.rss[longest.rss.length - 1].value)} MB), ` +
          `fds ${fmt(slopePerMinute(longest.fds))}/min (${longest.fds[0].value}→${longest.fds[longest.fds.length - 1].value})` +
          (lives.length > 1
            ? `; median over ${lives.length} lives: RSS ${fmt(median(lives.map((l) => slopePerMinute(l.rss))) / 1024 / 1024)} MB/min, ` +
              `fds ${fmt(median(lives.map((l) => slopePerMinute(l.fds))))}/min`
            : ''),
      );
    }
    const memSlope = slopePerMinute(redisMem);
    const unfSlope = slopePerMinute(unfinishedSamples);
    slopeLines.push(
      `  redis used_memory (whole run, across restarts, ${redisMem.length} samples): ${fmt(memSlope / 1024 / 1024)} MB/min ` +
        `(${redisMem.length ? `${mb(redisMem[0].value)}→${mb(redisMem[redisMem.length - 1].value)} MB` : '-'}); ` +
        `unfinished items ${fmt(unfSlope, 1)}/min` +
        (unfSlope > 1 && memSlope > 0 ? ` (≈ ${(memSlope / unfSlope / 1024).toFixed(1)} KiB per added unfinished item)` : ''),
    );

    const faultCount = (k: FaultKind): number => faultsDone.filter((f) => f === k).length;
    const unexpected = slots.reduce((a, s) => a + s.unexpectedExits, 0);
    const lines = [
      '',
      `=== soak summary: ${(flowSeconds / 60).toFixed(1)} min of traffic, settle ${settleSeconds.toFixed(0)} s, seed ${SEED} ===`,
      `sent: ${KINDS.map((k) => `${k}=${sentByKind[k]}`).join(' ')} total=${sentMsgs} (${(sentMsgs / flowSeconds).toFixed(1)}/s, resent=${counts.resent}, throttled ${(throttledMs / 1000).toFixed(0)} s)` +
        ` close/open=${counts.closes}/${counts.opens} full-queue=${counts.fullEpisodes}${counts.fullSkipped ? ` (skipped ${counts.fullSkipped})` : ''} hold=skipped (not in the service yet)`,
      `receipts: create ${statusCount('create')}; large ${statusCount('large')}; invalid ${statusCount('invalid')}; update ${statusCount('update')}; cancel ${statusCount('cancel')}`,
      `events: created=${counts.createdEvents} (replayed ${counts.replayed}) updated=${counts.updatedEvents} withdrawn=${counts.withdrawnEvents} other=${counts.otherEvents}; ` +
        `ended=${counts.endsPublished} unfinished_in_redis=${Object.keys(index).length}`,
      `lost=${lost.length} double_contactIds=${doubles.length} missing_receipts=${missingReceipts.length} missing_in_redis=${missingInRedis.length} ` +
        `ended_in_redis=${endedInRedis.length} unexpected_rejections=${unexpectedRejections.length} invalid_not_rejected=${invalidWithoutRejection.length} ` +
        `cancel_not_found_after_removal=${cancelLostAnswer.length} (no withdrawn: ${cancelLostAnswer.filter((it) => it.withdrawn === 0).length}) ` +
        `settled=${settled ? 'yes' : `no (${lastReason})`} stray=${stray.length}`,
      `faults=${faultsDone.length + counts.fullEpisodes}: kill9=${faultCount('kill9')} broker-restart=${faultCount('broker-restart')} ` +
        `redis-restart=${faultCount('redis-restart')} full-queue=${counts.fullEpisodes}; unexpected instance exits=${unexpected}`,
      `slopes per minute (linear regression over the traffic period, samples every ${SAMPLE_S} s, first ${WARMUP_S} s of each process skipped):`,
      ...slopeLines,
    ];
    const sample = (list: Item[]): string =>
      list
        .slice(0, 5)
        .map(
          (it) =>
            `${it.key} [${it.kind}${it.toEnd ? ',toEnd' : ''}${it.ended ? ',ended' : ''}${it.cancel ? `,cancel:${[...it.cancel.statuses].join('|') || '-'}` : ''}] ` +
            `ids=${[...it.contactIds].join('|') || '-'} created=${it.created} withdrawn=${it.withdrawn} statuses=${[...it.create.statuses].join('|') || '-'} ` +
            `attempts=${it.create.attempts.map((a) => `${a.state}:${a.receipts}`).join(',')} redis=${index[it.key] ?? '-'}`,
        )
        .join('\n  ');
    const details = [
      lost.length ? `lost:\n  ${sample(lost)}` : '',
      doubles.length ? `double contactIds:\n  ${sample(doubles)}` : '',
      missingReceipts.length
        ? `missing receipts (kinds): ${missingReceipts
            .slice(0, 10)
            .map((m) => `${m.kind}:${m.item.key}`)
            .join(' ')}`
        : '',
      missingInRedis.length ? `missing in Redis:\n  ${sample(missingInRedis)}` : '',
      cancelLostAnswer.length ? `cancel answered NOT_FOUND, item removed:\n  ${sample(cancelLostAnswer)}` : '',
      endedInRedis.length ? `ended/cancelled but in Redis:\n  ${sample(endedInRedis)}` : '',
      stray.length ? `stray:\n  ${stray.slice(0, 10).join('\n  ')}` : '',
    ].filter(Boolean);
    mkdirSync(LOG_DIR, { recursive: true });
    const reportFile = path.join(LOG_DIR, `soak-${tag}.txt`);
    const csv = [
      'series,pid,t_s,value',
      ...slots.flatMap((s) =>
        s.lives.flatMap((l) => [
          ...l.rss.map((x) => `rss_${s.name},${l.pid},${((x.t - t0) / 1000).toFixed(1)},${x.value}`),
          ...l.fds.map((x) => `fds_${s.name},${l.pid},${((x.t - t0) / 1000).toFixed(1)},${x.value}`),
        ]),
      ),
      ...redisMem.map((x) => `redis_used_memory,,${((x.t - t0) / 1000).toFixed(1)},${x.value}`),
      ...unfinishedSamples.map((x) => `redis_unfinished,,${((x.t - t0) / 1000).toFixed(1)},${x.value}`),
    ];
    const lifeLines = slots.map(
      (s) =>
        `instance ${s.name} lives: ${s.lives.map((l) => `pid ${l.pid} ${lifeSeconds(l).toFixed(0)} s`).join(', ')}; logs ${s.logFiles.join(' ')}`,
    );
    writeFileSync(reportFile, [...lines, ...details, ...lifeLines, `broker log: ${broker.logFile}`, '', ...csv, ''].join('\n'));
    lines.push(...details, `report (samples as CSV, service logs): ${reportFile}`);
    const ok = lost.length === 0 && doubles.length === 0;
    lines.push(`result: ${ok ? 'PASS' : 'FAIL'} (exit ${ok ? 0 : 1}: lost=0 and double_contactIds=0 ${ok ? 'hold' : 'do not hold'})`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return ok ? 0 : 1;
  } finally {
    await withTimeout(cleanup(), 60_000, 'cleanup').catch((err: Error) => process.stderr.write(`soak: ${err.message}\n`));
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`soak failed: ${err.stack ?? err.message}\n`);
    process.exit(2);
  },
);
