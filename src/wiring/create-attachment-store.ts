/** Composition: picks the attachment store ATTACHMENT_STORE names (adapters never import each other; wiring does). */
import type { AppConfig } from '../config/config';
import type { AttachmentStore, StoredAttachment } from '../ports/attachment-store';
import { RedisAttachmentStore } from '../adapters/redis/redis-attachment-store';
import type { RedisConnection } from '../adapters/redis/redis-client';
import { storeNamespace } from '../adapters/attachments/attachment-keys';
import { FsAttachmentStore } from '../adapters/attachments/fs-attachment-store';
import type { S3AttachmentStore } from '../adapters/attachments/s3-attachment-store';

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
      // The AWS SDK is loaded only here, at init: it costs ~20 MB of RSS (and a start-up warning) where no one uses s3.
      const store = new DeferredS3Store(async () => {
        const s3 = await import('../adapters/attachments/s3-attachment-store');
        return new s3.S3AttachmentStore(s3.createS3Client(sc, cfg.attachmentTimeoutMs), sc.bucket, ns);
      });
      return {
        store,
        init: () => store.init(),
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

/** The s3 store, built once its module is loaded (init, before any item is consumed); it forwards every call. */
class DeferredS3Store implements AttachmentStore {
  readonly kind = 's3' as const;
  private real: S3AttachmentStore | null = null;

  constructor(private readonly load: () => Promise<S3AttachmentStore>) {}

  /** Loads the SDK and checks the bucket (S3AttachmentStore.check). */
  async init(): Promise<void> {
    this.real ??= await this.load();
    await this.real.check();
  }

  private get s3(): S3AttachmentStore {
    if (!this.real) throw new Error('the s3 attachment store is used before its init');
    return this.real;
  }

  put(contactId: string, data: Buffer): Promise<void> {
    return this.s3.put(contactId, data);
  }

  open(contactId: string): Promise<StoredAttachment | null> {
    return this.s3.open(contactId);
  }

  remove(contactId: string): Promise<void> {
    return this.s3.remove(contactId);
  }

  list(beforeMs: number): AsyncIterable<string> {
    return this.s3.list(beforeMs);
  }

  close(): void {
    this.real?.close();
  }
}
