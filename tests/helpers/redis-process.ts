import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { registerExitCleanup, spawnTracked, waitForExit } from './child-reaper';
import { freePort } from './ports';
import { sleep, WaitTimeoutError, withTimeout } from './wait';

/**
 * An extra, private redis-server for fault tests (kill it, restart it, lose or keep its data)
 * without touching the shared Redis. Its data dir is a temp dir, removed on stop() or at exit.
 */

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;

export interface StartRedisOptions {
  port?: number;
  /** AOF persistence; default true. */
  appendonly?: boolean;
  /** Default `always`, so data acknowledged before a kill9() is never lost (deterministic tests). */
  appendfsync?: 'always' | 'everysec' | 'no';
  /** Extra command-line arguments, e.g. ['--maxmemory-policy', 'allkeys-lru']. */
  args?: string[];
  /** TLS only (`--port 0 --tls-port <port>`); url becomes rediss://. PEM file paths. */
  tls?: RedisTlsOptions;
}

export interface RedisTlsOptions {
  certFile: string;
  keyFile: string;
  caFile: string;
  /** `yes`: mutual TLS (a client certificate signed by caFile is required). */
  authClients: 'no' | 'optional' | 'yes';
  /** Client certificate and key the readiness PING uses when authClients is `yes`. */
  clientCertFile?: string;
  clientKeyFile?: string;
}

export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  /** Pid of the current redis-server (changes on restart). */
  readonly pid: number;
  readonly dir: string;
  /** Graceful shutdown (SIGTERM: redis flushes the AOF), then removes the data dir. Final. */
  stop(): Promise<void>;
  /** Crash: SIGKILL. The data dir stays, so restart() shows what survived. */
  kill9(): Promise<void>;
  /** Stops gracefully if running, then starts again on the same port and data dir. */
  restart(): Promise<void>;
}

/** Resolves once the server answers PING on the port (PONG, or NOAUTH when it requires a password). */
function ping(port: number, tlsOpts?: RedisTlsOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsOpts
      ? tls.connect({
          host: '127.0.0.1',
          port,
          ca: readFileSync(tlsOpts.caFile),
          ...(tlsOpts.clientCertFile && tlsOpts.clientKeyFile
            ? { cert: readFileSync(tlsOpts.clientCertFile), key: readFileSync(tlsOpts.clientKeyFile) }
            : {}),
        })
      : net.connect({ host: '127.0.0.1', port });
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once(tlsOpts ? 'secureConnect' : 'connect', () => socket.write('PING\r\n'));
    // -NOAUTH: up, with --requirepass.
    socket.once('data', (d) => finish(/^(\+PONG|-NOAUTH)/.test(d.toString())));
  });
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisProcess> {
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'workitem-redis-'));
  const logFile = path.join(dir, 'redis.log');
  const unregisterCleanup = registerExitCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const t = opts.tls;
  const listen = t
    ? [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        t.certFile,
        '--tls-key-file',
        t.keyFile,
        '--tls-ca-cert-file',
        t.caFile,
        '--tls-auth-clients',
        t.authClients,
      ]
    : ['--port', String(port)];
  const args = [
    ...listen,
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    opts.appendonly === false ? 'no' : 'yes',
    '--appendfsync',
    opts.appendfsync ?? 'always',
    '--dir',
    dir,
    '--logfile',
    logFile,
    '--daemonize',
    'no',
    ...(opts.args ?? []),
  ];
  let child: ChildProcess | undefined;
  let stopped = false;

  const logTail = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n') : '(no log)');

  const launch = async (): Promise<void> => {
    const c = spawnTracked(REDIS_SERVER, args, { stdio: 'ignore' });
    let spawnError: Error | undefined;
    c.on('error', (err) => (spawnError = err));
    child = c;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await ping(port, t))) {
      if (spawnError) throw new Error(`cannot start ${REDIS_SERVER}: ${spawnError.message}`);
      if (c.exitCode !== null || Date.now() > deadline) {
        c.kill('SIGKILL');
        await withTimeout(waitForExit(c), STOP_TIMEOUT_MS, 'redis-server to die').catch(() => undefined);
        throw new WaitTimeoutError(`redis-server on port ${port} did not start (exit ${c.exitCode}); log:\n${logTail()}`);
      }
      await sleep(50);
    }
  };

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill(signal);
    try {
      await withTimeout(waitForExit(c), STOP_TIMEOUT_MS, `redis-server pid ${c.pid} to exit after ${signal}`);
    } catch {
      c.kill('SIGKILL');
      await waitForExit(c);
    }
  };

  const cleanup = (): void => {
    stopped = true;
    unregisterCleanup();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await launch();
  } catch (err) {
    cleanup();
    throw err;
  }

  return {
    port,
    url: `${t ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    dir,
    get pid() {
      return child?.pid ?? 0;
    },
    async stop() {
      if (stopped) return;
      await terminate('SIGTERM');
      cleanup();
    },
    async kill9() {
      await terminate('SIGKILL');
    },
    async restart() {
      if (stopped) throw new Error('restart() after stop(): the redis-server and its data are gone');
      await terminate('SIGTERM');
      await launch();
    },
  };
}
