import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as amqp from 'amqplib';
import { buildTopology, type Topology } from '../../src/adapters/rabbitmq/topology';
import { assertTopology } from '../../src/adapters/rabbitmq/assert-topology';
import { amqpUrl, createVhost, deleteVhost } from '../../tests/helpers/broker';
import { DEFAULT_REDIS_URL, deleteByPrefix, randomPrefix } from '../../tests/helpers/redis';
import { DEFAULT_TEST_CONFIG, type ServiceHandle } from '../../tests/helpers/service';
import { DEFAULT_TOPOLOGY } from '../../tests/helpers/amqp-client';
import { reapAll } from '../../tests/helpers/child-reaper';
import { workItemXml } from '../../tests/helpers/work-items';

/** Shared plumbing of the benchmarks: arguments, environment, feeding, collecting, statistics, RSS. */

/** The repository root (the folder whose package.json is this project's), wherever the bench was compiled to. */
export const REPO_ROOT = ((): string => {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && /"name":\s*"workitem-server"/.test(readFileSync(pkg, 'utf8'))) return dir;
    if (path.dirname(dir) === dir) throw new Error('cannot find the repository root above ' + __dirname);
  }
})();
export const SERVICE_MAIN = path.join(REPO_ROOT, 'dist/main.js');
export const TOPOLOGY_NAMES = DEFAULT_TOPOLOGY;
export const SOURCE = 'bank-support';
export const ROUTING_KEY = `workitem.${SOURCE}`;

export function now(): number {
  return performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---------------------------------------------------------------------------------------------- arguments

export interface CommonArgs {
  quick: boolean;
  prefetch: number;
  values: Record<string, string | boolean | undefined>;
}

/** `--quick`, `--strict`, `--prefetch=N` (default: env PREFETCH or 64) plus the bench's own options (`--name=value`). */
export function parseBenchArgs(extra: Record<string, { type: 'string' | 'boolean' }> = {}): CommonArgs {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean' }, prefetch: { type: 'string' }, strict: { type: 'boolean' }, ...extra },
    allowPositionals: false,
    strict: true,
  });
  const prefetch = Number(values.prefetch ?? process.env.PREFETCH ?? 64);
  if (!Number.isInteger(prefetch) || prefetch < 1) throw new Error('--prefetch / PREFETCH must be a positive integer');
  return { quick: values.quick === true, prefetch, values: values as Record<string, string | boolean | undefined> };
}

