import * as amqp from 'amqplib';
import { AppConfig, ConfigError, loadConfig } from '../config/config';
import type { Logger } from '../ports/logger';
import type { Counters, ItemQueries } from '../ports/state-store';
import { classifyAmqpConnectError, classifyRedisConnectError } from '../adapters/connect-errors';
import { createRedis, type RedisConnection } from '../adapters/redis/redis-client';
import { RedisStateStore } from '../adapters/redis/redis-state-store';
import { RedisItemHistory } from '../adapters/redis/redis-item-history';
import type { ItemHistory } from '../ports/item-history';
import { withTimeout } from '../adapters/timing';
import { tlsOptions } from '../adapters/tls-options';
import { CliError, EXIT_USAGE, NOT_DEPLOYED_HINT } from './cli-error';
import { ConfirmedChannel } from './confirmed-channel';
import { redactUrl } from './output';

const CONNECT_TIMEOUT_MS = 10_000;

/** createRedis wants a logger; the CLI reports failures itself, so library chatter is dropped. */
const quietLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  child: () => quietLogger,
  isDebugEnabled: () => false,
};

/**
 * What a command may need — config, a broker connection, Redis state — opened on first use and all closed
 * by close(). Config comes from the same environment as the service (AMQP_URL, REDIS_URL,
 * REDIS_KEY_PREFIX, WORKITEM_CONFIG, and the AMQP_TLS_* / REDIS_TLS_* files), so the CLI always talks to the
 * deployment the service uses.
 */
export class CliContext {
  private config: AppConfig | undefined;
  private conn: amqp.ChannelModel | undefined;
  private connecting: Promise<amqp.ChannelModel> | undefined;
  private confirmed: Promise<ConfirmedChannel> | undefined;
  private redis: RedisConnection | undefined;
  private stateStore: Promise<ItemQueries & Counters> | undefined;
  private connectionError: Error | undefined;

  get cfg(): AppConfig {
    if (!this.config) {
      try {
        this.config = loadConfig();
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, EXIT_USAGE);
        throw err;
      }
    }
    return this.config;
  }

  /** The broker connection; tries each node of AMQP_URL in turn. */
  connection(): Promise<amqp.ChannelModel> {
    this.connecting ??= this.connect();
    return this.connecting;
  }

  private async connect(): Promise<amqp.ChannelModel> {
    const problems: string[] = [];
    for (const url of this.cfg.amqpUrls) {
      try {
        const conn = await amqp.connect(url, {
          ...(url.startsWith('amqps:') ? tlsOptions(this.cfg.amqpTls) : {}),
          timeout: CONNECT_TIMEOUT_MS,
          // Without it, Nagle holds a basic.get sent right after an ack until the ack's TCP ACK: ~40 ms per message.
          noDelay: true,
          clientProperties: { connection_name: `workitem-cli ${process.pid}` },
        });
        conn.on('error', (err: Error) => {
          this.connectionError = err;
        });
        this.conn = conn;
        return conn;
      } catch (err) {
        problems.push(`${redactUrl(url)}: ${describeConnectError(err as Error, url)}`);
      }
    }
    throw new CliError(`RabbitMQ not reachable (${problems.join('; ')})`);
  }

  /** A fresh plain channel (basic.get, acks); its errors are kept for the caller's message. */
  async channel(): Promise<amqp.Channel> {
    const conn = await this.connection();
    const ch = await conn.createChannel().catch((err: Error) => {
      throw new CliError(`cannot open a channel: ${(this.connectionError ?? err).message}`);
    });
    ch.on('error', () => undefined); // a channel error closes the channel; callers see the failed operation
    return ch;
  }

  /** The confirm channel all publishes of this command go through. */
  publisher(): Promise<ConfirmedChannel> {
    this.confirmed ??= (async () => {
      const conn = await this.connection();
      const ch = await conn.createConfirmChannel();
      return new ConfirmedChannel(ch, this.cfg.confirmTimeoutMs);
    })();
    return this.confirmed;
  }

  /** Message count of a queue; a clear error when it does not exist (the service declares it). */
  async queueMessageCount(queue: string): Promise<number> {
    const ch = await this.channel();
    try {
      return (await ch.checkQueue(queue)).messageCount;
    } catch (err) {
      if (/NOT_FOUND/.test((err as Error).message)) {
        throw new CliError(`queue "${queue}" does not exist in this vhost — ${NOT_DEPLOYED_HINT}`);
      }
      throw new CliError(`cannot inspect queue "${queue}": ${(err as Error).message}`);
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  /**
   * Unfinished-item state and report counters in Redis (REDIS_URL + REDIS_KEY_PREFIX), read only: a command that
   * changes something publishes a control event for the service to act on.
   */
  store(): Promise<ItemQueries & Counters> {
    this.stateStore ??= (async () => {
      const cfg = this.cfg;
      const redis = createRedis(cfg, quietLogger, 'cli');
      this.redis = redis;
      let lastError: Error | undefined; // connect() itself only says "Connection is closed."
      redis.on('error', (err: Error) => (lastError ??= err));
      try {
        await withTimeout(redis.connect(), CONNECT_TIMEOUT_MS, 'connect');
      } catch (err) {
        const why = classifyRedisConnectError(lastError ?? (err as Error), cfg.redisUrl).cause || String(err);
        throw new CliError(`Redis not reachable at ${redactUrl(cfg.redisUrl)}: ${why}`);
      }
      return new RedisStateStore(redis, cfg.redisKeyPrefix, cfg.tombstoneSeconds, undefined, cfg.dedupe.afterEndSeconds);
    })();
    return this.stateStore;
  }

  /** Item histories in the same Redis (opened with the state store). */
  async history(): Promise<ItemHistory> {
    await this.store();
    return new RedisItemHistory(this.redis as RedisConnection, this.cfg.redisKeyPrefix, this.cfg.tombstoneSeconds);
  }

  /** Closes whatever was opened. Closing the connection returns every unacked message to its queue. */
  async close(): Promise<void> {
    const redis = this.redis;
    this.redis = undefined;
    if (redis) {
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
    }
    await this.connecting?.catch(() => undefined);
    const conn = this.conn;
    this.conn = undefined;
    if (conn) await withTimeout(conn.close(), 5_000, 'closing the broker connection').catch(() => undefined);
  }
}

function describeConnectError(err: Error, url: string): string {
  const failure = classifyAmqpConnectError(err, url);
  if (failure.code === 'ECONNREFUSED') return `connection refused — is RabbitMQ running? (${failure.cause})`;
  return failure.cause;
}

/** Runs `fn` with a fresh context and always closes it. */
export async function withContext<T>(fn: (ctx: CliContext) => Promise<T>): Promise<T> {
  const ctx = new CliContext();
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}
