import { toClosedEvent, toCreatedEvent, type ContactRecord } from '../domain/contact-event';
import { workItemError } from '../domain/error-codes';
import type { InboundMessage } from '../ports/messaging';
import type { Deps } from './deps';
import { itemGone } from './attachment-lifecycle';

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

/**
 * Publishes `contact.created` for a routed item (first publish, replay, flush, redelivery: each signs the
 * attachment link anew). If no queue takes the event (nobody in the contact center
 * listens for that entrance), the item is parked like one for a closed entrance and retried after the
 * park TTL: never acked as delivered, never spun in a hot loop.
 */
export async function routeContact(
  d: Deps,
  record: ContactRecord,
  /** parkMessage false: the caller knows the item's parked message is still in the park queue (a flush). */
  opts: { replayed: boolean; msg?: InboundMessage; parkMessage?: boolean },
): Promise<'routed' | 'parked'> {
  const event = toCreatedEvent(withSignedAttachment(d, record), d.newId(), opts.replayed, new Date(d.now()));
  const outcome = await d.messaging.publishEvent(event);
  if (outcome === 'confirmed') return 'routed';
  d.metrics.unroutable(record.entrance);
  d.log.warn('contact event unroutable: no queue bound for the entrance; item parked', {
    contactId: record.contactId,
    entrance: record.entrance,
  });
  const parked = await d.store.parkRouted(record.contactId, d.now());
  if (parked.outcome === 'parked' && opts.parkMessage !== false) {
    // The message at hand (an arrival, a TTL retry) is parked as it is; otherwise the item as the store has it.
    if (opts.msg) await d.messaging.park(record.entrance, record.contactId, opts.msg);
    else await d.messaging.parkRecord(record.entrance, record.contactId, recordBody(record));
  }
  return 'parked';
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
  const event = toClosedEvent('contact.expired', record, cause.kind, d.newId(), new Date(d.now()));
  if ((await d.messaging.publishEvent(event)) === 'returned') {
    d.log.warn('contact.expired event unroutable', { contactId: record.contactId, entrance: record.entrance });
  }
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
