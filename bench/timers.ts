import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Redis from 'ioredis';
import type * as amqp from 'amqplib';
import { RedisStateStore } from '../src/adapters/redis/redis-state-store';
import { toContactRecord } from '../src/domain/contact-event';
import type { WorkItem } from '../src/domain/work-item';
import { workItemXml } from '../tests/helpers/work-items';
import {
  TOPOLOGY_NAMES,
  connect,
  declareTopology,
  fmtStats,
  log,
  machine,
  numArg,
  parseBenchArgs,
  printJson,
  round,
  runBench,
  Sender,
  SOURCE,
  sleep,
  stats,
  type Stats,
} from './lib/common';
import { startBenchService, type BenchService } from './lib/processes';

/**
 * Issue 16: how precisely do <expiresAt> and <activateAt> fire? Sends N items whose expiresAt (then N whose
 * activateAt) are spread over a window a few seconds ahead, to `--instances` services on one vhost and Redis prefix,
 * and measures each contact.expired / contact.created against its due time: lateness = arrival at a consumer of
 * contact.events − due time (and the service's own publish time, the event's createdAt − due time). Counts
 * duplicates (each must fire once). Then (unless --no-idle) seeds `--scheduled` items far in the future straight into
 * Redis with the service's state store and shows what they cost: service RSS before/after and the time of one claim
 * round with that many entries waiting (an index lookup, not a scan; the poller runs one per kind per second at most).
 *
 * Options: --quick (300 items, 10 000 idle) --n=1000 --window=10 (seconds) --lead=6 (seconds) --instances=1 --scheduled=100000 --no-idle --strict
 * Goal: p99 lateness (arrival) < 5 000 ms for both kinds, no duplicates, no missing events.
 */

const args = parseBenchArgs({
  n: { type: 'string' },
  window: { type: 'string' },
  lead: { type: 'string' },
  instances: { type: 'string' },
  scheduled: { type: 'string' },
  'no-idle': { type: 'boolean' },
});
const N = Math.round(numArg(args, 'n', 1000, 300));
const WINDOW_MS = numArg(args, 'window', 10, 5) * 1000;
const LEAD_MS = numArg(args, 'lead', 6, 4) * 1000;
const INSTANCES = Math.round(numArg(args, 'instances', 1, 1));
const SCHEDULED = Math.round(numArg(args, 'scheduled', 100_000, 10_000));
const GOAL_P99_MS = 5_000;

interface Arrival {
  at: number;
  createdAt: number;
  type: string;
}

/** Wall-clock arrival of every contact.expired / contact.created, by externalId (duplicates counted). */
class Collector {
  readonly first = new Map<string, Arrival>();
  duplicates = 0;
  private constructor(private readonly conn: amqp.ChannelModel) {}

  static async open(url: string): Promise<Collector> {
    const conn = await connect(url, 'timer collector');
    const c = new Collector(conn);
    const ch = await conn.createChannel();
    await ch.assertExchange(TOPOLOGY_NAMES.eventsExchange, 'topic', { durable: true });
    const { queue } = await ch.assertQueue('bench.timer-events', { exclusive: true, durable: false });
    await ch.bindQueue(queue, TOPOLOGY_NAMES.eventsExchange, 'contact.expired.#');
    await ch.bindQueue(queue, TOPOLOGY_NAMES.eventsExchange, 'contact.created.#');
    await ch.consume(
      queue,
      (m) => {
        if (!m) return;
        const at = Date.now();
        const ev = JSON.parse(m.content.toString('utf8')) as { type: string; externalId: string; createdAt: string; replayed?: boolean };
        if (ev.replayed) return;
        const key = `${ev.type}|${ev.externalId}`;
        if (c.first.has(key)) c.duplicates++;
        else c.first.set(key, { at, createdAt: Date.parse(ev.createdAt), type: ev.type });
      },
      { noAck: true },
    );
    return c;
  }

  count(type: string, prefix: string): number {
    let n = 0;
    for (const k of this.first.keys()) if (k.startsWith(`${type}|${prefix}`)) n++;
    return n;
  }

  async close(): Promise<void> {
    await this.conn.close().catch(() => undefined);
  }
}

interface KindResult {
  kind: 'expiresAt' | 'activateAt';
  sent: number;
  fired: number;
  duplicates: number;
  arrival: Stats;
  publish: Stats;
  /** Items sent before the first due time, as a share of the lead: the send took this long. */
  sendSeconds: number;
}

async function measure(kind: 'expiresAt' | 'activateAt', sender: Sender, collector: Collector): Promise<KindResult> {
  const tag = `${kind === 'expiresAt' ? 'EXP' : 'ACT'}-${Date.now()}`;
  const start = Date.now() + LEAD_MS;
  const due = new Map<string, number>();
  const t0 = Date.now();
  const confirms: Promise<void>[] = [];
  for (let i = 0; i < N; i++) {
    const externalId = `${tag}-${i}`;
    const at = start + Math.floor((i * WINDOW_MS) / N) + Math.floor(Math.random() * 7); // ms precision, not whole seconds
    due.set(externalId, at);
    const when = new Date(at).toISOString();
    const xml = workItemXml({ externalId, subject: 'timer bench', ...(kind === 'expiresAt' ? { expiresAt: when } : { activateAt: when }) });
    confirms.push((await sender.publish(externalId, Buffer.from(xml))).confirmed);
  }
  await Promise.all(confirms);
  const sendSeconds = (Date.now() - t0) / 1000;
  if (Date.now() > start) log(`  warning: sending took ${sendSeconds.toFixed(1)} s, longer than the lead; raise --lead`);
  const type = kind === 'expiresAt' ? 'contact.expired' : 'contact.created';
  const deadline = start + WINDOW_MS + 30_000;
  while (collector.count(type, tag) < N && Date.now() < deadline) await sleep(100);
  await sleep(2_000); // late duplicates
  const arrival: number[] = [];
  const publish: number[] = [];
  for (const [externalId, d] of due) {
    const a = collector.first.get(`${type}|${externalId}`);
    if (!a) continue;
    arrival.push(a.at - d);
    publish.push(a.createdAt - d);
  }
  return {
    kind,
    sent: N,
    fired: arrival.length,
    duplicates: collector.duplicates,
    arrival: stats(arrival),
    publish: stats(publish),
    sendSeconds: round(sendSeconds, 1),
  };
}

