import { Readable } from 'node:stream';
import type { AttachmentStore } from '../../../../src/ports/attachment-store';

/**
 * Attachment bytes in a map, listed like the fs/s3 stores (so the orphan sweep has something to walk). `putImpl` /
 * `removeImpl` run before the write/removal: a test makes them fail or hang.
 */
export class MemoryAttachmentStore implements AttachmentStore {
  readonly kind = 'fs';
  readonly files = new Map<string, { data: Buffer; at: number }>();
  putImpl: ((id: string) => Promise<void>) | null = null;
  removeImpl: ((id: string) => Promise<void>) | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  async put(id: string, data: Buffer) {
    if (this.putImpl) await this.putImpl(id);
    this.files.set(id, { data, at: this.now() });
  }
  async open(id: string) {
    const f = this.files.get(id);
    return f ? { size: f.data.length, stream: Readable.from([f.data]) } : null;
  }
  async remove(id: string) {
    if (this.removeImpl) await this.removeImpl(id);
    this.files.delete(id);
  }
  async *list(beforeMs: number) {
    for (const [id, f] of this.files) if (f.at < beforeMs) yield id;
  }
}
