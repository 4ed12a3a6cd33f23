import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registerExitCleanup, spawnTracked, waitForExit } from './child-reaper';
import { freePort } from './ports';
import { waitUntil, withTimeout } from './wait';

/**
 * A private, single RabbitMQ node as a child process, for fault tests that stop, restart or kill the broker
 * without touching the system node (rabbit@localhost:5672).
 *
 * - Node name `wifault<random>@localhost`, its own AMQP port and distribution port (free ports), its own
 *   data (`RABBITMQ_MNESIA_BASE`), logs, config file and an empty enabled-plugins file (`[].`: no management
 *   listener that could collide with the system node's 15672).
 * - Cookie: a private HOME holds `.erlang.cookie` for the node and for rabbitmqctl alike, so the CLI can
 *   always authenticate (the system node's cookie lives in /var/lib/rabbitmq and is not readable by us) and
 *   this node can never talk to another node on the machine. `/etc/rabbitmq/rabbitmq-env.conf` is not read
 *   (RABBITMQ_CONF_ENV_FILE points at an empty file): it would set NODENAME=rabbit@localhost.
 * - The start script is called directly (`/usr/lib/rabbitmq/bin/rabbitmq-server`, not /usr/sbin's wrapper,
 *   which `su`s to the rabbitmq user and resets HOME), not detached, with RUNNING_UNDER_SYSTEMD=true so the
 *   script execs the VM: the spawned child *is* beam.smp, kill -9 hits the broker itself and the kernel's
 *   pdeathsig (child-reaper) reaches it if the test process dies.
 * - No definitions are imported, so RabbitMQ seeds vhost `/` and guest/guest (loopback only: fine here).
 * - restart() keeps the data dir: durable queues and persistent messages survive, like a real restart.
 *
 * Boot takes ~3-10 s. Wait: `rabbitmqctl -n <node> await_startup`, retried until the node is registered.
 */

const SBIN = process.env.RABBITMQ_SCRIPTS_DIR ?? (existsSync('/usr/lib/rabbitmq/bin/rabbitmq-server') ? '/usr/lib/rabbitmq/bin' : '');
const bin = (name: string): string => (SBIN ? path.join(SBIN, name) : name);

const BOOT_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 60_000;
const CTL_TIMEOUT_MS = 60_000;

export interface StartRabbitNodeOptions {
  /** Extra rabbitmq.conf lines. */
  extraConf?: string[];
  /** Node name prefix; default `wifault`. */
  prefix?: string;
  /** Plugins to enable, e.g. `['rabbitmq_prometheus']` (set its port with extraConf); default none. */
  plugins?: string[];
}

export interface RabbitNode {
  /** AMQP port (loopback). */
  readonly port: number;
  readonly distPort: number;
  /** e.g. `wifault3fa2c1@localhost` */
  readonly nodename: string;
  /** `amqp://guest:guest@127.0.0.1:<port>` (vhost `/`). */
  readonly url: string;
  readonly dir: string;
  /** The node's stdout/stderr (its console log). */
  readonly logFile: string;
  /** Pid of beam.smp, 0 when down. */
  readonly pid: number;
  readonly running: boolean;
  /** Graceful stop (SIGTERM: the VM shuts RabbitMQ down cleanly), then removes the data dir. Final. */
  stop(): Promise<void>;
  /** Crash: SIGKILL to beam.smp (pid from the pid file). Data stays; restart() shows what survived. */
  kill9(): Promise<void>;
  /** Graceful stop if running, then start again on the same name, ports and data dir; waits for boot. */
  restart(): Promise<void>;
  /** rabbitmqctl against this node, e.g. ctl(['list_queues', 'name', 'messages']). */
  ctl(args: string[], timeoutMs?: number): Promise<string>;
  /** Messages ready + unacked per queue of vhost `/`. */
  queueDepths(): Promise<Record<string, { messages: number; ready: number; unacked: number }>>;
}

