import type { Readable } from 'node:stream';

/** Claim-check storage for attachment bytes. Redis by default; a file or object store can implement the same. */
export interface AttachmentStore {
  put(contactId: string, data: Buffer): Promise<void>;
  /** Size in bytes, or null when there is none. */
  size(contactId: string): Promise<number | null>;
  /** Streams the bytes in chunks, so a download never holds the whole file in memory twice. */
  stream(contactId: string): Readable;
  remove(contactId: string): Promise<void>;
}
