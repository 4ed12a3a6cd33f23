/** Composition: picks the attachment store ATTACHMENT_STORE names (adapters never import each other; wiring does). */
import type { AppConfig } from '../config/config';
import type { AttachmentStore } from '../ports/attachment-store';
import { RedisAttachmentStore } from '../adapters/redis/redis-attachment-store';
import type { RedisConnection } from '../adapters/redis/redis-client';
import { storeNamespace } from '../adapters/attachments/attachment-keys';
import { FsAttachmentStore } from '../adapters/attachments/fs-attachment-store';
import { createS3Client, S3AttachmentStore } from '../adapters/attachments/s3-attachment-store';

export interface AttachmentStoreHandle {
  store: AttachmentStore;
  /** At start, once Redis is up: the directory is writable, the bucket is there. Throws an error naming the variable. */
  init(): Promise<void>;
  close(): void;
  /** For the start-up log line: where attachments go. */
  describe: Record<string, unknown>;
}

/** ATTACHMENT_STORE: redis (its own connection), fs (ATTACHMENT_DIR) or s3 (S3_BUCKET…). */
export function createAttachmentStore(cfg: AppConfig, attachmentRedis: RedisConnection): AttachmentStoreHandle {
  const sc = cfg.attachmentStore;
  const ns = storeNamespace(cfg.redisKeyPrefix);
  switch (sc.kind) {
    case 'redis':
      return {
        store: new RedisAttachmentStore(attachmentRedis, cfg.redisKeyPrefix),
        init: async () => undefined,
        close: () => undefined,
        describe: { store: 'redis' },
      };
    case 'fs': {
      const store = new FsAttachmentStore(sc.dir, ns);
      return { store, init: () => store.init(), close: () => undefined, describe: { store: 'fs', dir: store.dir } };
    }
    case 's3': {
      const store = new S3AttachmentStore(createS3Client(sc, cfg.attachmentTimeoutMs), sc.bucket, ns);
      return {
        store,
        init: () => store.check(),
        close: () => store.close(),
        describe: {
          store: 's3',
          bucket: sc.bucket,
          prefix: `${ns}/`,
          region: sc.region,
          endpoint: sc.endpoint ?? 'AWS',
          forcePathStyle: sc.forcePathStyle,
        },
      };
    }
  }
}
