import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { startRedis, type RedisProcess } from './redis-process';
import { sleep, waitUntil } from './wait';

/**
 * A private Redis Cluster for tests: `masters` redis-servers with cluster mode on, each with `replicasPerMaster`
 * replicas (`redis-cli --cluster create --cluster-replicas`), on free ports with temp data dirs, no persistence.
 * A small node timeout, so a killed master's replica takes over within a few seconds.
 */

const REDIS_CLI = process.env.REDIS_CLI_BIN ?? 'redis-cli';
const run = promisify(execFile);

export interface RedisClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  nodeTimeoutMs?: number;
}

export interface ClusterNodeInfo {
  id: string;
  port: number;
  role: 'master' | 'slave';
  failed: boolean;
  /** Slot ranges [from, to] a master serves. */
  slots: [number, number][];
}

export interface RedisClusterHandle {
  readonly nodes: RedisProcess[];
  /** `127.0.0.1:port,…` of every node, as REDIS_CLUSTER_NODES takes it. */
  readonly seeds: string;
  /** The node view of a live node (CLUSTER NODES). */
  topology(): Promise<ClusterNodeInfo[]>;
  /** The master that serves the slot of `key`, and its replicas. */
  ownerOf(key: string): Promise<{ master: RedisProcess; replicas: RedisProcess[] }>;
  /** Waits until every live node reports cluster_state:ok and the slot of `key` is served by a master that is up. */
  waitHealthy(key?: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run(REDIS_CLI, ['-p', String(port), ...args], { timeout: 10_000 });
  return stdout;
}

function parseNodes(text: string): ClusterNodeInfo[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, addr, flags, , , , , , ...slots] = line.split(' ');
      return {
        id,
        port: Number(/:(\d+)@/.exec(addr)?.[1]),
        role: flags.includes('master') ? 'master' : 'slave',
        failed: /fail/.test(flags),
        slots: slots
          .filter((s) => /^\d/.test(s))
          .map((s) => {
            const [from, to] = s.split('-').map(Number);
            return [from, to ?? from] as [number, number];
          }),
      };
    });
}

export async function startRedisCluster(opts: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicasPerMaster ?? 1;
  const nodeTimeout = opts.nodeTimeoutMs ?? 2000;
  const nodes: RedisProcess[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
  };
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      nodes.push(
        await startRedis({
          appendonly: false,
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(nodeTimeout)],
        }),
      );
    }
    await run(
      REDIS_CLI,
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
      { timeout: 60_000 },
    );
  } catch (err) {
    await stop();
    throw err;
  }

  const alive = () => nodes.filter((n) => n.pid !== 0 && isRunning(n.pid));
  const topology = async (): Promise<ClusterNodeInfo[]> => {
    for (const n of alive()) {
      try {
        return parseNodes(await cli(n.port, 'cluster', 'nodes'));
      } catch {
        // that node is going down: ask the next one
      }
    }
    throw new Error('no cluster node answers');
  };
  const keySlot = async (key: string): Promise<number> => Number((await cli(alive()[0].port, 'cluster', 'keyslot', key)).trim());

  const handle: RedisClusterHandle = {
    nodes,
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    topology,
    async ownerOf(key) {
      const slot = await keySlot(key);
      const topo = await topology();
      const master = topo.find((t) => t.role === 'master' && !t.failed && t.slots.some(([a, b]) => slot >= a && slot <= b));
      if (!master) throw new Error(`no master serves slot ${slot}`);
      const replicaPorts = new Set<number>();
      const byPort = (port: number) => nodes.find((n) => n.port === port)!;
      for (const n of alive()) {
        const info = await cli(n.port, 'info', 'replication').catch(() => '');
        if (new RegExp(`master_port:${master.port}\\b`).test(info)) replicaPorts.add(n.port);
      }
      return { master: byPort(master.port), replicas: [...replicaPorts].map(byPort) };
    },
    async waitHealthy(key, timeoutMs = 30_000) {
      await waitUntil(
        async () => {
          for (const n of alive()) {
            const info = await cli(n.port, 'cluster', 'info').catch(() => '');
            if (!info.includes('cluster_state:ok')) return false;
          }
          if (key === undefined) {
            // Every master has its replicas connected, so a failover has someone to promote.
            for (const t of (await topology()).filter((x) => x.role === 'master')) {
              const info = await cli(t.port, 'info', 'replication').catch(() => '');
              if (Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? 0) < replicas) return false;
            }
            return true;
          }
          const owner = await handle.ownerOf(key).catch(() => null);
          return owner !== null && isRunning(owner.master.pid);
        },
        { timeoutMs, intervalMs: 200, describe: 'Redis Cluster healthy' },
      );
    },
    stop,
  };
  await handle.waitHealthy();
  // The nodes agree on the slot map a moment after cluster_state:ok; a client that loads it then is settled.
  await sleep(500);
  return handle;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** An ioredis Cluster client for assertions (fails fast instead of retrying forever). */
export function testClusterClient(seeds: string): InstanceType<typeof Redis.Cluster> {
  return new Redis.Cluster(
    seeds.split(',').map((s) => ({ host: s.split(':')[0], port: Number(s.split(':')[1]) })),
    { lazyConnect: true, redisOptions: { connectTimeout: 5_000, maxRetriesPerRequest: 1 } },
  );
}