function runFile(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = CTL_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err)
        reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${err.message.split('\n')[0]}\n${stderr}${stdout}`.trim()));
      else resolve(stdout);
    });
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startRabbitNode(opts: StartRabbitNodeOptions = {}): Promise<RabbitNode> {
  const nodename = `${opts.prefix ?? 'wifault'}${randomBytes(4).toString('hex')}@localhost`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'workitem-rabbit-node-'));
  const port = await freePort();
  let distPort = await freePort();
  while (distPort === port) distPort = await freePort();

  const home = path.join(dir, 'home');
  mkdirSync(home);
  mkdirSync(path.join(dir, 'log'));
  const cookie = path.join(home, '.erlang.cookie');
  writeFileSync(cookie, randomBytes(20).toString('hex').toUpperCase());
  chmodSync(cookie, 0o400);
  const envConf = path.join(dir, 'rabbitmq-env.conf');
  writeFileSync(envConf, '');
  const plugins = path.join(dir, 'enabled_plugins');
  writeFileSync(plugins, `[${(opts.plugins ?? []).join(',')}].\n`);
  const confFile = path.join(dir, 'rabbitmq.conf');
  writeFileSync(
    confFile,
    [
      `listeners.tcp.default = 127.0.0.1:${port}`,
      // A test machine's disk is shared; the 3.x default (50 MB) is fine, the project's 1 GB is for production.
      'disk_free_limit.absolute = 100MB',
      'consumer_timeout = 1800000',
      'log.console = true',
      'log.console.level = info',
      'log.file = false',
      ...(opts.extraConf ?? []),
      '',
    ].join('\n'),
  );
  const pidFile = path.join(dir, 'node.pid');
  const logFile = path.join(dir, 'node.log');

  const commonEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    RABBITMQ_CONF_ENV_FILE: envConf,
    ERL_EPMD_ADDRESS: '127.0.0.1',
  };
  const nodeEnv: NodeJS.ProcessEnv = {
    ...commonEnv,
    RABBITMQ_NODENAME: nodename,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(dir, 'log'),
    RABBITMQ_CONFIG_FILE: confFile,
    RABBITMQ_ADVANCED_CONFIG_FILE: path.join(dir, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: plugins,
    RABBITMQ_PLUGINS_EXPAND_DIR: path.join(dir, 'plugins-expand'),
    RABBITMQ_PID_FILE: pidFile,
    // The start script execs the VM instead of waiting on it in a shell (see above).
    RUNNING_UNDER_SYSTEMD: 'true',
    ERL_FLAGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };

  let child: ChildProcess | null = null;
  let stopped = false;
  // The beam pid, also killed at exit in case the child handle is gone (belt and braces to pdeathsig).
  let beamPid = 0;
  const unregisterCleanup = registerExitCleanup(() => {
    if (beamPid && pidAlive(beamPid)) {
      try {
        process.kill(beamPid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const alive = (): boolean => !!child && child.exitCode === null && child.signalCode === null;
  const ctl = (args: string[], timeoutMs?: number): Promise<string> =>
    runFile(bin('rabbitmqctl'), ['-n', nodename, '-q', ...args], commonEnv, timeoutMs);
  const logTail = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n') : '(no log)');

  const readPidFile = (): number => {
    try {
      const n = Number(readFileSync(pidFile, 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : 0;
    } catch {
      return 0;
    }
  };

  const launch = (): void => {
    rmSync(pidFile, { force: true });
    const fd = openSync(logFile, 'a');
    try {
      const c = spawnTracked(bin('rabbitmq-server'), [], { env: nodeEnv, stdio: ['ignore', fd, fd], cwd: dir });
      c.on('error', (err) => writeFileSync(logFile, `[test-harness] spawn error: ${err.message}\n`, { flag: 'a' }));
      child = c;
      beamPid = c.pid ?? 0;
    } finally {
      closeSync(fd);
    }
  };

  const awaitBoot = async (): Promise<void> => {
    // await_startup fails at once while the node is not yet registered with epmd: retry until it answers.
    await waitUntil(
      async () => {
        if (!alive()) throw new Error(`node ${nodename} exited (${child?.exitCode ?? child?.signalCode})`);
        await ctl(['await_startup', '--timeout', '60'], 70_000);
        return true;
      },
      { timeoutMs: BOOT_TIMEOUT_MS, intervalMs: 500, describe: () => `node ${nodename} to boot; log:\n${logTail()}` },
    );
    beamPid = readPidFile() || beamPid;
  };

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (!c || !alive()) return;
    // The pid file names beam.smp; with RUNNING_UNDER_SYSTEMD it is the child itself.
    const pid = readPidFile() || c.pid;
    if (pid) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
    if (pid !== c.pid) c.kill(signal);
    try {
      await withTimeout(waitForExit(c), signal === 'SIGKILL' ? 15_000 : STOP_TIMEOUT_MS, `node ${nodename} to exit after ${signal}`);
    } catch {
      c.kill('SIGKILL');
      if (pid && pidAlive(pid)) process.kill(pid, 'SIGKILL');
      await withTimeout(waitForExit(c), 15_000, `node ${nodename} to die`);
    }
    // epmd forgets the name when the VM's connection to it closes; a restart right away must not race it.
    if (pid) await waitUntil(() => !pidAlive(pid), { timeoutMs: 10_000, describe: `pid ${pid} gone` }).catch(() => undefined);
  };

  const start = async (): Promise<void> => {
    if (stopped) throw new Error('restart() after stop(): the node and its data are gone');
    if (alive()) return;
    launch();
    await awaitBoot();
  };

  const node: RabbitNode = {
    port,
    distPort,
    nodename,
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    dir,
    logFile,
    get pid() {
      return alive() ? readPidFile() || (child?.pid ?? 0) : 0;
    },
    get running() {
      return alive();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await terminate('SIGTERM').catch(() => terminate('SIGKILL'));
      unregisterCleanup();
      rmSync(dir, { recursive: true, force: true });
    },
    kill9: () => terminate('SIGKILL'),
    async restart() {
      await terminate('SIGTERM');
      await start();
    },
    ctl,
    async queueDepths() {
      const out = await ctl(['list_queues', 'name', 'messages', 'messages_ready', 'messages_unacknowledged', '--formatter', 'json']);
      const rows = JSON.parse(out) as { name: string; messages: number; messages_ready: number; messages_unacknowledged: number }[];
      const res: Record<string, { messages: number; ready: number; unacked: number }> = {};
      for (const r of rows) res[r.name] = { messages: r.messages, ready: r.messages_ready, unacked: r.messages_unacknowledged };
      return res;
    },
  };

  try {
    await start();
  } catch (err) {
    await node.stop().catch(() => undefined);
    throw err;
  }
  return node;
}