function farItem(i: number): WorkItem {
  const contactData: Record<string, string> = Object.create(null);
  contactData.WorkItemTask = 'test-task';
  return {
    externalId: `IDLE-${i}`,
    source: SOURCE,
    entrance: 'loans',
    priority: 5,
    subject: 'scheduled far ahead',
    contactData,
    taskType: 'test-task',
  };
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? round(Number(m[1]) / 1024, 1) : NaN;
  } catch {
    return NaN;
  }
}

async function idleCost(env: { redisUrl: string; prefix: string }, services: BenchService[]) {
  const redis = new Redis(env.redisUrl, { lazyConnect: true, enableAutoPipelining: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const store = new RedisStateStore(redis, env.prefix, 3600);
    const probe = async () => {
      const t = process.hrtime.bigint();
      for (let i = 0; i < 50; i++) await store.claimDueActivations(Date.now(), 200, 60_000);
      return round(Number(process.hrtime.bigint() - t) / 1e6 / 50, 3);
    };
    await sleep(2_000);
    const before = { rssMb: services.map((s) => rssMb(s.pid)), claimMs: await probe() };
    log(`  idle, nothing scheduled: service RSS ${before.rssMb.join(', ')} MB; one claim round ${before.claimMs} ms`);
    const t0 = Date.now();
    const far = Date.now() + 20 * 86_400_000;
    for (let start = 0; start < SCHEDULED; start += 1000) {
      const batch: Promise<unknown>[] = [];
      for (let i = start; i < Math.min(SCHEDULED, start + 1000); i++) {
        const nowMs = Date.now();
        const record = toContactRecord(farItem(i), `wi-${randomUUID()}`, new Date(nowMs).toISOString());
        const at = new Date(far + i * 1000).toISOString();
        batch.push(store.accept({ record, maxParked: 10_000, nowMs, activateAt: { text: at, ms: Date.parse(at) } }));
      }
      await Promise.all(batch);
    }
    const seeded = await redis.zcard(`${env.prefix}due:activate`);
    log(`  seeded ${seeded} scheduled items (20+ days ahead) into Redis in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await sleep(3_000);
    await sleep(5_000); // a few poller rounds with them waiting
    const after = { rssMb: services.map((s) => rssMb(s.pid)), claimMs: await probe() };
    log(
      `  idle, ${seeded} scheduled: service RSS ${after.rssMb.join(', ')} MB; one claim round ${after.claimMs} ms (an index lookup, not a scan)`,
    );
    return { scheduled: seeded, before, after };
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

runBench('timers', async (env) => {
  log(
    `items ${N} per kind, due over ${WINDOW_MS / 1000} s starting ${LEAD_MS / 1000} s ahead, ${INSTANCES} instance(s)${args.quick ? ' (quick)' : ''}`,
  );
  const setup = await connect(env.amqpUrl, 'setup');
  env.defer('close setup connection', () => setup.close());
  await declareTopology(setup);
  const collector = await Collector.open(env.amqpUrl);
  env.defer('close collector', () => collector.close());
  const services: BenchService[] = [];
  for (let i = 0; i < INSTANCES; i++) services.push(await startBenchService(env, { prefetch: args.prefetch }));
  const sender = await Sender.open(env.amqpUrl, 'timer sender', 500);
  env.defer('close sender', () => sender.close());

  const results: KindResult[] = [];
  for (const kind of ['expiresAt', 'activateAt'] as const) {
    log(`${kind}:`);
    const r = await measure(kind, sender, collector);
    results.push(r);
    log(`  fired ${r.fired}/${r.sent}, duplicates ${r.duplicates}; sent in ${r.sendSeconds} s`);
    log(`  lateness at the consumer: ${fmtStats(r.arrival)}`);
    log(`  lateness of the publish:   ${fmtStats(r.publish)}`);
  }
  const idle = args.values['no-idle'] === true ? null : await idleCost(env, services);
  const ok = results.every((r) => r.fired === r.sent && r.duplicates === 0 && r.arrival.p99 < GOAL_P99_MS);
  log('');
  log(
    `timers summary: ${results.map((r) => `${r.kind} p50 ${r.arrival.p50} ms, p99 ${r.arrival.p99} ms (${r.fired}/${r.sent}, ${r.duplicates} dup)`).join('; ')} — goal p99 < ${GOAL_P99_MS} ms: ${ok ? 'met' : 'NOT met'}`,
  );
  printJson({
    bench: 'timers',
    quick: args.quick,
    machine: machine(),
    instances: INSTANCES,
    itemsPerKind: N,
    windowSeconds: WINDOW_MS / 1000,
    results,
    idle,
    goals: { p99LatenessMs: GOAL_P99_MS, met: ok },
  });
  return ok;
});