export function numArg(args: CommonArgs, name: string, full: number, quick: number): number {
  const raw = args.values[name];
  const v = raw === undefined ? (args.quick ? quick : full) : Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

// ---------------------------------------------------------------------------------------------- environment

/** The service config the benches run with: the test defaults (entrances loans/support/social). */
export const BENCH_CONFIG = DEFAULT_TEST_CONFIG;

export function benchTopology(): Topology {
  const entrances = Object.fromEntries(
    Object.keys(BENCH_CONFIG.entrances as object).map((name) => [name, { name, displayName: name, maxParked: 1, maxParkSeconds: 1 }]),
  );
  return buildTopology({ topology: TOPOLOGY_NAMES, entrances });
}

/**
 * One bench run's broker vhost and Redis prefix, plus everything to undo at the end (LIFO), also on
 * Ctrl-C: services and relays are stopped, connections closed, the vhost and the prefix deleted.
 */
export class BenchEnv {
  readonly redisUrl = DEFAULT_REDIS_URL;
  readonly prefix = randomPrefix();
  vhost = '';
  private readonly cleanups: { what: string; fn: () => Promise<unknown> | unknown }[] = [];
  private cleaning: Promise<void> | null = null;
  private isChild = false;

  static async create(name: string): Promise<BenchEnv> {
    const env = new BenchEnv();
    env.vhost = await createVhost();
    env.defer('delete vhost', () => deleteVhost(env.vhost));
    env.defer('delete Redis keys', () => deleteByPrefix(env.redisUrl, env.prefix));
    const onSignal = (sig: NodeJS.Signals) => {
      process.stderr.write(`\n${name}: ${sig}, cleaning up…\n`);
      void env.cleanup().finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    log(`${name}: vhost ${env.vhost}, Redis prefix ${env.prefix}, ${os.cpus().length} CPUs, node ${process.version}`);
    return env;
  }

  /**
   * A fresh vhost and Redis prefix on the same broker and Redis (e.g. one per worker measured side by side).
   * Its `cleanup()` undoes what was deferred on it (workers stopped, vhost and keys deleted) and may run early;
   * otherwise this env runs it at its own cleanup.
   */
  async fork(): Promise<BenchEnv> {
    const child = new BenchEnv();
    child.isChild = true;
    child.vhost = await createVhost();
    child.defer('delete vhost', () => deleteVhost(child.vhost));
    child.defer('delete Redis keys', () => deleteByPrefix(child.redisUrl, child.prefix));
    this.defer(`clean up vhost ${child.vhost}`, () => child.cleanup());
    return child;
  }

  get amqpUrl(): string {
    return amqpUrl(this.vhost);
  }

  defer(what: string, fn: () => Promise<unknown> | unknown): void {
    this.cleanups.push({ what, fn });
  }

  /** A service handle to stop at the end (if still running), its log file removed unless KEEP_LOGS is set. */
  deferService(h: ServiceHandle): void {
    this.defer('stop service', async () => {
      await h.stop('SIGTERM', 30_000);
      if (!process.env.KEEP_LOGS) rmSync(h.logFile, { force: true });
    });
  }

  cleanup(): Promise<void> {
    this.cleaning ??= (async () => {
      for (const c of this.cleanups.reverse()) {
        try {
          await c.fn();
        } catch (err) {
          process.stderr.write(`cleanup (${c.what}) failed: ${(err as Error).message}\n`);
        }
      }
      if (!this.isChild) await reapAll();
    })();
    return this.cleaning;
  }
}

/**
 * Runs a bench's main with cleanup; a failure prints the error and exits 1. `main` returns whether the
 * bench's goals were met: with `--strict` a missed goal exits 3 (by default the exit code only says
 * whether the bench ran, since shared CI machines make timing goals flaky).
 */
export function runBench(name: string, main: (env: BenchEnv) => Promise<boolean>): void {
  let env: BenchEnv | undefined;
  (async () => {
    env = await BenchEnv.create(name);
    return main(env);
  })()
    .then(async (goalsMet) => {
      await env?.cleanup();
      const strict = process.argv.includes('--strict');
      if (strict && !goalsMet) process.stderr.write(`${name}: goals not met (--strict)\n`);
      process.exit(strict && !goalsMet ? 3 : 0);
    })
    .catch(async (err: Error) => {
      process.stderr.write(`${name} failed: ${err.stack ?? err.message}\n`);
      await env?.cleanup();
      process.exit(1);
    });
}

export function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------------- broker

export async function connect(url: string, name: string): Promise<amqp.ChannelModel> {
  return amqp.connect(url, { clientProperties: { connection_name: `bench ${name}` } });
}

/** Declares exactly what the service declares, so items can be pre-loaded before it starts. */
export async function declareTopology(conn: amqp.ChannelModel): Promise<void> {
  const ch = await conn.createChannel();
  await assertTopology(ch, benchTopology());
  await ch.close();
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

// ---------------------------------------------------------------------------------------------- statistics

/** Arrival minus send time (ms) for each id that has both. */
function latenciesOf(sentAt: Map<string, number>, arrivedAt: Map<string, number>, idList: string[]): number[] {
  const out: number[] = [];
  for (const id of idList) {
    const s = sentAt.get(id);
    const a = arrivedAt.get(id);
    if (s !== undefined && a !== undefined) out.push(a - s);
  }
  return out;
}

export interface Stats {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function stats(values: number[]): Stats {
  if (values.length === 0) return { n: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    n: s.length,
    p50: r(q(0.5)),
    p90: r(q(0.9)),
    p99: r(q(0.99)),
    max: r(s[s.length - 1]),
    mean: r(s.reduce((a, b) => a + b, 0) / s.length),
  };
}

export function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Samples VmRSS of a process every 100 ms (and reads the kernel's own peak, VmHWM). Sizes in MB. */
export class RssSampler {
  private timer: NodeJS.Timeout;
  peakMb = 0;
  hwmMb = 0;
  samples = 0;

  constructor(
    readonly pid: number,
    intervalMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const rss = /VmRSS:\s+(\d+) kB/.exec(status);
      const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
      if (rss) this.peakMb = Math.max(this.peakMb, Number(rss[1]) / 1024);
      if (hwm) this.hwmMb = Math.max(this.hwmMb, Number(hwm[1]) / 1024);
      this.samples++;
    } catch {
      // the process has exited (or /proc is not there): keep what we have
    }
  }

  /** Peak so far without stopping; the "peak" of the sampler restarts from the current value. */
  stop(): { peakMb: number; hwmMb: number; samples: number } {
    this.sample();
    clearInterval(this.timer);
    return { peakMb: round(this.peakMb, 1), hwmMb: round(this.hwmMb, 1), samples: this.samples };
  }
}

/** user+system CPU seconds a process (all its threads) has used so far, from /proc/<pid>/stat; NaN if unknown. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

/** User and system CPU seconds of a process (all its threads) or of one thread so far, from /proc; NaN if unknown. */
export function cpuTimes(pid: number, thread?: number): { user: number; system: number } {
  try {
    const stat = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux)
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
  } catch {
    return { user: NaN, system: NaN };
  }
}

/**
 * The pid of the local RabbitMQ node (a beam.smp process) that listens on the AMQP port, to read its CPU
 * use; several nodes may run (e.g. a test's own broker), so the listening socket decides. Undefined if not
 * found (remote broker, no /proc).
 */
export function brokerPid(port = Number(new URL(amqpUrl('/')).port || 5672)): number | undefined {
  return listenerPid(port, 'beam.smp');
}

/** The pid of the local redis-server that listens on the bench's Redis port (undefined if not found), to read its CPU use. */
export function redisPid(port = Number(new URL(DEFAULT_REDIS_URL).port || 6379)): number | undefined {
  return listenerPid(port, 'redis-server');
}

/** The pid of a local process named `comm` that has a socket listening on `port`. */
function listenerPid(port: number, comm: string): number | undefined {
  try {
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    const inodes = new Set<string>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      if (!existsSync(table)) continue;
      for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        // local_address is f[1] (ip:port), st is f[3] (0A = LISTEN), inode is f[9]
        if (f.length > 9 && f[1].endsWith(`:${hexPort}`) && f[3] === '0A') inodes.add(`socket:[${f[9]}]`);
      }
    }
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() !== comm) continue;
        for (const fd of readdirSync(`/proc/${d}/fd`)) {
          if (inodes.has(readlinkSync(`/proc/${d}/fd/${fd}`))) return Number(d);
        }
      } catch {
        // gone meanwhile, or not ours to read
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}

/** read- and write-type system calls (read/readv/recv…, write/writev/send…) a process has made so far, all threads. */
export function ioSyscalls(pid: number): { reads: number; writes: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    return { reads: Number(/syscr: (\d+)/.exec(io)?.[1] ?? NaN), writes: Number(/syscw: (\d+)/.exec(io)?.[1] ?? NaN) };
  } catch {
    return { reads: NaN, writes: NaN };
  }
}

