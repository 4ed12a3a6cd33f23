import { createHash, hash } from 'node:crypto';
import { toUpdatedEvent, type UpdatedReason } from '../domain/contact-event';
import { workItemError } from '../domain/error-codes';
import { escalationPlan } from '../domain/escalation';
import { taskTypeRule } from '../domain/task-types';
import { mergeUpdate } from '../domain/update';
import { wireState } from '../domain/receipt';
import type { SocialRef, UpdateRequest } from '../domain/work-item';
import { TransientError, type InboundMessage } from '../ports/messaging';
import type { UpdateSnapshot } from '../ports/state-store';
import type { Deps } from './deps';
import type { Outcome } from './outcome';
import { receiptTarget } from './message-sender';
import { recordStep } from './record-step';
import { rejectMessage } from './reject-message';
import { eventNotPlaced, notPlacedOf, recordBody, withSignedAttachment } from './route-contact';

/** How many of an item's latest update ids the store keeps (UPDATE_IDS_KEPT in the Redis state store). */
const RECENT_UPDATES = 16;
/** Compare-and-set attempts before the message is requeued (only a flood of updates of one item gets near it). */
const MAX_ATTEMPTS = 50;
const EVENT_LOCK_TTL_MS = 15_000;
const EVENT_LOCK_WAIT_MS = 20_000;
const PATH = '/updateWorkItem';

/** One-shot (no Hash object): every new item's body is hashed on the hot path. */
export function sha256Hex(data: string | Buffer): string {
  return hash('sha256', data, 'hex');
}

/**
 * What makes an update "the same update again": its message_id (when set) and its body. A redelivery, or a sender's
 * publish retry with the same message_id, is recognised among the item's latest updates; a message without a
 * message_id that is not a redelivery only against the latest one, so sending the same body again after another
 * update (priority 8, 5, then 8 again) still applies.
 */
function updateIdentity(msg: InboundMessage): { id: string; depth: number } {
  const messageId = msg.properties.messageId;
  const id = createHash('sha256')
    .update(`${messageId ?? ''}\n`)
    .update(msg.body)
    .digest('hex')
    .slice(0, 32);
  return { id, depth: msg.redelivered || messageId ? RECENT_UPDATES : 1 };
}

function socialNames(d: Deps, social: Pick<SocialRef, 'platform' | 'pageId'>): Pick<SocialRef, 'pageName' | 'platformName'> {
  const platform = Object.hasOwn(d.cfg.social, social.platform) ? d.cfg.social[social.platform] : undefined;
  const page = platform && Object.hasOwn(platform.pages, social.pageId) ? platform.pages[social.pageId] : undefined;
  return {
    ...(page && { pageName: page.displayName }),
    ...(platform?.displayName !== undefined && { platformName: platform.displayName }),
  };
}

/**
 * `<updateWorkItem>`: read the item, merge, then one atomic compare-and-set in Redis (the serialization point between
 * instances: a concurrent update makes it read and merge again). A routed item's contact center is told with
 * `contact.updated`; a parked or scheduled item only changes in Redis (its later contact.created carries it).
 */
