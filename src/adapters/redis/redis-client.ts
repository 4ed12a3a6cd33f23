import Redis, { Cluster } from 'ioredis';
import type { TlsFiles } from '../../config/config';
import type { Logger } from '../../ports/logger';
import { classifyRedisConnectError, PermanentConnectError } from '../connect-errors';
import { redactUrl } from '../redact-url';
import { jitteredBackoff, sleep, withTimeout } from '../timing';
import { tlsOptions } from '../tls-options';

/**
 * A Redis connection that fails commands fast while disconnected (no offline queue): the service pauses
 * consuming instead of buffering work in memory without bound. Reconnects with jittered backoff.
 */
export interface RedisTarget {
  redisUrl: string;
  redisSentinels: { host: string; port: number }[];
  redisMasterName: string;
  /** REDIS_CLUSTER_NODES: Redis Cluster mode when set; REDIS_URL then only supplies the password and redis(s)://. */
  redisClusterNodes: { host: string; port: number }[];
  /** REDIS_TLS_*_FILE, used when redisUrl is rediss://. */
  redisTls?: TlsFiles;
  /** REDIS_STALL_MS: the bound of every command (ioredis commandTimeout); default 5000. */
  redisStallMs?: number;
}

/** A single Redis (or the master Sentinel names) or a Redis Cluster: the stores work on either. */
export type RedisConnection = Redis | Cluster;

/** After a permanent error on reconnect (e.g. a rotated password), at most one error line per connection this often. */
const RECONNECT_REFUSED_LOG_MS = 30_000;

export function createRedis(target: RedisTarget, log: Logger, name: string): RedisConnection {
  // Until the first 'ready' the caller retries (connectAtStart: one line per attempt, permanent errors end the start);
  // afterwards ioredis reconnects by itself.
  let everReady = false;
  const options = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    connectionName: `workitem-server-${name}`,
    retryStrategy: (times: number) => (everReady ? jitteredBackoff(times, 100, 5000) : null),
    // Commands issued in the same tick go out in one write: fewer syscalls per item. (ioredis 5 speaks RESP2.)
    enableAutoPipelining: true,
    // A half-open socket (the peer stops answering without closing) would leave commands waiting forever: each one is
    // rejected ("Command timed out") after REDIS_STALL_MS, and its message requeued. The watchdog (redis-watchdog.ts)
    // then replaces the socket. TCP keepalive is only a backstop: the kernel's probes take minutes.
    commandTimeout: target.redisStallMs ?? 5000,
    keepAlive: 5000,
    // Never re-send a command whose connection closed before its reply: it may have run already, and its caller has
    // been told it failed (the message is requeued; the Lua transitions deduplicate the redelivery). With this off
    // ioredis drops such commands without settling them: commandTimeout rejects them.
    autoResendUnfulfilledCommands: false,
    ...tlsOf(target),
  };
  // With Sentinel, ioredis asks the sentinels for the current master and follows a failover by itself; with Cluster,
  // it follows the slot map (a replica promoted after a master failed) by itself.
  const redis: RedisConnection =
    target.redisClusterNodes.length > 0
      ? createCluster(target, options, () => everReady)
      : target.redisSentinels.length > 0
        ? new Redis({
            ...options,
            ...credentialsOf(target.redisUrl),
            sentinels: target.redisSentinels,
            name: target.redisMasterName,
            sentinelRetryStrategy: (times: number) => (everReady ? jitteredBackoff(times, 100, 5000) : null),
          })
        : new Redis(target.redisUrl, options);
  // Before the first 'ready', connectAtStart reports failures. Afterwards ioredis retries by itself; a refusal that
  // only a fix can end (rotated password, revoked certificate) is logged as an error, not only at debug.
  let lastRefusalLog = 0;
  redis.on('ready', () => (everReady = true));
  redis.on('error', (err: Error) => {
    const failure = classifyRedisConnectError(err, target.redisUrl);
    if (everReady && failure.permanent && Date.now() - lastRefusalLog >= RECONNECT_REFUSED_LOG_MS) {
      lastRefusalLog = Date.now();
      log.error('redis reconnect refused; retrying until it is fixed', {
        connection: name,
        url: redactUrl(target.redisUrl),
        code: failure.code,
        error: failure.cause,
      });
    } else {
      log.debug('redis error', { connection: name, error: err.message });
    }
  });
  return redis;
}

/**
 * Connects lazily-created clients at start. A transient failure (refused, timed out, reset) is retried with jittered
 * backoff, one warning per attempt naming the redacted URL and the error code; a permanent one (WRONGPASS, NOAUTH,
 * a db that does not exist, a server certificate that does not verify) throws PermanentConnectError. connect() only
 * says "Connection is closed.", so the cause is taken from the 'error' events of the attempt. A failed SELECT does
 * not stop ioredis from becoming ready (it would work in db 0), hence the check after a successful connect too.
 * Returns false when `signal` aborted the wait (shutdown during start).
 */
