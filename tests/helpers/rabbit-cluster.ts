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
 * A private RabbitMQ cluster of local nodes (child processes), for scale-out and fault tests.
 *
 * Each node has its own node name (`<prefix><i>_<tag>@localhost`), AMQP port, distribution port, data
 * and log dirs, and an empty enabled-plugins file (no management listener to collide with the system
 * node). The nodes and the CLI share an Erlang cookie through a private HOME (`<dir>/home/.erlang.cookie`),
 * so they can never talk to another node on this machine (e.g. the system `rabbit@localhost`), and
 * `/etc/rabbitmq/rabbitmq-env.conf` is not read (RABBITMQ_CONF_ENV_FILE points at an empty file).
 *
 * Node configuration reuses the project's `rabbitmq/rabbitmq.conf` (message size, consumer timeout,
 * watermarks) minus its definitions/logging lines, and imports `rabbitmq/dev-users.json`, so the broker
 * has exactly the accounts the compose files have (`workitem` / `workitem-dev`, `admin`; no guest).
 *
 * Nodes 2..n join node 1 with `stop_app; join_cluster; start_app`. A node killed with kill9() keeps its
 * data dir and rejoins the cluster on start(). Everything started here is killed by pid in stop() (and by
 * child-reaper / pdeathsig if the test process dies first); the temp dir is removed.
 */

const REPO_ROOT = path.resolve(__dirname, '../..');
const SBIN = process.env.RABBITMQ_SCRIPTS_DIR ?? (existsSync('/usr/lib/rabbitmq/bin/rabbitmq-server') ? '/usr/lib/rabbitmq/bin' : '');
/** The scripts themselves, not /usr/sbin's wrapper: run as root that one `su`s to rabbitmq and resets HOME. */
const bin = (name: string): string => (SBIN ? path.join(SBIN, name) : name);

const CTL_TIMEOUT_MS = 60_000;
const BOOT_TIMEOUT_MS = 90_000;

export const CLUSTER_USER = 'workitem';
export const CLUSTER_PASSWORD = 'workitem-dev';

export interface RabbitClusterOptions {
  /** Number of nodes, default 3. */
  size?: number;
  /** Node names are `<prefix><i>_<random tag>@localhost`; default `wic`. */
  prefix?: string;
  /** Extra rabbitmq.conf lines for every node. */
  extraConf?: string[];
}

export interface RabbitClusterNode {
  readonly index: number;
  /** Erlang node name, e.g. `wic1_3fa2@localhost`. */
  readonly name: string;
  readonly port: number;
  readonly distPort: number;
  /** amqp://workitem:workitem-dev@127.0.0.1:<port> */
  readonly url: string;
  /** Pid of the node's beam.smp (the spawned process itself: the start script execs erl). 0 when down. */
  readonly pid: number;
  readonly running: boolean;
  readonly logFile: string;
  /** Crash: SIGKILL the node's VM. Data stays; start() brings it back into the cluster. */
  kill9(): Promise<void>;
  /** Starts the node again (same name, ports, data) and waits until it has booted. */
  start(): Promise<void>;
}

export interface ConnectionInfo {
  /** Node the connection is on (from the connection pid). */
  node: string;
  /** `connection_name` client property, when the client set one. */
  connectionName?: string;
  user: string;
  port: number;
}

export interface QuorumMember {
  node: string;
  raftState: string;
}

