import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { envSchema } from '../../src/config/config';
import { amqpUrl } from './broker';
import { registerExitCleanup, spawnTracked } from './child-reaper';
import { httpRequest } from './http';
import { freePort } from './ports';
import { DEFAULT_REDIS_URL } from './redis';
import { sleep, WaitTimeoutError, withTimeout } from './wait';

/** Runs the real service (`node dist/main.js`) as a child process, configured only through env. */

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const SERVICE_ENTRY = path.join(REPO_ROOT, 'dist/main.js');
export const LOG_DIR = path.join(os.tmpdir(), 'workitem-test-logs');

/** Entrances loans/support/social and the Facebook page 1234 → social, like the shared examples expect. */
export const DEFAULT_TEST_CONFIG: Readonly<Record<string, unknown>> = Object.freeze({
  taskKey: 'WorkItemTask',
  entrances: {
    loans: { displayName: 'Loans' },
    support: { displayName: 'Customer support' },
    social: { displayName: 'Social media' },
  },
  social: {
    facebook: {
      displayName: 'Facebook',
      pages: { '1234': { entrance: 'social', displayName: 'Bank on Facebook' } },
    },
  },
});

/**
 * Env the service reads, derived from the config's env schema (so a setting added there is covered here), plus the
 * standard OpenTelemetry and AWS variables the SDKs read: inherited values are dropped so the developer's shell
 * cannot leak into a test.
 */
const SERVICE_ENV_PREFIXES = ['OTEL_', 'AWS_'];
function isServiceEnvKey(key: string): boolean {
  return Object.hasOwn(envSchema.shape, key) || SERVICE_ENV_PREFIXES.some((p) => key.startsWith(p));
}

export interface StartServiceOptions {
  vhost: string;
  redisUrl?: string;
  prefix: string;
  /** Deep-merged over DEFAULT_TEST_CONFIG; arrays replace, a `null` value removes the key. */
  config?: object;
  /** Extra env, applied last (may override AMQP_URL etc.). */
  env?: Record<string, string>;
  /** Default: a free port. Pass the old handle's port to restart on the same address. */
  httpPort?: number;
  /** Default true. False: return right after spawning (e.g. to assert that start-up fails). */
  waitForReady?: boolean;
  readyTimeoutMs?: number;
  /** Script to run instead of dist/main.js (the harness tests use a stub). */
  entry?: string;
}

export interface ServiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServiceHandle {
  pid: number;
  port: number;
  baseUrl: string;
  /** stdout and stderr lines, in arrival order. */
  logs: string[];
  logFile: string;
  configFile: string;
  /** The merged config the service was started with. */
  config: Record<string, unknown>;
  /** Signals, waits up to timeoutMs, then SIGKILLs; resolves with the exit code (null if killed by a signal). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  kill9(): Promise<void>;
  exited: Promise<ServiceExit>;
  /** Log lines that parse as JSON objects. */
  jsonLogs(): Record<string, unknown>[];
  /** Resolves with the first log line matching (already logged or arriving within timeoutMs). */
  waitForLog(match: RegExp | ((line: string) => boolean), timeoutMs?: number): Promise<string>;
}

const live = new Set<ServiceHandle>();

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

export function mergeConfig(base: object, over: object): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(base) as Record<string, unknown>;
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    if (value === null) delete out[key];
    else if (isPlainObject(value) && isPlainObject(out[key])) out[key] = mergeConfig(out[key] as object, value);
    else out[key] = structuredClone(value);
  }
  return out;
}

function tail(lines: string[], n = 60): string {
  return lines.slice(-n).join('\n');
}

