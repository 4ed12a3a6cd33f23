import type { Readable } from 'node:stream';

/** The bytes of one stored attachment, ready to be piped to a download. */
export interface StoredAttachment {
  size: number;
  /** Chunks, never the whole file at once; destroy it when the client goes away. */
  stream: Readable;
}

/**
 * Claim-check storage for attachment bytes, keyed by contactId only (the file name stays in the Redis record and is
 * never a path or key component). `ATTACHMENT_STORE`: redis (default), fs (a directory), s3 (a bucket).
 */
export interface AttachmentStore {
  readonly kind: 'redis' | 'fs' | 's3';
  /** Stores (or replaces: a redelivery writes the same bytes again) the item's bytes; durable once it resolves. */
  put(contactId: string, data: Buffer): Promise<void>;
  /** The bytes with their size, or null when there are none. */
  open(contactId: string): Promise<StoredAttachment | null>;
  /** Idempotent: removing what is not there succeeds. */
  remove(contactId: string): Promise<void>;
  /**
   * contactIds of stored attachments last written before `beforeMs`, for the orphan sweep (items that are gone but
   * whose removal failed, or whose write raced a cancel). Absent: the store needs no sweep (redis: the Lua transition
   * that removes the item deletes its attachment in the same step).
   */
  list?(beforeMs: number): AsyncIterable<string>;
}
