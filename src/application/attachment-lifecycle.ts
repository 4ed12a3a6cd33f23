import { TransientError } from '../ports/messaging';
import type { Deps } from './deps';
import { recordStep } from './record-step';

/** Why an item stopped being unfinished. */
export type GoneReason = 'ended' | 'cancelled' | 'expired';

/** After this long without an unfinished item, a stored attachment is an orphan for the sweep. */
export const ORPHAN_GRACE_MS = 10 * 60_000;

function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new TransientError(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Writes an item's attachment: after its state is recorded in Redis and before its event is published or its message
 * parked, so every event's link finds the bytes. Bounded by ATTACHMENT_TIMEOUT_MS; a failure throws and the message is
 * requeued — its redelivery (a duplicate with `redelivered`) writes the same bytes to the same key again.
 */
export async function putAttachment(d: Deps, contactId: string, data: Buffer): Promise<void> {
  try {
    await bounded(d.attachments.put(contactId, data), d.cfg.attachmentTimeoutMs, `attachment write (${d.attachments.kind})`);
  } catch (err) {
    if (err instanceof TransientError) throw err;
    throw new TransientError(`attachment write (${d.attachments.kind}) failed: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The one step every "item is gone" outcome takes once its Redis transition has removed the item (End, cancel,
 * expiry, and any later path that removes items): its history records the end, and the attachment goes. Never throws and never waits longer than
 * ATTACHMENT_TIMEOUT_MS: a removal that fails is logged and left to the orphan sweep (the item is already gone, so
 * its download answers 404 meanwhile). For the redis store the Lua transition already deleted the bytes; removing
 * again is a harmless no-op. `at`: the time the transition counted (End passes its own, so its history's `received`
 * and `ended` steps give the time to end the service level counted), else now.
 */
export async function itemGone(
  d: Deps,
  gone: { contactId: string; hadAttachment: boolean; why: GoneReason; reason?: string; code?: string; by?: string; at?: number },
): Promise<void> {
  // The history's last step; from now on it is kept tombstoneSeconds.
  await recordStep(d, gone.contactId, {
    step: gone.why,
    ...(gone.at !== undefined && { at: gone.at }),
    ...(gone.code !== undefined && { code: gone.code }),
    ...(gone.reason !== undefined && { reason: gone.reason }),
    ...(gone.by !== undefined && { by: gone.by }),
  });
  if (!gone.hadAttachment) return;
  try {
    await bounded(d.attachments.remove(gone.contactId), d.cfg.attachmentTimeoutMs, `attachment removal (${d.attachments.kind})`);
  } catch (err) {
    d.log.warn('attachment not removed; the orphan sweep removes it later', {
      contactId: gone.contactId,
      why: gone.why,
      store: d.attachments.kind,
      error: (err as Error).message,
    });
  }
}

/**
 * Removes stored attachments (fs, s3) that belong to no unfinished item and were last written more than `graceMs`
 * ago: a removal that failed, a write that raced a cancel, a crash between a write and its item's end. The grace
 * keeps an attachment whose item is being (re)created safe. Idempotent, so several instances may sweep at once.
 */
export async function sweepOrphanAttachments(
  d: Deps,
  opts: { graceMs?: number; stopping?: () => boolean } = {},
): Promise<{ checked: number; removed: number }> {
  const list = d.attachments.list?.bind(d.attachments);
  if (!list) return { checked: 0, removed: 0 };
  let checked = 0;
  let removed = 0;
  for await (const contactId of list(d.now() - (opts.graceMs ?? ORPHAN_GRACE_MS))) {
    if (opts.stopping?.()) break;
    checked++;
    if (await d.store.getItem(contactId)) continue;
    await bounded(d.attachments.remove(contactId), d.cfg.attachmentTimeoutMs, 'orphan attachment removal');
    removed++;
  }
  if (removed > 0) d.log.info('orphaned attachments removed', { store: d.attachments.kind, checked, removed });
  return { checked, removed };
}
