import { randomUUID } from 'node:crypto';
import { itemGone, putAttachment, sweepOrphanAttachments } from '../../../src/application/attachment-lifecycle';
import { endContact } from '../../../src/application/handle-control-event';
import type { Deps } from '../../../src/application/deps';
import type { AttachmentStore } from '../../../src/ports/attachment-store';
import { TransientError } from '../../../src/ports/messaging';
import { MemoryItemHistory } from '../../helpers/memory-history';
import { MemoryAttachmentStore } from './fakes/attachment-store';
import { RecordingMetrics } from './fakes/metrics';

const cid = () => `wi-${randomUUID()}`;

function deps(store: AttachmentStore, over: Partial<Deps> = {}) {
  const warnings: { msg: string; meta: Record<string, unknown> }[] = [];
  const log = {
    warn: (msg: string, meta: Record<string, unknown>) => warnings.push({ msg, meta }),
    info: () => undefined,
    debug: () => undefined,
    error: () => undefined,
    child: () => log,
    isDebugEnabled: () => false,
  };
  const d = {
    cfg: { attachmentTimeoutMs: 200 },
    attachments: store,
    metrics: new RecordingMetrics(),
    log,
    now: Date.now,
    newId: randomUUID,
    history: new MemoryItemHistory(),
    instanceId: 'test',
    ...over,
  } as unknown as Deps;
  return { d, warnings };
}

describe('attachment lifecycle (fs/s3 stores)', () => {
  it('itemGone removes the attachment of a gone item, and nothing for an item without one', async () => {
    const s = new MemoryAttachmentStore();
    const { d } = deps(s);
    const a = cid();
    const b = cid();
    await s.put(a, Buffer.from('a'));
    await s.put(b, Buffer.from('b'));
    await itemGone(d, { contactId: a, hadAttachment: true, why: 'ended' });
    await itemGone(d, { contactId: b, hadAttachment: false, why: 'cancelled' });
    expect([...s.files.keys()]).toEqual([b]);
  });

  it('itemGone never throws and never waits past ATTACHMENT_TIMEOUT_MS: a failed or hanging removal is logged for the sweep', async () => {
    const s = new MemoryAttachmentStore();
    const { d, warnings } = deps(s);
    s.removeImpl = () => Promise.reject(new Error('S3 down'));
    await expect(itemGone(d, { contactId: cid(), hadAttachment: true, why: 'expired' })).resolves.toBeUndefined();
    s.removeImpl = () => new Promise(() => undefined);
    const t0 = Date.now();
    await expect(itemGone(d, { contactId: cid(), hadAttachment: true, why: 'ended' })).resolves.toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(warnings.map((w) => [w.msg, w.meta.why, String(w.meta.error)])).toEqual([
      ['attachment not removed; the orphan sweep removes it later', 'expired', 'S3 down'],
      ['attachment not removed; the orphan sweep removes it later', 'ended', expect.stringMatching(/timed out after 200 ms/)],
    ]);
  });

  it('End of an fs/s3 item removes its attachment (the state store reports it from the record)', async () => {
    const s = new MemoryAttachmentStore();
    const a = cid();
    await s.put(a, Buffer.from('a'));
    const store = { end: async () => ({ outcome: 'ended', entrance: 'loans', taskType: 't', handledMs: 5, hadAttachment: true }) };
    const { d } = deps(s, { store: store as unknown as Deps['store'] });
    expect(await endContact(d, a)).toBe(true);
    expect(s.files.size).toBe(0);
  });

  it('putAttachment: a failing or hanging write is a TransientError (the message is requeued, its redelivery writes again)', async () => {
    const s = new MemoryAttachmentStore();
    const { d } = deps(s);
    s.putImpl = () => Promise.reject(new Error('EIO'));
    await expect(putAttachment(d, cid(), Buffer.from('x'))).rejects.toThrow(TransientError);
    s.putImpl = () => new Promise(() => undefined);
    await expect(putAttachment(d, cid(), Buffer.from('x'))).rejects.toThrow(/attachment write \(fs\) timed out after 200 ms/);
  });

  it('the sweep removes old attachments no unfinished item owns, keeps the others and recent ones', async () => {
    const s = new MemoryAttachmentStore();
    const live = cid();
    const orphan = cid();
    const fresh = cid();
    s.files.set(live, { data: Buffer.from('l'), at: Date.now() - 3600_000 });
    s.files.set(orphan, { data: Buffer.from('o'), at: Date.now() - 3600_000 });
    s.files.set(fresh, { data: Buffer.from('f'), at: Date.now() });
    const store = { getItem: async (id: string) => (id === live ? { contactId: id } : null) };
    const { d } = deps(s, { store: store as unknown as Deps['store'] });
    expect(await sweepOrphanAttachments(d, { graceMs: 600_000 })).toEqual({ checked: 2, removed: 1 });
    expect([...s.files.keys()].sort()).toEqual([live, fresh].sort());
  });

  it('the sweep stops at the first state-store error instead of removing what it could not check', async () => {
    const s = new MemoryAttachmentStore();
    s.files.set(cid(), { data: Buffer.from('x'), at: 0 });
    const store = { getItem: async () => Promise.reject(new Error('redis down')) };
    const { d } = deps(s, { store: store as unknown as Deps['store'] });
    await expect(sweepOrphanAttachments(d)).rejects.toThrow('redis down');
    expect(s.files.size).toBe(1);
  });
});
