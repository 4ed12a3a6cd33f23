import type { ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { spawnTracked } from '../../tests/helpers/child-reaper';
import { httpRequest } from '../../tests/helpers/http';
import { freePort } from '../../tests/helpers/ports';
import { LOG_DIR, mergeConfig, startService } from '../../tests/helpers/service';
import { BENCH_CONFIG, REPO_ROOT, SERVICE_MAIN, TOPOLOGY_NAMES, sleep, type BenchEnv } from './common';

/** What the benches need of a running service (a subset of the test helpers' ServiceHandle). */
export interface BenchService {
  pid: number;
  /** http://127.0.0.1:<port> of the service's HTTP server (metrics, API). */
  baseUrl: string;
  logs: string[];
  logFile: string;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  waitForLog(match: RegExp | ((line: string) => boolean), timeoutMs?: number): Promise<string>;
}

export interface BenchServiceOptions {
  prefetch: number;
  /** Write a V8 CPU profile of the service's main thread into this directory (`node --cpu-prof`). */
  cpuProfDir?: string;
  /** Default true; false returns right after the spawn (e.g. to watch the start-up replay from its first ms). */
  waitForReady?: boolean;
  config?: object;
  env?: Record<string, string>;
}

/**
 * Starts the real service (`node dist/main.js`) on the bench's vhost and prefix through the test helpers'
 * startService. With cpuProfDir it is spawned here instead, as `node --cpu-prof --cpu-prof-dir=<dir>`,
 * because startService cannot pass node flags (and NODE_OPTIONS refuses --cpu-prof). It is stopped with
 * the bench's cleanup at the latest.
 */
export async function startBenchService(env: BenchEnv, opts: BenchServiceOptions): Promise<BenchService> {
  // The bench's own OTEL_* variables reach the service (the test helpers drop inherited ones): to measure tracing.
  const otel = Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('OTEL_') && e[1] !== undefined),
  );
  const extraEnv = { ...otel, PREFETCH: String(opts.prefetch), ...opts.env };
  if (opts.cpuProfDir) {
    const h = await spawnProfiled(env, opts.cpuProfDir, extraEnv, opts.config ?? {}, opts.waitForReady ?? true);
    env.defer('stop profiled service', () => h.stop('SIGTERM', 30_000));
    return h;
  }
  const h = await startService({
    vhost: env.vhost,
    prefix: env.prefix,
    redisUrl: env.redisUrl,
    entry: SERVICE_MAIN,
    env: extraEnv,
    config: opts.config,
    waitForReady: opts.waitForReady,
    readyTimeoutMs: 60_000,
  });
  env.deferService(h);
  return h;
}

async function spawnProfiled(
  env: BenchEnv,
  dir: string,
  extraEnv: Record<string, string>,
  configOverride: object,
  waitForReady: boolean,
): Promise<BenchService> {
  mkdirSync(dir, { recursive: true });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'workitem-bench-'));
  env.defer('remove temp config', () => rmSync(tmp, { recursive: true, force: true }));
  const configFile = path.join(tmp, 'workitem.json');
  writeFileSync(configFile, JSON.stringify(mergeConfig(BENCH_CONFIG, configOverride)));
  const port = await freePort();
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(childEnv))
    if (/^(AMQP_|REDIS_|HTTP_PORT|PUBLIC_BASE_URL|LOG_LEVEL|PREFETCH|WORKITEM_CONFIG)/.test(k)) delete childEnv[k];
  Object.assign(childEnv, {
    AMQP_URL: env.amqpUrl,
    REDIS_URL: env.redisUrl,
    REDIS_KEY_PREFIX: env.prefix,
    HTTP_PORT: String(port),
    WORKITEM_CONFIG: configFile,
    LOG_LEVEL: 'info',
    ...extraEnv,
  });
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = path.join(LOG_DIR, `${env.vhost}-${Date.now()}-${port}.log`);
  const out = createWriteStream(logFile);
  const child: ChildProcess = spawnTracked(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, SERVICE_MAIN], {
    cwd: REPO_ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const listeners = new Set<(line: string) => void>();
  for (const s of [child.stdout!, child.stderr!]) {
    readline.createInterface({ input: s, crlfDelay: Infinity }).on('line', (line) => {
      logs.push(line);
      out.write(`${line}\n`);
      for (const l of listeners) l(line);
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  const handle: BenchService = {
    pid: child.pid ?? 0,
    baseUrl: `http://127.0.0.1:${port}`,
    logs,
    logFile,
    async stop(signal = 'SIGTERM', timeoutMs = 30_000) {
      if (!done) child.kill(signal);
      const timer = setTimeout(() => !done && child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      out.end();
      if (!process.env.KEEP_LOGS) rmSync(logFile, { force: true });
      return code;
    },
    waitForLog(match, timeoutMs = 10_000) {
      const test = typeof match === 'function' ? match : (l: string) => match.test(l);
      const found = logs.find(test);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(listener);
          reject(new Error(`no log line matching ${String(match)} within ${timeoutMs} ms`));
        }, timeoutMs);
        const listener = (l: string) => {
          if (!test(l)) return;
          clearTimeout(timer);
          listeners.delete(listener);
          resolve(l);
        };
        listeners.add(listener);
      });
    },
  };
  if (!waitForReady) return handle;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !done) {
    const ok = await httpRequest(`http://127.0.0.1:${port}/readyz`, { timeoutMs: 1000 })
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) return handle;
    await sleep(150);
  }
  await handle.stop('SIGKILL');
  throw new Error(`profiled service did not become ready; log tail:\n${logs.slice(-30).join('\n')}`);
}