/** CPU seconds used by a set of processes between start() and stop(). */
export class CpuMeter {
  private readonly start: { user: number; system: number }[];
  /** System CPU seconds of each process over the same span (after stop()). */
  system: number[] = [];

  constructor(private readonly pids: (number | undefined)[]) {
    this.start = pids.map((p) => (p ? cpuTimes(p) : { user: NaN, system: NaN }));
  }

  stop(): number[] {
    const end = this.pids.map((p) => (p ? cpuTimes(p) : { user: NaN, system: NaN }));
    this.system = end.map((e, i) => round(e.system - this.start[i].system, 2));
    return end.map((e, i) => round(e.user + e.system - this.start[i].user - this.start[i].system, 2));
  }
}

/** The machine a result was measured on; loadavg shows whether other work shared the CPUs. */
export function machine(): {
  cpus: number;
  cpuModel: string;
  memGb: number;
  node: string;
  loadavg1m: number;
  commit: string;
  srcDirty: boolean | null;
} {
  const cpus = os.cpus();
  const git = (...a: string[]): string | null => {
    try {
      return execFileSync('git', a, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
    } catch {
      return null;
    }
  };
  const status = git('--no-optional-locks', 'status', '--porcelain', '--', 'src');
  return {
    commit: git('rev-parse', '--short', 'HEAD') ?? 'unknown',
    srcDirty: status === null ? null : status !== '',
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? '?',
    memGb: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    loadavg1m: round(os.loadavg()[0], 2),
  };
}

/** The last line a bench prints: one JSON object, for CI and docs. */
export function printJson(result: object): void {
  log(JSON.stringify(result));
}

export function fmtStats(s: Stats): string {
  return `p50 ${s.p50} ms, p99 ${s.p99} ms (n=${s.n}, max ${s.max} ms)`;
}
