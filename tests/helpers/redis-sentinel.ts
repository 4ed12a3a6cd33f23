import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registerExitCleanup, spawnTracked, waitForExit } from './child-reaper';
import { freePort } from './ports';
import { testRedisClient } from './redis';
import { startRedis, type RedisProcess } from './redis-process';
import { waitUntil, withTimeout } from './wait';

/**
 * A private Redis master + replica(s) + Sentinels as local processes, for failover tests.
 *
 * Data nodes are redis-process.ts servers (AOF, appendfsync always, own temp dir); replicas start with
 * `--replicaof`. Each Sentinel gets a generated, writable config (`sentinel monitor <name> 127.0.0.1
 * <master port> <quorum>`, down-after-milliseconds, failover-timeout) and runs as `redis-server <conf>
 * --sentinel` (Debian ships no separate redis-sentinel binary on PATH). Every process started here is
 * stopped by pid in stop(), and killed with the test process at the latest (child-reaper).
 */

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';

export interface SentinelSetOptions {
  masterName?: string;
  /** Replicas of the master, default 1. */
  replicas?: number;
  /** Sentinels, default 3. */
  sentinels?: number;
  /** Sentinels that must agree the master is down, default 2. */
  quorum?: number;
  downAfterMs?: number;
  failoverTimeoutMs?: number;
}

export interface SentinelProcess {
  readonly port: number;
  readonly pid: number;
  readonly logFile: string;
}

export interface MasterAddress {
  host: string;
  port: number;
}

export interface SentinelSet {
  readonly masterName: string;
  /** Data nodes: [0] is the initial master, then the replicas. */
  readonly data: RedisProcess[];
  readonly sentinels: SentinelProcess[];
  /** `127.0.0.1:<port>,…` as REDIS_SENTINELS takes it. */
  readonly sentinelList: string;
  /** The master as the (first answering) Sentinel reports it. */
  master(): Promise<MasterAddress>;
  /** The data node that is the master now. */
  masterProcess(): Promise<RedisProcess>;
  /** Waits until every Sentinel names a master other than `oldPort`, and that node says it is a master. */
  waitForFailover(oldPort: number, timeoutMs?: number): Promise<MasterAddress>;
  /**
   * Waits until the set is fully formed: every Sentinel agrees on the master and sees `replicas` replicas
   * and the other Sentinels, and the master has that many replicas online.
   */
  waitUntilHealthy(replicas?: number, timeoutMs?: number): Promise<void>;
  /** Stops sentinels and data nodes (by pid) and removes their dirs. Idempotent. */
  stop(): Promise<void>;
}

async function redisCall<T>(port: number, ...args: (string | number)[]): Promise<T> {
  const r = testRedisClient(`redis://127.0.0.1:${port}`);
  try {
    await r.connect();
    return (await r.call(String(args[0]), ...args.slice(1))) as T;
  } finally {
    r.disconnect();
  }
}