export interface RelayHandle {
  pid: number;
  stop(): Promise<void>;
}

/** Starts bench/bare-relay as its own node process on the bench's vhost (optionally profiled); resolves once it consumes. */
export function startRelay(env: BenchEnv, prefetch: number, cpuProfDir?: string): Promise<RelayHandle> {
  return startBenchChild('bare-relay.js', 'bare relay', env, prefetch, {}, cpuProfDir);
}

/** Starts bench/naive-consumer (issue 17) as its own node process on the bench's vhost and Redis prefix; resolves once it consumes. */
export function startNaive(env: BenchEnv, prefetch: number, cpuProfDir?: string): Promise<RelayHandle> {
  return startBenchChild(
    'naive-consumer.js',
    'naive consumer',
    env,
    prefetch,
    { REDIS_URL: env.redisUrl, REDIS_PREFIX: env.prefix },
    cpuProfDir,
  );
}

/** One of the bench's own workers (a script in bench/) as its own node process; resolves once it prints `ready`. */
async function startBenchChild(
  script: string,
  what: string,
  env: BenchEnv,
  prefetch: number,
  extraEnv: Record<string, string>,
  cpuProfDir?: string,
): Promise<RelayHandle> {
  const profArgs = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const child = spawnTracked(process.execPath, [...profArgs, path.join(__dirname, '..', script)], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      AMQP_URL: env.amqpUrl,
      PREFETCH: String(prefetch),
      INBOUND_QUEUE: TOPOLOGY_NAMES.inboundQueue,
      EVENTS_EXCHANGE: TOPOLOGY_NAMES.eventsExchange,
      RECEIPTS_EXCHANGE: TOPOLOGY_NAMES.receiptsExchange,
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let done = false;
  void exited.then(() => (done = true));
  const stop = async () => {
    if (!done) child.kill('SIGTERM');
    const timer = setTimeout(() => !done && child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  env.defer(`stop ${what}`, stop);
  await new Promise<void>((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout!, crlfDelay: Infinity });
    rl.on('line', (l) => l === 'ready' && resolve());
    void exited.then(() => reject(new Error(`${what} exited before it was ready`)));
  });
  return { pid: child.pid ?? 0, stop };
}

/**
 * The service's `workitem_processing_seconds` histogram (delivery → confirmed outcome of each inbound message) from
 * its /metrics: count, mean and the share of messages done within each bucket bound. Undefined if not readable.
 */
export async function processingTimes(
  svc: Pick<BenchService, 'baseUrl'>,
): Promise<{ count: number; meanMs: number; buckets: { leMs: number; share: number }[] } | undefined> {
  try {
    const res = await httpRequest(`${svc.baseUrl}/metrics`, { timeoutMs: 5000 });
    if (res.status !== 200) return undefined;
    const text = res.text();
    const sum = (name: string) =>
      [...text.matchAll(new RegExp(`^workitem_processing_seconds_${name}\\{[^}]*\\} (\\S+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
    const count = sum('count');
    const byLe = new Map<number, number>();
    for (const m of text.matchAll(/^workitem_processing_seconds_bucket\{([^}]*)\} (\S+)$/gm)) {
      const le = /le="([^"]+)"/.exec(m[1])?.[1];
      if (!le || le === '+Inf') continue;
      byLe.set(Number(le), (byLe.get(Number(le)) ?? 0) + Number(m[2]));
    }
    const buckets = [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, n]) => ({ leMs: le * 1000, share: count ? n / count : 0 }));
    return { count, meanMs: count ? (sum('sum') / count) * 1000 : NaN, buckets };
  } catch {
    return undefined;
  }
}
