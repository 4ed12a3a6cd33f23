import { toClosedEvent, toCreatedEvent, type ContactEvent, type ContactRecord } from '../domain/contact-event';
import { workItemError } from '../domain/error-codes';
import { TransientError, type InboundMessage } from '../ports/messaging';
import type { Deps } from './deps';
import { itemGone } from './attachment-lifecycle';
import { REFUSED_REASON, UNROUTABLE_REASON } from './record-step';

/** The body a parked message gets when there is no original XML at hand (contact.rejected, flush). */
export function recordBody(record: ContactRecord): Buffer {
  return Buffer.from(JSON.stringify(record));
}

/** The record as an event carries it: the attachment's URL is a link signed now (expiring), never the stored one. */
export function withSignedAttachment(d: Pick<Deps, 'attachmentLinks'>, record: ContactRecord): ContactRecord {
  const a = record.attachment;
  if (!a) return record;
  return { ...record, attachment: { ...a, url: d.attachmentLinks.signed(record.contactId, a.fileName) } };
}

/** Where a routed item's contact.created went: to the contact center, or not (the item waits parked again). */
export type RouteResult = 'routed' | NotPlaced;
/** Why an event did not reach the contact center: no queue took it, or the broker refused it (a full queue). */
export type NotPlaced = 'unroutable' | 'refused';

/** Why a publish that was not confirmed did not place the event. */
export function notPlacedOf(outcome: 'returned' | 'refused'): NotPlaced {
  return outcome === 'refused' ? 'refused' : 'unroutable';
}

/**
 * contact.withdrawn / contact.expired: the item is gone from Redis already. Nobody listening (returned) is logged and
 * that is all; a broker that refuses it (a full queue) is a TransientError, so the step is tried again (a redelivered
 * cancel, a retaken expiry claim) and the contact center hears of it once there is room.
 */
export async function publishClosedEvent(d: Deps, event: ContactEvent): Promise<void> {
  const published = await d.messaging.publishEvent(event);
  if (published === 'refused') {
    d.metrics.refused(event.entrance);
    throw new TransientError(`${event.type} of ${event.contactId} refused by the broker (the contact center's queue is full?)`);
  }
  if (published === 'returned') {
    d.log.warn(`${event.type} event unroutable: no queue bound for the entrance`, { contactId: event.contactId, entrance: event.entrance });
  }
}

/** The history's reason for an item that waits again because its event was not placed. */
export function notPlacedReason(why: NotPlaced): string {
  return why === 'refused' ? REFUSED_REASON : UNROUTABLE_REASON;
}

/**
 * An event of a routed item did not reach the contact center: counted by why (workitem_unroutable_events_total or
 * workitem_refused_events_total) and logged; the caller parks the item.
 */
export function eventNotPlaced(d: Deps, why: NotPlaced, entrance: string, what: string, contactId: string): void {
  if (why === 'refused') {
    d.metrics.refused(entrance);
    d.log.warn(`${what} refused by the broker (the contact center's queue is full?); item parked`, { contactId, entrance });
  } else {
    d.metrics.unroutable(entrance);
    d.log.warn(`${what} unroutable: no queue bound for the entrance; item parked`, { contactId, entrance });
  }
}

/**
 * Publishes `contact.created` for a routed item (first publish, replay, flush, redelivery: each signs the
 * attachment link anew). If no queue takes the event (nobody in the contact center listens for that entrance) or the
 * broker refuses it (the contact center's queue is full: `x-overflow: reject-publish`), the item "cannot be placed":
 * it is parked like one for a closed entrance and retried after the park TTL — never acked as delivered, never
 * requeued in a loop, never sent to the error queue.
 */
export async function routeContact(
  d: Deps,
  record: ContactRecord,
  /**
   * parkMessage false: the caller knows the item's parked message is still in the park queue (a flush). arrival: the
   * item's first placing, whose receipt tells the sender it was buffered (no `buffered` notification then). resumed:
   * the item comes back from hold (contract 1.2): the event says `"resumed": true`.
   */
  opts: { replayed: boolean; msg?: InboundMessage; parkMessage?: boolean; arrival?: boolean; resumed?: boolean },
): Promise<RouteResult> {
  const event = toCreatedEvent(withSignedAttachment(d, record), d.newId(), opts.replayed, new Date(d.now()), opts.resumed === true);
  const outcome = await d.messaging.publishEvent(event);
  if (outcome === 'confirmed') return 'routed';
  const why = notPlacedOf(outcome);
  eventNotPlaced(d, why, record.entrance, 'contact event', record.contactId);
  const parked = await d.store.parkRouted(record.contactId, d.now(), opts.arrival ? undefined : why);
  d.notifications?.nudge();
  if (parked.outcome === 'parked' && opts.parkMessage !== false) {
    // The message at hand (an arrival, a TTL retry) is parked as it is; otherwise the item as the store has it.
    if (opts.msg) await d.messaging.park(record.entrance, record.contactId, opts.msg);
    else await d.messaging.parkRecord(record.entrance, record.contactId, recordBody(record));
  }
  return why;
}

/** Why an item expired: parked longer than its entrance allows, or (contract 1.1) its `<expiresAt>` passed. */
export type ExpiryCause = { kind: 'parked-too-long' } | { kind: 'expires-at'; expiresAt?: string; state: string };

function expiryError(d: Deps, record: ContactRecord, cause: ExpiryCause) {
  if (cause.kind === 'expires-at') {
    const when = cause.expiresAt ? ` (${cause.expiresAt})` : '';
    return workItemError('EXPIRED', `expiresAt${when} passed before the item was finished; it was ${cause.state}`, '/workItem/expiresAt');
  }
  const ent = d.cfg.entrances[record.entrance];
  const max = ent ? ent.maxParkSeconds : 0;
  const allowed = max < 3600 ? `${max} s` : `${Number((max / 3600).toFixed(2))} h`;
  return workItemError(
    'EXPIRED',
    `parked longer than the entrance allows (${allowed}) while "${record.entrance}" was closed`,
    '/workItem/entrance',
  );
}

/**
 * The item expired (parked too long, or its expiresAt passed): tell the contact center (`contact.expired`) and the
 * sender (EXPIRED to the original reply_to and correlation id, plus the receipts copy), put a copy on the error
 * queue (of `msg`, the parked message that came back, or else of the record); the state is already removed.
 */
export async function expireContact(
  d: Deps,
  record: ContactRecord,
  target: { replyTo?: string; correlationId?: string },
  msg: InboundMessage | null,
  cause: ExpiryCause = { kind: 'parked-too-long' },
): Promise<void> {
  const error = expiryError(d, record, cause);
  // Its `expired` notification was written with the expiry; publish it now.
  d.notifications?.nudge();
  await publishClosedEvent(d, toClosedEvent('contact.expired', record, cause.kind, d.newId(), new Date(d.now())));
  if (msg) await d.messaging.publishErrorCopy(msg, error);
  else await d.messaging.publishRecordErrorCopy(recordBody(record), error);
  await d.messaging.sendReceipt(target, {
    status: 'rejected',
    externalId: record.externalId,
    source: record.source,
    contactId: record.contactId,
    entrance: record.entrance,
    error,
  });
  await itemGone(d, { contactId: record.contactId, hadAttachment: record.attachment !== undefined, why: 'expired', reason: cause.kind });
  d.metrics.item('expired', { entrance: record.entrance, taskType: record.taskType, code: 'EXPIRED' });
  d.log.info(cause.kind === 'expires-at' ? 'item expired: expiresAt passed' : 'parked item expired', {
    contactId: record.contactId,
    entrance: record.entrance,
  });
}
