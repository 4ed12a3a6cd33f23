import { Readable } from 'node:stream';
import type { AttachmentStore, StoredAttachment } from '../../ports/attachment-store';
import { redisKeys } from './keys';
import type { RedisConnection } from './redis-client';

const CHUNK_BYTES = 256 * 1024;

/**
 * Attachments as claim checks in Redis. Uses its own connection so a 10 MiB write never sits in front
 * of the small state commands of other items. The end/cancel/expire scripts delete the same key.
 */
export class RedisAttachmentStore implements AttachmentStore {
  readonly kind = 'redis';
  private readonly keys;

  constructor(
    private readonly redis: RedisConnection,
    prefix: string,
  ) {
    this.keys = redisKeys(prefix, redis.isCluster);
  }

  async put(contactId: string, data: Buffer): Promise<void> {
    await this.redis.set(this.keys.attachment(contactId), data);
  }

  async open(contactId: string): Promise<StoredAttachment | null> {
    const key = this.keys.attachment(contactId);
    const [[, exists], [, len]] = ((await this.redis.pipeline().exists(key).strlen(key).exec()) ?? []) as [unknown, number][];
    return exists ? { size: len, stream: this.stream(contactId) } : null;
  }

  /** Streams the bytes in GETRANGE chunks, so a download never holds the whole value in memory twice. */
  private stream(contactId: string): Readable {
    const key = this.keys.attachment(contactId);
    let offset = 0;
    const redis = this.redis;
    return new Readable({
      async read() {
        try {
          const chunk = await redis.getrangeBuffer(key, offset, offset + CHUNK_BYTES - 1);
          offset += chunk.length;
          this.push(chunk.length > 0 ? chunk : null);
          if (chunk.length > 0 && chunk.length < CHUNK_BYTES) this.push(null);
        } catch (err) {
          this.destroy(err as Error);
        }
      },
    });
  }

  async remove(contactId: string): Promise<void> {
    await this.redis.unlink(this.keys.attachment(contactId));
  }
}