export interface RabbitCluster {
  readonly dir: string;
  readonly nodes: RabbitClusterNode[];
  /** One AMQP URL per node, node 1 first. */
  readonly urls: string[];
  /** The URLs comma-separated, as AMQP_URL takes them. */
  readonly amqpUrl: string;
  node(name: string): RabbitClusterNode;
  /** rabbitmqctl against `node` (default: the first running node). */
  ctl(args: string[], node?: RabbitClusterNode): Promise<string>;
  /** rabbitmq-queues against `node` (default: the first running node). */
  queuesCtl(args: string[], node?: RabbitClusterNode): Promise<string>;
  /** Names of the nodes the cluster reports as running. */
  runningNodes(): Promise<string[]>;
  /** Every client connection in the cluster (asked from one running node). */
  connections(): Promise<ConnectionInfo[]>;
  /** Members of a quorum queue and their Raft state. */
  quorumMembers(queue: string, vhost?: string): Promise<QuorumMember[]>;
  /** Kills every node (by pid) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
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

/** The project's rabbitmq.conf without the lines that only make sense in the container (definitions dir, logging). */
function baseConf(): string[] {
  const conf = readFileSync(path.join(REPO_ROOT, 'rabbitmq/rabbitmq.conf'), 'utf8');
  return conf
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#') && !/^(definitions|log)\./.test(l));
}

export async function startRabbitCluster(opts: RabbitClusterOptions = {}): Promise<RabbitCluster> {
  const size = opts.size ?? 3;
  const tag = randomBytes(3).toString('hex');
  const prefix = opts.prefix ?? 'wic';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'workitem-rabbit-cluster-'));
  const unregisterCleanup = registerExitCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const home = path.join(dir, 'home');
  mkdirSync(home);
  const cookie = path.join(home, '.erlang.cookie');
  writeFileSync(cookie, randomBytes(20).toString('hex').toUpperCase());
  chmodSync(cookie, 0o400);
  const envConf = path.join(dir, 'rabbitmq-env.conf');
  writeFileSync(envConf, '');
  const plugins = path.join(dir, 'enabled_plugins');
  writeFileSync(plugins, '[].\n');

  // Loopback only, like the system node; a private HOME carries the cookie for nodes and CLI alike.
  const commonEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    RABBITMQ_CONF_ENV_FILE: envConf,
    ERL_EPMD_ADDRESS: '127.0.0.1',
  };
  const ctlEnv = commonEnv;

  type NodeState = {
    index: number;
    name: string;
    port: number;
    distPort: number;
    logFile: string;
    env: NodeJS.ProcessEnv;
    child: ChildProcess | null;
  };
  const states: NodeState[] = [];
  for (let i = 1; i <= size; i++) {
    const name = `${prefix}${i}_${tag}@localhost`;
    const port = await freePort();
    let distPort = await freePort();
    while (distPort === port) distPort = await freePort();
    const nodeDir = path.join(dir, `node${i}`);
    mkdirSync(path.join(nodeDir, 'log'), { recursive: true });
    const confFile = path.join(nodeDir, 'rabbitmq.conf');
    writeFileSync(
      confFile,
      [
        ...baseConf(),
        `listeners.tcp.1 = 127.0.0.1:${port}`,
        'definitions.import_backend = local_filesystem',
        `definitions.local.path = ${path.join(REPO_ROOT, 'rabbitmq/dev-users.json')}`,
        'definitions.skip_if_unchanged = true',
        // Enough for a small test machine: the project's 1 GB free-disk limit is meant for production.
        'disk_free_limit.absolute = 200MB',
        'log.console = true',
        'log.console.level = info',
        'log.file = false',
        ...(opts.extraConf ?? []),
        '',
      ].join('\n'),
    );
    states.push({
      index: i,
      name,
      port,
      distPort,
      logFile: path.join(nodeDir, 'node.log'),
      child: null,
      env: {
        ...commonEnv,
        RABBITMQ_NODENAME: name,
        RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
        RABBITMQ_NODE_PORT: String(port),
        RABBITMQ_DIST_PORT: String(distPort),
        RABBITMQ_MNESIA_BASE: path.join(nodeDir, 'mnesia'),
        RABBITMQ_LOG_BASE: path.join(nodeDir, 'log'),
        RABBITMQ_ENABLED_PLUGINS_FILE: plugins,
        RABBITMQ_PLUGINS_EXPAND_DIR: path.join(nodeDir, 'plugins-expand'),
        RABBITMQ_CONFIG_FILE: confFile,
        RABBITMQ_ADVANCED_CONFIG_FILE: path.join(nodeDir, 'advanced.config'),
        RABBITMQ_PID_FILE: path.join(nodeDir, 'node.pid'),
        // The start script then execs the VM instead of waiting on it in a shell: the spawned pid is
        // beam.smp's, so kill -9 hits the broker itself and pdeathsig (child-reaper) reaches it.
        RUNNING_UNDER_SYSTEMD: 'true',
        ERL_FLAGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      },
    });
  }

  let stopped = false;
  const ctlRaw = (file: string, args: string[], node: NodeState, timeoutMs?: number) =>
    runFile(bin(file), ['-n', node.name, '-q', ...args], ctlEnv, timeoutMs);

  const logTail = (s: NodeState): string =>
    existsSync(s.logFile) ? readFileSync(s.logFile, 'utf8').split('\n').slice(-30).join('\n') : '(no log)';

  const alive = (s: NodeState): boolean => !!s.child && s.child.exitCode === null && s.child.signalCode === null;

  const launch = (s: NodeState): void => {
    const fd = openSync(s.logFile, 'a');
    try {
      const child = spawnTracked(bin('rabbitmq-server'), [], { env: s.env, stdio: ['ignore', fd, fd], cwd: dir });
      child.on('error', (err) => writeFileSync(s.logFile, `[test-harness] spawn error: ${err.message}\n`, { flag: 'a' }));
      s.child = child;
    } finally {
      closeSync(fd);
    }
  };

  /** Waits until the node answers the CLI and its rabbit app has booted. */
  const awaitBoot = async (s: NodeState): Promise<void> => {
    await waitUntil(
      async () => {
        if (!alive(s)) throw new Error(`node ${s.name} exited (${s.child?.exitCode ?? s.child?.signalCode})`);
        await ctlRaw('rabbitmqctl', ['ping'], s, 15_000);
        return true;
      },
      { timeoutMs: BOOT_TIMEOUT_MS, intervalMs: 500, describe: () => `node ${s.name} to answer ping; log:\n${logTail(s)}` },
    );
    await ctlRaw('rabbitmqctl', ['await_startup', '--timeout', String(BOOT_TIMEOUT_MS / 1000)], s, BOOT_TIMEOUT_MS + 5_000);
  };

  const kill9 = async (s: NodeState): Promise<void> => {
    const c = s.child;
    if (!c || !alive(s)) return;
    c.kill('SIGKILL');
    await withTimeout(waitForExit(c), 10_000, `node ${s.name} (pid ${c.pid}) to die`);
  };

  const firstRunning = (): NodeState => {
    const s = states.find(alive);
    if (!s) throw new Error('no cluster node is running');
    return s;
  };

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(states.map((s) => kill9(s).catch(() => undefined)));
    unregisterCleanup();
    rmSync(dir, { recursive: true, force: true });
  };

  const nodes: RabbitClusterNode[] = states.map((s) => ({
    index: s.index,
    name: s.name,
    port: s.port,
    distPort: s.distPort,
    url: `amqp://${CLUSTER_USER}:${CLUSTER_PASSWORD}@127.0.0.1:${s.port}`,
    logFile: s.logFile,
    get pid() {
      return alive(s) ? (s.child?.pid ?? 0) : 0;
    },
    get running() {
      return alive(s);
    },
    kill9: () => kill9(s),
    async start() {
      if (stopped) throw new Error('cluster stopped');
      if (alive(s)) return;
      launch(s);
      await awaitBoot(s);
    },
  }));

  try {
    for (const s of states) launch(s);
    await Promise.all(states.map(awaitBoot));
    const [first, ...rest] = states;
    for (const s of rest) {
      await ctlRaw('rabbitmqctl', ['stop_app'], s);
      await ctlRaw('rabbitmqctl', ['join_cluster', first.name], s);
      await ctlRaw('rabbitmqctl', ['start_app'], s);
    }
    const want = states.map((s) => s.name).sort();
    await waitUntil(
      async () => {
        const status = JSON.parse(await ctlRaw('rabbitmqctl', ['cluster_status', '--formatter', 'json'], first)) as {
          running_nodes: string[];
        };
        return JSON.stringify([...status.running_nodes].sort()) === JSON.stringify(want);
      },
      { timeoutMs: 60_000, intervalMs: 500, describe: `all of ${want.join(', ')} running in one cluster` },
    );
  } catch (err) {
    await stop();
    throw err;
  }

  const cluster: RabbitCluster = {
    dir,
    nodes,
    urls: nodes.map((n) => n.url),
    amqpUrl: nodes.map((n) => n.url).join(','),
    node(name) {
      const n = nodes.find((x) => x.name === name);
      if (!n) throw new Error(`no node ${name} in this cluster`);
      return n;
    },
    ctl: (args, node) => ctlRaw('rabbitmqctl', args, node ? states[node.index - 1] : firstRunning()),
    queuesCtl: (args, node) => ctlRaw('rabbitmq-queues', args, node ? states[node.index - 1] : firstRunning()),
    async runningNodes() {
      const status = JSON.parse(await cluster.ctl(['cluster_status', '--formatter', 'json'])) as { running_nodes: string[] };
      return status.running_nodes;
    },
    async connections() {
      const rows = JSON.parse(
        await cluster.ctl(['list_connections', 'pid', 'user', 'port', 'client_properties', '--formatter', 'json']),
      ) as { pid: string; user: string; port: number; client_properties: unknown }[];
      return rows.map((r) => ({
        node: /<([^.>]+@[^.>]+)\./.exec(String(r.pid))?.[1] ?? nodes.find((n) => n.port === Number(r.port))?.name ?? '?',
        connectionName: connectionNameOf(r.client_properties),
        user: r.user,
        port: Number(r.port),
      }));
    },
    async quorumMembers(queue, vhost = '/') {
      const rows = JSON.parse(await cluster.queuesCtl(['quorum_status', queue, '--vhost', vhost, '--formatter', 'json'])) as Record<
        string,
        unknown
      >[];
      return rows.map((r) => ({ node: String(r['Node Name']), raftState: String(r['Raft State']) }));
    },
    stop,
  };
  return cluster;
}

/** client_properties comes as a list of [key, type, value] triples (or an object, depending on the formatter). */
function connectionNameOf(props: unknown): string | undefined {
  if (Array.isArray(props)) {
    for (const entry of props) {
      if (Array.isArray(entry) && entry[0] === 'connection_name') return String(entry[entry.length - 1]);
    }
    return undefined;
  }
  if (props && typeof props === 'object') {
    const v = (props as Record<string, unknown>).connection_name;
    return v === undefined ? undefined : String(v);
  }
  return undefined;
}

/** Polls until `node` is in the cluster's running nodes (after a restart). */
export async function waitForNodeRunning(cluster: RabbitCluster, node: RabbitClusterNode, timeoutMs = 60_000): Promise<void> {
  await waitUntil(async () => (await cluster.runningNodes()).includes(node.name), {
    timeoutMs,
    intervalMs: 500,
    describe: `${node.name} running in the cluster`,
  });
}