export async function connectAtStart(clients: RedisConnection[], target: RedisTarget, log: Logger, signal: AbortSignal): Promise<boolean> {
  const url =
    target.redisClusterNodes.length > 0
      ? `${target.redisUrl} (cluster ${target.redisClusterNodes.map((s) => `${s.host}:${s.port}`).join(',')})`
      : target.redisSentinels.length > 0
        ? `${target.redisUrl} (sentinels ${target.redisSentinels.map((s) => `${s.host}:${s.port}`).join(',')})`
        : target.redisUrl;
  for (let attempt = 0; ; attempt++) {
    const seen: Error[] = [];
    // A cluster that cannot load its slot map wraps the cause (a refused password, say) in lastNodeError.
    const onError = (err: Error & { lastNodeError?: Error }) => seen.push(err.lastNodeError ?? err);
    for (const c of clients) c.on('error', onError);
    try {
      for (const c of clients) await withTimeout(c.connect(), 15_000, 'redis connect');
    } catch (err) {
      seen.push(err as Error);
    } finally {
      for (const c of clients) c.off('error', onError);
    }
    const failures = seen.map((e) => classifyRedisConnectError(e, target.redisUrl));
    const failure = failures.find((f) => f.permanent) ?? (clients.every((c) => c.status === 'ready') ? undefined : failures[0]);
    if (!failure) return true;
    // Not on an ended client: disconnect() would then leave ioredis' "manually closing" flag set, and it would
    // swallow the errors of the next attempt.
    for (const c of clients) if (c.status !== 'end') c.disconnect();
    if (failure.permanent) throw new PermanentConnectError(target.redisUrl, failure);
    if (signal.aborted) return false;
    const delay = jitteredBackoff(attempt, 200, 5000);
    log.warn('redis connect failed; retrying', {
      url: redactUrl(url),
      code: failure.code,
      error: failure.cause,
      attempt: attempt + 1,
      retryInMs: delay,
    });
    await sleep(delay, signal);
    if (signal.aborted) return false;
  }
}

export interface RedisDurability {
  appendonly: string;
  save: string;
  maxmemoryPolicy: string;
  durable: boolean;
  evicting: boolean;
  warning?: string;
}

/** Reads persistence and eviction settings: without them unfinished items would not survive a Redis restart. */
export async function checkDurability(redis: RedisConnection): Promise<RedisDurability> {
  const get = async (key: string): Promise<string> => {
    try {
      const r = (await redis.config('GET', key)) as string[];
      return r[1] ?? '';
    } catch {
      return 'unknown';
    }
  };
  const [appendonly, save, maxmemoryPolicy] = await Promise.all([get('appendonly'), get('save'), get('maxmemory-policy')]);
  const durable = appendonly === 'yes' || (save !== '' && save !== 'unknown');
  const evicting = maxmemoryPolicy !== 'noeviction' && maxmemoryPolicy !== 'unknown';
  const problems: string[] = [];
  if (!durable) problems.push('Redis has no persistence (appendonly no, no save points)');
  if (evicting) problems.push(`Redis maxmemory-policy is ${maxmemoryPolicy} (may evict item state)`);
  return {
    appendonly,
    save,
    maxmemoryPolicy,
    durable,
    evicting,
    warning: problems.length ? `${problems.join('; ')}: unfinished items would not survive a Redis restart` : undefined,
  };
}

/**
 * Redis Cluster: nodes from REDIS_CLUSTER_NODES (the rest are found from their slot map), the password from REDIS_URL.
 * When a master dies its slots move to its replica after the cluster's node timeout; meanwhile commands for them are
 * retried (retryDelayOnFailover x maxRedirections, about 3 s) and then fail like any Redis outage (transient).
 */
function createCluster(target: RedisTarget, options: Record<string, unknown>, everReady: () => boolean): Cluster {
  const { lazyConnect, enableOfflineQueue, enableAutoPipelining, retryStrategy: _nodesDoNotRetry, ...nodeOptions } = options;
  const { username, password } = credentialsOf(target.redisUrl);
  return new Cluster(target.redisClusterNodes, {
    lazyConnect: lazyConnect as boolean,
    enableOfflineQueue: enableOfflineQueue as boolean,
    enableAutoPipelining: enableAutoPipelining as boolean,
    clusterRetryStrategy: (times: number) => (everReady() ? jitteredBackoff(times, 100, 5000) : null),
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    maxRedirections: 16,
    slotsRefreshTimeout: 2000,
    redisOptions: { ...nodeOptions, username, password },
  });
}

/** rediss://: TLS with the REDIS_TLS_* files, verification always on; with sentinels, to the sentinels and the data nodes alike. */
function tlsOf(target: RedisTarget): Record<string, unknown> {
  if (!target.redisUrl.startsWith('rediss://')) return {};
  const tls = tlsOptions(target.redisTls ?? {});
  return target.redisSentinels.length > 0 ? { tls, enableTLSForSentinelMode: true, sentinelTLS: tls } : { tls };
}

function credentialsOf(url: string): { username?: string; password?: string; db?: number } {
  const u = new URL(url);
  const db = Number(u.pathname.replace('/', ''));
  return {
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: Number.isInteger(db) && db > 0 ? db : undefined,
  };
}