export async function updateWorkItem(d: Deps, msg: InboundMessage, upd: UpdateRequest): Promise<Outcome> {
  const { id: updateId, depth } = updateIdentity(msg);
  const bodySha = upd.body !== undefined ? sha256Hex(upd.body) : undefined;
  const ids = { externalId: upd.externalId, source: upd.source };
  for (let attempt = 1; ; attempt++) {
    const snap = await d.store.readForUpdate(upd.source, upd.externalId);
    if (!snap) return notFound(d, msg, upd);
    const labels = { entrance: snap.record.entrance, taskType: snap.record.taskType };
    const seen = snap.recentUpdates.slice(0, depth).indexOf(updateId);
    if (seen >= 0) return repeated(d, msg, snap, seen === 0);
    if (upd.revision !== undefined && upd.revision <= snap.revision) return stale(d, msg, upd, snap.contactId, snap.revision, labels);
    const social = snap.record.social;
    const merged = mergeUpdate(snap, upd, {
      taskKey: d.cfg.taskKey,
      ...(social && { socialNames: socialNames(d, social) }),
      ...(bodySha !== undefined && { bodySha }),
    });
    if (!merged.ok) {
      await recordStep(d, snap.contactId, { step: 'update-rejected', code: merged.error.code, reason: merged.error.message });
      return rejectMessage(d, msg, merged.error, { ...ids, ...labels, contactId: snap.contactId });
    }
    const expiresChanged = merged.changed.includes('expiresAt') && merged.expiresAt !== undefined;
    const dueAt = merged.changed.includes('dueAt') ? merged.record.dueAt : undefined;
    // Escalation rules are relative to dueAt and belong to the task type: either changing makes the plan again (the
    // store keeps the rules that fired as fired while their new time has passed).
    const plan =
      dueAt !== undefined || merged.record.taskType !== snap.record.taskType
        ? escalationPlan(taskTypeRule(d.cfg.taskTypes, merged.record.taskType)?.escalation ?? [], Date.parse(merged.record.dueAt ?? ''))
        : undefined;
    const res = await d.store.applyUpdate({
      contactId: snap.contactId,
      expectVersion: snap.version,
      updateId,
      dedupeDepth: depth,
      ...(upd.revision !== undefined && { revision: upd.revision }),
      record: merged.record,
      changed: merged.changed,
      ...(expiresChanged && { expiresAt: { text: merged.expiresAt as string, ms: Date.parse(merged.expiresAt as string) } }),
      ...(merged.bodySha !== undefined && { bodySha: merged.bodySha }),
      ...(dueAt !== undefined && { dueAt: { text: dueAt, ms: Date.parse(dueAt) } }),
      ...(plan && { escalation: { plan } }),
      nowMs: d.now(),
    });
    if (expiresChanged && res.outcome === 'updated') d.dueTimers?.nudge(Date.parse(merged.expiresAt as string));
    if (dueAt !== undefined && res.outcome === 'updated') d.dueTimers?.nudge(Date.parse(dueAt));
    // A rule due now (not fired before) fires at the next round; a later one when its time comes.
    if (plan && plan.length > 0 && res.outcome === 'updated') d.dueTimers?.nudge(plan[0].atMs);
    switch (res.outcome) {
      case 'not_found':
        return notFound(d, msg, upd);
      case 'stale':
        return stale(d, msg, upd, snap.contactId, res.lastRevision, labels);
      case 'conflict':
      case 'already_applied':
        // Another update came in between (or this one, from another delivery): read again.
        if (attempt >= MAX_ATTEMPTS) throw new TransientError(`update of ${snap.contactId} kept meeting concurrent updates; retried later`);
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * Math.min(50, attempt * 2))));
        continue;
      case 'updated': {
        const log = d.log.child({ contactId: snap.contactId, externalId: upd.externalId, source: upd.source });
        let delivery = res.state === 'routed' ? 'no change to publish' : `stored (${wireState(res.state)}), no event`;
        if (merged.changed.length > 0 && res.state === 'routed') {
          delivery = await publishUpdated(d, snap.contactId, merged.changed, upd.revision);
        }
        await recordStep(d, snap.contactId, {
          step: 'updated',
          reason: delivery,
          changed: merged.changed,
          // The history is read through the API: its word for parked.
          state: wireState(res.state),
          ...(upd.revision !== undefined && { revision: upd.revision }),
        });
        await sendUpdatedReceipt(d, msg, snap);
        d.metrics.item('updated', labels);
        log.info('work item updated', { changed: merged.changed, revision: upd.revision, state: res.state, delivery });
        return { kind: 'updated', contactId: snap.contactId };
      }
    }
  }
}

/**
 * This update was applied before: a redelivery (our crash between the Redis step and the ack) or a sender's retry.
 * Nothing changes again; a redelivery of the latest update publishes its event again (the crash may have come
 * before it), and the receipt is sent again.
 */
