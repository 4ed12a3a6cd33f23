import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, promises as fsp, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { storeNamespace } from '../../../src/adapters/attachments/attachment-keys';
import { FsAttachmentStore } from '../../../src/adapters/attachments/fs-attachment-store';

const cid = () => `wi-${randomUUID()}`;

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** ATTACHMENT_STORE=fs: atomic, durable writes under the contactId only; no path a sender can steer; idempotent removal. */
describe('FsAttachmentStore', () => {
  let root: string;
  let store: FsAttachmentStore;

  beforeEach(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'wi-att-'));
    store = new FsAttachmentStore(root, 'workitem');
    await store.init();
  });
  afterEach(() => {
    jest.restoreAllMocks();
    rmSync(root, { recursive: true, force: true });
  });

  it('stores the bytes as <dir>/<namespace>/<contactId> and streams them back with their size', async () => {
    const id = cid();
    const data = randomBytes(700 * 1024 + 3);
    await store.put(id, data);
    expect(readdirSync(path.join(root, 'workitem'))).toEqual([id]);
    const got = await store.open(id);
    expect(got!.size).toBe(data.length);
    expect((await readAll(got!.stream)).equals(data)).toBe(true);
  });

  it('writes a temp file in the same directory, fsyncs it, renames it over the final name, then fsyncs the directory', async () => {
    const steps: string[] = [];
    const probe = await fsp.open(path.join(root, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
    await probe.close();
    const realSync = proto.sync;
    jest.spyOn(proto, 'sync').mockImplementation(async function (this: { fd: number }) {
      steps.push('fsync');
      return realSync.call(this);
    });
    const realRename = fsp.rename;
    jest.spyOn(fsp, 'rename').mockImplementation(async (from, to) => {
      steps.push(
        `rename ${path.dirname(String(from)) === path.dirname(String(to)) ? 'same-dir' : 'other-dir'} ${path.basename(String(from)).startsWith('.tmp-') ? 'from-temp' : 'from-?'}`,
      );
      return realRename(from, to);
    });
    await store.put(cid(), Buffer.from('hello'));
    expect(steps).toEqual(['fsync', 'rename same-dir from-temp', 'fsync']);
  });

  it('a rewrite is atomic: a reader that opened the old bytes reads all of them, a new reader all of the new; no temp file stays', async () => {
    const id = cid();
    const a = Buffer.alloc(2 * 1024 * 1024, 0x61);
    const b = Buffer.alloc(1024 * 1024, 0x62);
    await store.put(id, a);
    const old = await store.open(id);
    await store.put(id, b);
    const fresh = await store.open(id);
    expect((await readAll(old!.stream)).equals(a)).toBe(true);
    expect((await readAll(fresh!.stream)).equals(b)).toBe(true);
    expect(readdirSync(store.dir)).toEqual([id]);
  });

  it('a write that fails before the rename leaves neither a partial final file nor its temp file', async () => {
    const id = cid();
    jest.spyOn(fsp, 'rename').mockRejectedValueOnce(Object.assign(new Error('EIO: simulated'), { code: 'EIO' }));
    await expect(store.put(id, randomBytes(4096))).rejects.toThrow(/EIO/);
    expect(readdirSync(store.dir)).toEqual([]);
    expect(await store.open(id)).toBeNull();
  });

  it('concurrent writes of the same contactId (two instances after a redelivery) end with one whole copy', async () => {
    const id = cid();
    const data = randomBytes(512 * 1024);
    await Promise.all([store.put(id, data), store.put(id, data), store.put(id, data)]);
    expect(readdirSync(store.dir)).toEqual([id]);
    expect((await readAll((await store.open(id))!.stream)).equals(data)).toBe(true);
  });

  it.each([
    '../escape',
    '../../etc/passwd',
    '/etc/passwd',
    'wi-../../../../../../../../../../tmp/x',
    `wi-${'.'.repeat(36)}`,
    `wi-${randomUUID()}/../../x`,
    `wi-${randomUUID()}\u0000`,
    `WI-${randomUUID()}`,
    `wi-${randomUUID()}.tmp`,
    '..',
    '',
  ])('refuses a contactId that is not one (%j): nothing is written, read or removed anywhere', async (bad) => {
    const outside = path.join(root, 'escape');
    writeFileSync(outside, 'keep me');
    await expect(store.put(bad, Buffer.from('x'))).rejects.toThrow(/invalid contactId/);
    await expect(store.open(bad)).rejects.toThrow(/invalid contactId/);
    await expect(store.remove(bad)).rejects.toThrow(/invalid contactId/);
    expect(readdirSync(store.dir)).toEqual([]);
    expect(existsSync(outside)).toBe(true);
    expect(readdirSync(root).sort()).toEqual(['escape', 'workitem']);
  });

  it('the namespace (from REDIS_KEY_PREFIX) can never leave ATTACHMENT_DIR', () => {
    expect(storeNamespace('workitem:')).toBe('workitem');
    expect(storeNamespace('..')).toBe('__');
    expect(storeNamespace('a/b:c:')).toBe('a_b_c');
    expect(storeNamespace(':')).toBe('_');
    expect(() => new FsAttachmentStore(root, '../x')).toThrow(/namespace/);
    expect(() => new FsAttachmentStore(root, '..')).toThrow(/namespace/);
  });

  it('does not follow a symlink planted under a contactId', async () => {
    const id = cid();
    writeFileSync(path.join(root, 'secret'), 'secret');
    symlinkSync(path.join(root, 'secret'), path.join(store.dir, id));
    expect(await store.open(id)).toBeNull();
  });

  it('removal deletes the file, is idempotent, and a download already streaming still completes', async () => {
    const id = cid();
    const data = randomBytes(300 * 1024);
    await store.put(id, data);
    const reading = await store.open(id);
    await store.remove(id);
    expect(existsSync(path.join(store.dir, id))).toBe(false);
    expect(await store.open(id)).toBeNull();
    await store.remove(id);
    await store.remove(cid());
    expect((await readAll(reading!.stream)).equals(data)).toBe(true);
  });

  it('a write re-creates a directory removed under it', async () => {
    rmSync(store.dir, { recursive: true, force: true });
    const id = cid();
    await store.put(id, Buffer.from('back'));
    expect((await readAll((await store.open(id))!.stream)).toString()).toBe('back');
  });

  it('list(before) yields attachments older than the cut-off, skips foreign files, deletes temp files of dead writes', async () => {
    const old = cid();
    const recent = cid();
    await store.put(old, Buffer.from('old'));
    await store.put(recent, Buffer.from('recent'));
    const deadTemp = path.join(store.dir, `.tmp-${cid()}.abcdef`);
    writeFileSync(deadTemp, 'partial');
    writeFileSync(path.join(store.dir, 'README'), 'not ours');
    const hourAgo = new Date(Date.now() - 3600_000);
    for (const f of [path.join(store.dir, old), deadTemp, path.join(store.dir, 'README')]) utimesSync(f, hourAgo, hourAgo);
    expect(await collect(store.list(Date.now() - 600_000))).toEqual([old]);
    expect(existsSync(deadTemp)).toBe(false);
    expect(existsSync(path.join(store.dir, 'README'))).toBe(true);
    expect((await store.open(old)) && (await store.open(recent))).toBeTruthy();
  });

  it('init names ATTACHMENT_DIR when the directory cannot be written', async () => {
    const file = path.join(root, 'a-file');
    writeFileSync(file, 'x');
    await expect(new FsAttachmentStore(file, 'workitem').init()).rejects.toThrow(
      /^ATTACHMENT_DIR: cannot write attachments to .*a-file\/workitem: ENOTDIR/,
    );
  });
});