export async function startService(opts: StartServiceOptions): Promise<ServiceHandle> {
  const entry = opts.entry ?? SERVICE_ENTRY;
  if (!existsSync(entry)) throw new Error(`${entry} not found: run \`npm run build\` before the integration tests`);

  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'workitem-svc-'));
  const unregisterCleanup = registerExitCleanup(() => rmSync(tmpDir, { recursive: true, force: true }));
  const config = mergeConfig(DEFAULT_TEST_CONFIG, opts.config ?? {});
  const configFile = path.join(tmpDir, 'workitem.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));

  const port = opts.httpPort ?? (await freePort());
  const baseUrl = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (isServiceEnvKey(key)) delete env[key];
  Object.assign(env, {
    AMQP_URL: amqpUrl(opts.vhost),
    REDIS_URL: opts.redisUrl ?? DEFAULT_REDIS_URL,
    REDIS_KEY_PREFIX: opts.prefix,
    HTTP_PORT: String(port),
    WORKITEM_CONFIG: configFile,
    LOG_LEVEL: 'info',
    ...opts.env,
  });

  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = path.join(LOG_DIR, `${opts.vhost}-${Date.now()}-${port}.log`);
  const logStream = createWriteStream(logFile);
  const logs: string[] = [];
  const lineListeners = new Set<(line: string) => void>();

  const child: ChildProcess = spawnTracked(process.execPath, [entry], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  // A service a test forgot to stop must not keep jest alive: the child and its pipes are unref'd;
  // child-reaper kills it when the test file (or process) ends.
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as net.Socket | null)?.unref();
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  // Later errors (e.g. a failed kill) must not become unhandled 'error' events.
  child.on('error', (err) => onLine(`[test-harness] child process error: ${err.message}`));

  const onLine = (line: string): void => {
    logs.push(line);
    if (!logStream.writableEnded) logStream.write(`${line}\n`);
    for (const listener of lineListeners) listener(line);
  };
  const streamsClosed = Promise.all(
    [child.stdout, child.stderr].map((stream) => {
      const rl = readline.createInterface({ input: stream!, crlfDelay: Infinity });
      rl.on('line', onLine);
      return new Promise<void>((resolve) => rl.once('close', resolve));
    }),
  );

  const exited = new Promise<ServiceExit>((resolve) => {
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (done) return;
      done = true;
      // Let the pipes drain so the last log lines are captured, but never wait on them forever.
      void withTimeout(streamsClosed, 2_000, 'service stdio to close')
        .catch(() => undefined)
        // The log file is complete once stop() resolves (a test may read it right away).
        .then(() => withTimeout(new Promise<void>((r) => logStream.end(() => r())), 2_000, 'log file to flush').catch(() => undefined))
        .then(() => {
          live.delete(handle);
          unregisterCleanup();
          rmSync(tmpDir, { recursive: true, force: true });
          resolve({ code, signal });
        });
    };
    child.once('exit', finish);
    // A child that never spawned emits no 'exit'.
    child.once('error', () => child.pid === undefined && finish(null, null));
  });
  let hasExited = false;
  void exited.then(() => (hasExited = true));

  const kill = (signal: NodeJS.Signals): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };

  const handle: ServiceHandle = {
    pid: 0,
    port,
    baseUrl,
    logs,
    logFile,
    configFile,
    config,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000) {
      kill(signal);
      try {
        return (await withTimeout(exited, timeoutMs, `service pid ${child.pid} to exit after ${signal}`)).code;
      } catch {
        kill('SIGKILL');
        return (await exited).code;
      }
    },
    async kill9() {
      kill('SIGKILL');
      await exited;
    },
    jsonLogs() {
      const out: Record<string, unknown>[] = [];
      for (const line of logs) {
        try {
          const parsed: unknown = JSON.parse(line);
          if (isPlainObject(parsed)) out.push(parsed);
        } catch {
          // not a JSON line (e.g. a stack trace on stderr)
        }
      }
      return out;
    },
    waitForLog(match, timeoutMs = 10_000) {
      const test = typeof match === 'function' ? match : (line: string) => match.test(line);
      const found = logs.find(test);
      if (found !== undefined) return Promise.resolve(found);
      let listener: ((line: string) => void) | undefined;
      const hit = new Promise<string>((resolve) => {
        listener = (line) => test(line) && resolve(line);
        lineListeners.add(listener);
      });
      return withTimeout(hit, timeoutMs, `log line matching ${String(match)}; log tail:\n${tail(logs, 20)}`).finally(() =>
        lineListeners.delete(listener!),
      );
    },
  };
  live.add(handle);

  try {
    await spawned;
  } catch (err) {
    await handle.kill9();
    throw new Error(`cannot spawn ${entry}: ${(err as Error).message}`, { cause: err });
  }
  handle.pid = child.pid!;
  if (opts.waitForReady === false) return handle;

  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + readyTimeoutMs;
  let lastProblem = 'no answer yet';
  while (!hasExited) {
    try {
      const res = await httpRequest(`${baseUrl}/readyz`, { timeoutMs: 1_000 });
      if (res.status === 200) return handle;
      lastProblem = `HTTP ${res.status} ${res.text().slice(0, 300)}`;
    } catch (err) {
      lastProblem = (err as Error).message;
    }
    if (Date.now() >= deadline) break;
    await sleep(150);
  }
  const why = hasExited
    ? `exited before becoming ready (${JSON.stringify(await exited)})`
    : `not ready within ${readyTimeoutMs} ms (last /readyz: ${lastProblem})`;
  await handle.kill9();
  throw new WaitTimeoutError(`service ${why}; log ${logFile}, tail:\n${tail(logs)}`);
}

/** Stops every service still running in this process (for afterAll): SIGTERM, then SIGKILL after timeoutMs. */
export async function stopAllServices(timeoutMs = 10_000): Promise<void> {
  await Promise.all([...live].map((h) => h.stop('SIGTERM', timeoutMs)));
}