async function repeated(d: Deps, msg: InboundMessage, snap: UpdateSnapshot, latest: boolean): Promise<Outcome> {
  if (msg.redelivered && latest && snap.state === 'routed' && snap.lastChanged.length > 0) {
    await publishUpdated(d, snap.contactId, snap.lastChanged, snap.lastRevision);
  }
  await recordStep(d, snap.contactId, {
    step: 'updated',
    reason: msg.redelivered ? 'redelivered: already applied' : 'already applied; not applied again',
  });
  await sendUpdatedReceipt(d, msg, snap);
  d.log.info('update already applied; not applied again', { contactId: snap.contactId, redelivered: msg.redelivered });
  return { kind: 'updated', contactId: snap.contactId };
}

/**
 * Publishes `contact.updated` with the item's current record, under a short per-item lock held until the broker
 * confirms: with updates of one item confirmed on several instances (a sender's, an escalation's), the last event the
 * contact center gets always carries the latest record. An event nobody takes parks the item like an unroutable
 * contact.created. reason: why, when it is not a sender's update (contract 1.2 `escalation`). Answers what happened,
 * for the history step.
 */
export async function publishUpdated(
  d: Deps,
  contactId: string,
  changed: string[],
  revision: number | undefined,
  reason?: UpdatedReason,
): Promise<string> {
  const lock = `update:${contactId}`;
  const owner = `upd-${d.newId()}`;
  const started = d.now();
  while ((await d.store.acquireLock(lock, owner, EVENT_LOCK_TTL_MS)) === null) {
    if (d.now() - started > EVENT_LOCK_WAIT_MS)
      throw new TransientError(`contact.updated of ${contactId}: its lock stayed busy; retried later`);
    await new Promise((r) => setTimeout(r, 5 + Math.floor(Math.random() * 10)));
  }
  try {
    const item = await d.store.getItem(contactId);
    if (!item || item.state !== 'routed') return `not routed any more (${item?.state ?? 'gone'}), no event`;
    const event = toUpdatedEvent(withSignedAttachment(d, item.record), changed, revision, d.newId(), new Date(d.now()), reason);
    const published = await d.messaging.publishEvent(event);
    if (published === 'confirmed') return 'contact.updated published';
    const why = notPlacedOf(published);
    eventNotPlaced(d, why, item.record.entrance, 'contact.updated', contactId);
    const parked = await d.store.parkRouted(contactId, d.now(), why);
    d.notifications?.nudge();
    if (parked.outcome === 'parked') await d.messaging.parkRecord(item.record.entrance, contactId, recordBody(parked.record));
    return `${why}, parked`;
  } finally {
    await d.store.releaseLock(lock, owner).catch(() => undefined);
  }
}

async function sendUpdatedReceipt(d: Deps, msg: InboundMessage, snap: UpdateSnapshot): Promise<void> {
  await d.messaging.sendReceipt(receiptTarget(msg), {
    status: 'updated',
    externalId: snap.record.externalId,
    source: snap.record.source,
    contactId: snap.contactId,
    entrance: snap.record.entrance,
    receivedAt: snap.record.receivedAt,
  });
}

function notFound(d: Deps, msg: InboundMessage, upd: UpdateRequest): Promise<Outcome> {
  const error = workItemError(
    'NOT_FOUND',
    `no unfinished item "${upd.externalId}" of source "${upd.source}" to update (never received, or already ended, cancelled or expired)`,
    `${PATH}/externalId`,
  );
  return rejectMessage(d, msg, error, { externalId: upd.externalId, source: upd.source });
}

async function stale(
  d: Deps,
  msg: InboundMessage,
  upd: UpdateRequest,
  contactId: string,
  last: number,
  labels: { entrance: string; taskType: string },
): Promise<Outcome> {
  const error = workItemError(
    'STALE_UPDATE',
    `revision ${upd.revision} is not greater than ${last}, the last revision applied to this item: nothing changed. ` +
      `Send a revision above ${last}, or none to apply in arrival order`,
    `${PATH}/@revision`,
  );
  await recordStep(d, contactId, { step: 'update-rejected', code: error.code, revision: upd.revision, reason: `not greater than ${last}` });
  return rejectMessage(d, msg, error, { externalId: upd.externalId, source: upd.source, contactId, ...labels });
}
