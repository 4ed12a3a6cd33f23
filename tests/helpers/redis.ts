import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';

/** The shared Redis the integration tests use; each test keeps to its own key prefix. */
export const DEFAULT_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of the form `t<random>:`, valid as the service's REDIS_KEY_PREFIX. */
export function randomPrefix(): string {
  return `t${randomBytes(5).toString('hex')}:`;
}

/** Escapes glob metacharacters so SCAN MATCH treats the prefix literally. */
function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** A short-lived client that fails fast instead of retrying forever, for helpers and assertions. */
export function testRedisClient(redisUrl = DEFAULT_REDIS_URL): Redis {
  return new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 5_000,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
}

/** Lists every key under `prefix` (SCAN, never KEYS, so a busy shared Redis is not blocked). */
export async function keysByPrefix(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** Deletes every key starting with `prefix` (SCAN + UNLINK); returns how many were removed. */
export async function deleteByPrefix(redisUrl: string, prefix: string): Promise<number> {
  if (!prefix) throw new Error('deleteByPrefix: refusing an empty prefix');
  const redis = testRedisClient(redisUrl);
  try {
    await redis.connect();
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 1000);
      cursor = next;
      if (batch.length > 0) deleted += await redis.unlink(...batch);
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
}
