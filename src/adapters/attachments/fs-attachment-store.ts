import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import type { AttachmentStore, StoredAttachment } from '../../ports/attachment-store';
import { PermanentStartError } from '../connect-errors';
import { checkedContactId, isContactId } from './attachment-keys';

const TMP_PREFIX = '.tmp-';
const CHUNK_BYTES = 256 * 1024;

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/**
 * Attachments as files: `<ATTACHMENT_DIR>/<namespace>/<contactId>`, one file per item. A write goes to a temporary
 * file in the same directory, is fsynced, renamed over the final name (atomic: a reader sees the old bytes, the new
 * bytes or nothing, never a part) and the directory is fsynced, so the rename survives a crash. Several instances may
 * share the directory (a shared volume): writes of one contactId carry the same bytes, removal is idempotent.
 */
export class FsAttachmentStore implements AttachmentStore {
  readonly kind = 'fs';
  readonly dir: string;

  constructor(root: string, namespace: string) {
    this.dir = path.join(path.resolve(root), namespace);
    if (path.dirname(this.dir) !== path.resolve(root)) throw new Error(`invalid attachment namespace ${JSON.stringify(namespace)}`);
  }

  /** Creates the directory and proves it is writable (a probe file written, fsynced and removed). */
  async init(): Promise<void> {
    try {
      await fs.mkdir(this.dir, { recursive: true, mode: 0o750 });
      const probe = path.join(this.dir, `${TMP_PREFIX}probe-${randomBytes(6).toString('hex')}`);
      const fh = await fs.open(probe, 'wx', 0o640);
      try {
        await fh.writeFile('probe');
        await fh.sync();
      } finally {
        await fh.close();
        await fs.rm(probe, { force: true });
      }
    } catch (err) {
      const why = `ATTACHMENT_DIR: cannot write attachments to ${this.dir}: ${code(err) ?? (err as Error).message}`;
      throw new PermanentStartError('ATTACHMENT_DIR', why, { cause: err });
    }
  }

  private file(contactId: string): string {
    return path.join(this.dir, checkedContactId(contactId));
  }

  async put(contactId: string, data: Buffer): Promise<void> {
    const final = this.file(contactId);
    const tmp = path.join(this.dir, `${TMP_PREFIX}${contactId}.${randomBytes(6).toString('hex')}`);
    try {
      await this.writeSynced(tmp, data);
    } catch (err) {
      if (code(err) !== 'ENOENT') throw err;
      // Someone removed the directory under us: make it again, once.
      await fs.mkdir(this.dir, { recursive: true, mode: 0o750 });
      await this.writeSynced(tmp, data);
    }
    try {
      await fs.rename(tmp, final);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
    await this.syncDir();
  }

  private async writeSynced(file: string, data: Buffer): Promise<void> {
    const fh = await fs.open(file, 'wx', 0o640);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => undefined);
      await fs.rm(file, { force: true }).catch(() => undefined);
      throw err;
    }
    await fh.close();
  }

  /** Makes the rename (or creation) durable. Filesystems that cannot fsync a directory say so with EINVAL: skipped. */
  private async syncDir(): Promise<void> {
    const fh = await fs.open(this.dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await fh.sync().catch((err) => {
        if (!['EINVAL', 'ENOTSUP', 'EISDIR', 'EPERM'].includes(code(err) ?? '')) throw err;
      });
    } finally {
      await fh.close();
    }
  }

  async open(contactId: string): Promise<StoredAttachment | null> {
    let fh;
    try {
      fh = await fs.open(this.file(contactId), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if (code(err) === 'ENOENT' || code(err) === 'ELOOP') return null;
      throw err;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) {
        await fh.close();
        return null;
      }
      // The open descriptor keeps reading the bytes even if the file is removed (End) during the download.
      return { size: st.size, stream: fh.createReadStream({ highWaterMark: CHUNK_BYTES, autoClose: true }) };
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
  }

  async remove(contactId: string): Promise<void> {
    try {
      await fs.unlink(this.file(contactId));
    } catch (err) {
      if (code(err) !== 'ENOENT') throw err;
    }
  }

  /** Attachment files written before `beforeMs`; temporary files of writes that died that long ago are deleted on the way. */
  async *list(beforeMs: number): AsyncIterable<string> {
    let dir;
    try {
      dir = await fs.opendir(this.dir, { bufferSize: 256 });
    } catch (err) {
      if (code(err) === 'ENOENT') return;
      throw err;
    }
    for await (const ent of dir) {
      const full = path.join(this.dir, ent.name);
      const tmp = ent.name.startsWith(TMP_PREFIX);
      if (!tmp && !isContactId(ent.name)) continue;
      const st = await fs.lstat(full).catch(() => null);
      if (!st || !st.isFile() || st.mtimeMs >= beforeMs) continue;
      if (tmp) await fs.rm(full, { force: true }).catch(() => undefined);
      else yield ent.name;
    }
  }
}
