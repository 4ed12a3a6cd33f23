import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Redis from 'ioredis';
import type * as amqp from 'amqplib';
import { RedisStateStore } from '../src/adapters/redis/redis-state-store';
import { toContactRecord } from '../src/domain/contact-event';
import { escalationPlan } from '../src/domain/escalation';
import type { EscalationRule } from '../src/domain/task-types';
import type { WorkItem } from '../src/domain/work-item';
import { startRedis } from '../tests/helpers/redis-process';
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
  type BenchEnv,
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
 * Escalation (issue 25 part 2, unless --no-escalation), on a private redis-server so that its command count is the
 * service's alone: `--instances` services with a task type whose rules are `before PT1H` → 7 and `after PT0S` → 9.
 * First what waiting rules cost while nothing is due: Redis commands/s (INFO total_commands_processed) and the
 * services' CPU (/proc/<pid>/stat) over `--idle-window` seconds with nothing waiting, then with `--waiting` items
 * (seeded with the service's own script, dueAt 20+ days ahead: two rules each) waiting; the Redis memory of the rules
 * and one escalation claim round. Then the lateness when many come due: `--escalations` items (priority 7, dueAt
 * spread over the window) each get contact.updated (reason escalation, priority 9) at its dueAt: arrival − dueAt.
 *
 * Options: --quick (300 items, 10 000 idle and waiting, 10 s idle windows) --n=1000 --window=10 (seconds) --lead=6
 * (seconds) --instances=1 --scheduled=100000 --no-idle --escalations=1000 --waiting=100000 --idle-window=30 (seconds)
 * --no-escalation --strict
 * Goal: p99 lateness (arrival) < 5 000 ms for every kind, no duplicates, no missing events.
 */

const args = parseBenchArgs({
  n: { type: 'string' },
  window: { type: 'string' },
  lead: { type: 'string' },
  instances: { type: 'string' },
  scheduled: { type: 'string' },
  'no-idle': { type: 'boolean' },
  escalations: { type: 'string' },
  waiting: { type: 'string' },
  'idle-window': { type: 'string' },
  'no-escalation': { type: 'boolean' },
});
const N = Math.round(numArg(args, 'n', 1000, 300));
const WINDOW_MS = numArg(args, 'window', 10, 5) * 1000;
const LEAD_MS = numArg(args, 'lead', 6, 4) * 1000;
const INSTANCES = Math.round(numArg(args, 'instances', 1, 1));
const SCHEDULED = Math.round(numArg(args, 'scheduled', 100_000, 10_000));
const ESCALATIONS = Math.round(numArg(args, 'escalations', 1000, 300));
const WAITING = Math.round(numArg(args, 'waiting', 100_000, 10_000));
const IDLE_WINDOW_MS = numArg(args, 'idle-window', 30, 10) * 1000;
const ESC_TASK = 'esc-bench';
const ESC_RULES: EscalationRule[] = [
  { offsetMs: -3_600_000, text: 'before PT1H', priority: 7 },
  { offsetMs: 0, text: 'after PT0S', priority: 9 },
];
const GOAL_P99_MS = 5_000;

interface Arrival {
  at: number;
  createdAt: number;
  type: string;
}

/**
 * Wall-clock arrival of every event of the bound keys (default contact.expired / contact.created), by type and
 * externalId (duplicates counted); contact.updated only when an escalation published it.
 */
class Collector {
  readonly first = new Map<string, Arrival>();
  duplicates = 0;
  private constructor(private readonly conn: amqp.ChannelModel) {}

  static async open(url: string, keys = ['contact.expired.#', 'contact.created.#']): Promise<Collector> {
    const conn = await connect(url, 'timer collector');
    const c = new Collector(conn);
    const ch = await conn.createChannel();
    await ch.assertExchange(TOPOLOGY_NAMES.eventsExchange, 'topic', { durable: true });
    const { queue } = await ch.assertQueue('bench.timer-events', { exclusive: true, durable: false });
    for (const key of keys) await ch.bindQueue(queue, TOPOLOGY_NAMES.eventsExchange, key);
    await ch.consume(
      queue,
      (m) => {
        if (!m) return;
        const at = Date.now();
        const ev = JSON.parse(m.content.toString('utf8')) as {
          type: string;
          externalId: string;
          createdAt: string;
          replayed?: boolean;
          reason?: string;
        };
        if (ev.replayed || (ev.type === 'contact.updated' && ev.reason !== 'escalation')) return;
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
  kind: 'expiresAt' | 'activateAt' | 'escalation';
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

/** The clock ticks per second of /proc/<pid>/stat (USER_HZ; 100 on Linux nearly always). */
const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system) a process used so far, in seconds. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

async function redisInfo(redis: Redis, section: string, field: string): Promise<number> {
  const m = new RegExp(`^${field}:(\\d+)`, 'm').exec(await redis.info(section));
  return m ? Number(m[1]) : NaN;
}

interface IdleWindow {
  seconds: number;
  /** Commands the private Redis processed per second (the services' alone: nothing else uses it). */
  redisCommandsPerSecond: number;
  /** Each service's CPU over the window, % of one core. */
  serviceCpuPercent: number[];
  serviceRssMb: number[];
}

/** What the services cost while nothing is due: Redis commands/s and their CPU over IDLE_WINDOW_MS. */
async function idleWindow(redis: Redis, services: BenchService[]): Promise<IdleWindow> {
  const c0 = await redisInfo(redis, 'stats', 'total_commands_processed');
  const cpu0 = services.map((s) => cpuSeconds(s.pid));
  const t0 = Date.now();
  await sleep(IDLE_WINDOW_MS);
  const c1 = await redisInfo(redis, 'stats', 'total_commands_processed');
  const cpu1 = services.map((s) => cpuSeconds(s.pid));
  const seconds = (Date.now() - t0) / 1000;
  return {
    seconds: round(seconds, 1),
    // The first INFO is counted in c1 (not in c0): one command of ours.
    redisCommandsPerSecond: round((c1 - c0 - 1) / seconds, 2),
    serviceCpuPercent: cpu1.map((c, i) => round(((c - cpu0[i]) / seconds) * 100, 2)),
    serviceRssMb: services.map((s) => rssMb(s.pid)),
  };
}

const fmtIdle = (w: IdleWindow): string =>
  `Redis ${w.redisCommandsPerSecond} commands/s, service CPU ${w.serviceCpuPercent.join(', ')} % of a core, RSS ${w.serviceRssMb.join(', ')} MB (${w.seconds} s)`;

/** `--waiting` items with two rules each, 20+ days ahead, seeded with the service's own accept script. */
async function seedWaiting(store: RedisStateStore): Promise<void> {
  const far = Date.now() + 20 * 86_400_000;
  for (let start = 0; start < WAITING; start += 1000) {
    const batch: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(WAITING, start + 1000); i++) {
      const nowMs = Date.now();
      const dueMs = far + i * 1000;
      const dueAt = new Date(dueMs).toISOString();
      const record = toContactRecord({ ...farItem(i), taskType: ESC_TASK, dueAt }, `wi-${randomUUID()}`, new Date(nowMs).toISOString());
      record.contactData.WorkItemTask = ESC_TASK;
      const plan = escalationPlan(ESC_RULES, dueMs);
      batch.push(store.accept({ record, maxParked: 10_000, nowMs, dueAt: { text: dueAt, ms: dueMs }, escalation: { plan, done: 0 } }));
    }
    await Promise.all(batch);
  }
}

interface EscalationResult {
  instances: number;
  waiting: number;
  idleNothingWaiting: IdleWindow;
  idleWithWaiting: IdleWindow;
  /** Redis memory of the rules per waiting item: its due:escalate entry and its escPlan/escDone fields. */
  rulesBytesPerItem: { dueEntry: number; fields: number };
  /** Redis used_memory growth per seeded item (the whole item, its other indexes included). */
  usedMemoryPerItemBytes: number;
  /** One escalation claim round (what every poll runs) with the items waiting, nothing due. */
  claimRoundMs: number;
  lateness: KindResult;
}

/**
 * Escalation on its own private Redis and vhost (so the Redis command count is the services' alone): the idle cost of
 * waiting rules, then the lateness when many come due.
 */
async function escalation(env: BenchEnv): Promise<EscalationResult> {
  const redisProc = await startRedis({ appendonly: false });
  env.defer('stop private redis', () => redisProc.stop());
  const world = await env.fork();
  const setup = await connect(world.amqpUrl, 'escalation setup');
  env.defer('close escalation setup connection', () => setup.close());
  await declareTopology(setup);
  // contact.created too: an item whose event no queue takes is parked (and then escalates without an event).
  const collector = await Collector.open(world.amqpUrl, ['contact.created.#', 'contact.updated.#']);
  env.defer('close escalation collector', () => collector.close());
  const config = {
    taskTypes: {
      [ESC_TASK]: {
        escalation: [
          { before: 'PT1H', priority: 7 },
          { after: 'PT0S', priority: 9 },
        ],
      },
    },
  };
  const services: BenchService[] = [];
  for (let i = 0; i < INSTANCES; i++) {
    services.push(await startBenchService(world, { prefetch: args.prefetch, config, env: { REDIS_URL: redisProc.url } }));
  }
  const redis = new Redis(redisProc.url, { lazyConnect: true, enableAutoPipelining: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  env.defer('close private redis client', () => redis.quit().catch(() => redis.disconnect()));
  const store = new RedisStateStore(redis, world.prefix, 3600);

  await sleep(3_000);
  const idleNothingWaiting = await idleWindow(redis, services);
  log(`  idle, nothing waiting: ${fmtIdle(idleNothingWaiting)}`);
  const mem0 = await redisInfo(redis, 'memory', 'used_memory');
  const t0 = Date.now();
  await seedWaiting(store);
  const waiting = await redis.zcard(`${world.prefix}due:escalate`);
  const mem1 = await redisInfo(redis, 'memory', 'used_memory');
  log(`  seeded ${waiting} routed items with two rules each (20+ days ahead) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const dueEntry = round(Number(await redis.call('MEMORY', 'USAGE', `${world.prefix}due:escalate`, 'SAMPLES', '0')) / waiting);
  const first = await redis.zrange(`${world.prefix}due:escalate`, 0, 0);
  const item = `${world.prefix}item:${first[0]}`;
  const fields = (await redis.hstrlen(item, 'escPlan')) + 'escPlan'.length + (await redis.hstrlen(item, 'escDone')) + 'escDone'.length;
  await sleep(5_000); // a few poller rounds with them waiting
  const idleWithWaiting = await idleWindow(redis, services);
  log(`  idle, ${waiting} waiting:    ${fmtIdle(idleWithWaiting)}`);
  const tc = process.hrtime.bigint();
  for (let i = 0; i < 50; i++) await store.claimDueEscalations(Date.now(), 200, 60_000);
  const claimRoundMs = round(Number(process.hrtime.bigint() - tc) / 1e6 / 50, 3);
  log(
    `  rules' Redis memory per item: due:escalate entry ${dueEntry} B + escPlan/escDone ${fields} B; whole item ${round((mem1 - mem0) / waiting)} B; one claim round ${claimRoundMs} ms`,
  );

  log(`escalation lateness (${ESCALATIONS} items coming due over ${WINDOW_MS / 1000} s, ${waiting} waiting):`);
  const sender = await Sender.open(world.amqpUrl, 'escalation sender', 500);
  env.defer('close escalation sender', () => sender.close());
  const tag = `ESC-${Date.now()}`;
  const start = Date.now() + LEAD_MS;
  const due = new Map<string, number>();
  const ts = Date.now();
  const confirms: Promise<void>[] = [];
  for (let i = 0; i < ESCALATIONS; i++) {
    const externalId = `${tag}-${i}`;
    const at = start + Math.floor((i * WINDOW_MS) / ESCALATIONS) + Math.floor(Math.random() * 7);
    due.set(externalId, at);
    const xml = workItemXml({
      externalId,
      subject: 'escalation bench',
      taskType: ESC_TASK,
      priority: 7,
      dueAt: new Date(at).toISOString(),
    });
    confirms.push((await sender.publish(externalId, Buffer.from(xml))).confirmed);
  }
  await Promise.all(confirms);
  const sendSeconds = (Date.now() - ts) / 1000;
  if (Date.now() > start) log(`  warning: sending took ${sendSeconds.toFixed(1)} s, longer than the lead; raise --lead`);
  const deadline = start + WINDOW_MS + 30_000;
  while (collector.count('contact.updated', tag) < ESCALATIONS && Date.now() < deadline) await sleep(100);
  await sleep(2_000); // late duplicates
  const arrival: number[] = [];
  const publish: number[] = [];
  for (const [externalId, d] of due) {
    const a = collector.first.get(`contact.updated|${externalId}`);
    if (!a) continue;
    arrival.push(a.at - d);
    publish.push(a.createdAt - d);
  }
  const lateness: KindResult = {
    kind: 'escalation',
    sent: ESCALATIONS,
    fired: arrival.length,
    duplicates: collector.duplicates,
    arrival: stats(arrival),
    publish: stats(publish),
    sendSeconds: round(sendSeconds, 1),
  };
  log(`  fired ${lateness.fired}/${lateness.sent}, duplicates ${lateness.duplicates}; sent in ${lateness.sendSeconds} s`);
  log(`  lateness at the consumer: ${fmtStats(lateness.arrival)}`);
  log(`  lateness of the publish:   ${fmtStats(lateness.publish)}`);
  return {
    instances: INSTANCES,
    waiting,
    idleNothingWaiting,
    idleWithWaiting,
    rulesBytesPerItem: { dueEntry, fields },
    usedMemoryPerItemBytes: round((mem1 - mem0) / waiting),
    claimRoundMs,
    lateness,
  };
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
  // The first services go: the escalation phase measures its own on a private Redis.
  for (const s of services) await s.stop('SIGTERM', 30_000);
  let esc: EscalationResult | null = null;
  if (args.values['no-escalation'] !== true) {
    log(`escalation (${INSTANCES} instance(s), private Redis):`);
    esc = await escalation(env);
    results.push(esc.lateness);
  }
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
    escalation: esc && { ...esc, lateness: undefined },
    goals: { p99LatenessMs: GOAL_P99_MS, met: ok },
  });
  return ok;
});