/** `SENTINEL MASTER <name>` answers a flat [field, value, …] list. */
function toRecord(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

export async function startSentinelSet(opts: SentinelSetOptions = {}): Promise<SentinelSet> {
  const masterName = opts.masterName ?? 'mymaster';
  const replicaCount = opts.replicas ?? 1;
  const sentinelCount = opts.sentinels ?? 3;
  const quorum = opts.quorum ?? 2;
  const downAfterMs = opts.downAfterMs ?? 2000;
  const failoverTimeoutMs = opts.failoverTimeoutMs ?? 10_000;

  const dir = mkdtempSync(path.join(os.tmpdir(), 'workitem-sentinels-'));
  const unregisterCleanup = registerExitCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const data: RedisProcess[] = [];
  const sentinelChildren: ChildProcess[] = [];
  const sentinels: SentinelProcess[] = [];
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(
      sentinelChildren.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        c.kill('SIGTERM');
        await withTimeout(waitForExit(c), 5_000, `sentinel pid ${c.pid} to exit`).catch(async () => {
          c.kill('SIGKILL');
          await waitForExit(c);
        });
      }),
    );
    await Promise.all(data.map((d) => d.stop().catch(() => undefined)));
    unregisterCleanup();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const master = await startRedis({ args: ['--maxmemory-policy', 'noeviction'] });
    data.push(master);
    for (let i = 0; i < replicaCount; i++) {
      data.push(await startRedis({ args: ['--maxmemory-policy', 'noeviction', '--replicaof', '127.0.0.1', String(master.port)] }));
    }
    for (let i = 1; i <= sentinelCount; i++) {
      const port = await freePort();
      const conf = path.join(dir, `sentinel-${i}.conf`);
      const logFile = path.join(dir, `sentinel-${i}.log`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          'daemonize no',
          `dir ${dir}`,
          `logfile ${logFile}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${master.port} ${quorum}`,
          `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
          `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      const child = spawnTracked(REDIS_SERVER, [conf, '--sentinel'], { stdio: 'ignore' });
      child.on('error', () => undefined);
      sentinelChildren.push(child);
      sentinels.push({ port, pid: child.pid ?? 0, logFile });
    }
    await Promise.all(
      sentinels.map((s) =>
        waitUntil(() => redisCall<string>(s.port, 'PING').then((r) => r === 'PONG'), {
          timeoutMs: 10_000,
          intervalMs: 100,
          describe: () =>
            `sentinel on port ${s.port} to answer; log:\n${existsSync(s.logFile) ? readFileSync(s.logFile, 'utf8').slice(-2000) : '(none)'}`,
        }),
      ),
    );
  } catch (err) {
    await stop();
    throw err;
  }

  const askMaster = async (port: number): Promise<MasterAddress> => {
    const [host, p] = await redisCall<[string, string]>(port, 'SENTINEL', 'get-master-addr-by-name', masterName);
    return { host, port: Number(p) };
  };

  const set: SentinelSet = {
    masterName,
    data,
    sentinels,
    sentinelList: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
    async master() {
      let last: unknown;
      for (const s of sentinels) {
        try {
          return await askMaster(s.port);
        } catch (err) {
          last = err;
        }
      }
      throw new Error(`no sentinel answered: ${(last as Error)?.message}`);
    },
    async masterProcess() {
      const m = await set.master();
      const p = data.find((d) => d.port === m.port);
      if (!p) throw new Error(`master ${m.host}:${m.port} is none of this set's data nodes`);
      return p;
    },
    async waitForFailover(oldPort, timeoutMs = 60_000) {
      return waitUntil(
        async () => {
          const seen = await Promise.all(sentinels.map((s) => askMaster(s.port)));
          if (seen.some((m) => m.port === oldPort || m.port !== seen[0].port)) return undefined;
          const info = await redisCall<string>(seen[0].port, 'INFO', 'replication');
          return infoField(info, 'role') === 'master' ? seen[0] : undefined;
        },
        { timeoutMs, intervalMs: 100, describe: `every sentinel to name a new master instead of port ${oldPort}` },
      );
    },
    async waitUntilHealthy(replicas = replicaCount, timeoutMs = 60_000) {
      await waitUntil(
        async () => {
          const views = await Promise.all(
            sentinels.map(async (s) => toRecord(await redisCall<string[]>(s.port, 'SENTINEL', 'MASTER', masterName))),
          );
          const port = views[0].port;
          const agreed = views.every(
            (v) =>
              v.port === port &&
              Number(v['num-slaves']) >= replicas &&
              Number(v['num-other-sentinels']) === sentinelCount - 1 &&
              !/s_down|o_down|failover/.test(v.flags ?? ''),
          );
          if (!agreed) return false;
          const info = await redisCall<string>(Number(port), 'INFO', 'replication');
          const online = (info.match(/^slave\d+:.*state=online/gm) ?? []).length;
          return infoField(info, 'role') === 'master' && online >= replicas;
        },
        { timeoutMs, intervalMs: 250, describe: `sentinels to agree on a master with ${replicas} online replica(s)` },
      );
    },
    stop,
  };
  return set;
}
