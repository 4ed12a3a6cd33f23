import { toContactRecord, toClosedEvent, type AttachmentRef } from '../domain/contact-event';
import { workItemError } from '../domain/error-codes';
import type { CancelRequest, WorkItem } from '../domain/work-item';
import type { InboundMessage } from '../ports/messaging';
import type { Deps } from './deps';
import type { Outcome } from './outcome';
import { receiptTarget, rejectMessage, senderOf } from './reject-message';
import { flushLock, routeParkedInOrder, unroutableMarker } from './flush-entrance';
import { expireContact, routeContact } from './route-contact';
import { itemGone, putAttachment } from './attachment-lifecycle';
import { sha256Hex, updateWorkItem } from './update-item';

/**
 * Consume → parse → validate → persist → publish → receipt. Returns when the outcome is confirmed by the
 * broker; throws TransientError when it could not be (the adapter then requeues the message).
 */
export async function handleInboundMessage(d: Deps, msg: InboundMessage): Promise<Outcome> {
  // One child logger per message; later steps add contactId/externalId/source to it.
  const md: Deps = { ...d, log: d.log.child({ messageId: msg.properties.messageId }) };
  const outcome = await (msg.parked ? retryParked(md, msg, msg.parked) : processMessage(md, msg));
  if (d.tracing?.enabled) d.tracing.annotate(outcomeAttributes(outcome));
  return outcome;
}

/** What the message's span records about the outcome. */
function outcomeAttributes(o: Outcome): Record<string, string> {
  const attrs: Record<string, string> = { 'workitem.outcome': o.kind };
  if ('contactId' in o) attrs['workitem.contact_id'] = o.contactId;
  if (o.kind === 'rejected') attrs['workitem.error_code'] = o.code;
  return attrs;
}

async function processMessage(d: Deps, msg: InboundMessage, forcedContactId?: string): Promise<Outcome> {
  const parsed = await d.parser.parse(msg.body);
  const labels =
    parsed.kind === 'workItem'
      ? { entrance: parsed.item.entrance, taskType: parsed.item.taskType }
      : parsed.kind === 'invalid'
        ? { entrance: parsed.entrance, taskType: parsed.taskType }
        : {};
  d.metrics.item('received', labels);
  if (parsed.kind === 'invalid') {
    return rejectMessage(d, msg, parsed.error, { externalId: parsed.externalId, source: parsed.source, ...labels });
  }
  const claimed = parsed.kind === 'workItem' ? parsed.item : parsed.kind === 'cancel' ? parsed.cancel : parsed.update;
  const sender = senderOf(msg);
  if (sender !== claimed.source) {
    const root = parsed.kind === 'workItem' ? 'workItem' : parsed.kind === 'cancel' ? 'cancelWorkItem' : 'updateWorkItem';
    const message = sender
      ? `routing key "${msg.senderRoutingKey}" may only carry items of source "${sender}", not "${claimed.source}"`
      : `routing key "${msg.senderRoutingKey}" is not of the form workitem.<source>: publish items of source "${claimed.source}" with routing key "workitem.${claimed.source}"`;
    const error = workItemError('SENDER_NOT_ALLOWED', message, `/${root}/source`);
    return rejectMessage(d, msg, error, { externalId: claimed.externalId, source: claimed.source, ...labels });
  }
  if (parsed.kind === 'cancel') return cancelWorkItem(d, msg, parsed.cancel);
  if (parsed.kind === 'update') return updateWorkItem(d, msg, parsed.update);
  return acceptWorkItem(d, msg, parsed.item, forcedContactId);
}

async function acceptWorkItem(d: Deps, msg: InboundMessage, item: WorkItem, forcedContactId?: string): Promise<Outcome> {
  const entrance = d.cfg.entrances[item.entrance];
  const nowMs = d.now();
  const contactId = forcedContactId ?? `wi-${d.newId()}`;
  const attachment: AttachmentRef | undefined = item.attachment && {
    fileName: item.attachment.fileName,
    contentType: item.attachment.contentType,
    size: item.attachment.data.length,
    sha256: item.attachment.sha256,
    url: d.attachmentLinks.location(contactId, item.attachment.fileName),
  };
  const record = toContactRecord(item, contactId, new Date(nowMs).toISOString(), attachment);
  const target = receiptTarget(msg);
  const labels = { entrance: item.entrance, taskType: item.taskType };

  const res = await d.store.accept({
    record,
    maxParked: entrance.maxParked,
    nowMs,
    replyTo: target.replyTo,
    correlationId: target.correlationId,
    ...(item.body !== undefined && { bodySha: sha256Hex(item.body) }),
    ...(item.expiresAt !== undefined && { expiresAt: { text: item.expiresAt, ms: Date.parse(item.expiresAt) } }),
    // Tracing on: a parked item's later event (reopen flush) continues this message's trace.
    ...(d.tracing?.enabled && { trace: d.tracing.current() }),
    ...(item.activateAt !== undefined && { activateAt: { text: item.activateAt, ms: Date.parse(item.activateAt) } }),
  });
  if (res.outcome === 'park_limit') {
    const error = workItemError(
      'PARK_LIMIT',
      `entrance "${item.entrance}" is closed and already holds ${entrance.maxParked} parked items`,
      '/workItem/entrance',
    );
    return rejectMessage(d, msg, error, { externalId: item.externalId, source: item.source, ...labels });
  }

  let status: 'accepted' | 'buffered' | 'scheduled' | 'duplicate';
  const stored = res.outcome === 'duplicate' ? res.record : record;
  // From here on every line logged for this message names the item.
  d = { ...d, log: d.log.child({ contactId: stored.contactId, externalId: stored.externalId, source: stored.source }) };
  if (res.outcome === 'duplicate') {
    status = 'duplicate';
    // A redelivery may be our own message after a crash between the Redis write and the publish:
    // finish its work again. Same contactId, so at worst the contact center sees the event twice.
    if (msg.redelivered) {
      if (item.attachment) await putAttachment(d, stored.contactId, item.attachment.data);
      if (res.state === 'routed') status = (await routeContact(d, stored, { replayed: false, msg })) === 'routed' ? 'accepted' : 'buffered';
      else if (res.state === 'scheduled')
        status = 'scheduled'; // nothing to publish before its activateAt
      else {
        await d.messaging.park(stored.entrance, stored.contactId, msg);
        status = 'buffered';
      }
    }
  } else {
    // Written after the state (so a duplicate or a park-limit rejection writes nothing) and before the event.
    if (item.attachment) await putAttachment(d, contactId, item.attachment.data);
    if (res.outcome === 'buffered') {
      await d.messaging.park(item.entrance, contactId, msg);
      status = 'buffered';
    } else if (res.outcome === 'scheduled') {
      // No event and no parked message yet: the activation timer (due:activate in Redis) routes it at its activateAt.
      status = 'scheduled';
    } else {
      status = (await routeContact(d, record, { replayed: false, msg })) === 'routed' ? 'accepted' : 'buffered';
    }
  }

  await d.messaging.sendReceipt(target, {
    status,
    externalId: stored.externalId,
    source: stored.source,
    contactId: stored.contactId,
    entrance: stored.entrance,
    receivedAt: stored.receivedAt,
  });
  d.metrics.item(status, labels);
  if (d.log.isDebugEnabled()) d.log.debug('work item handled', { outcome: status, entrance: stored.entrance, taskType: item.taskType });
  return { kind: status, contactId: stored.contactId };
}

async function cancelWorkItem(d: Deps, msg: InboundMessage, cancel: CancelRequest): Promise<Outcome> {
  const res = await d.store.cancel(cancel.source, cancel.externalId, d.now());
  if (res.outcome === 'not_found') {
    const error = workItemError(
      'NOT_FOUND',
      `no unfinished item "${cancel.externalId}" of source "${cancel.source}"`,
      '/cancelWorkItem/externalId',
    );
    return rejectMessage(d, msg, error, { externalId: cancel.externalId, source: cancel.source });
  }
  const record = res.record;
  const event = toClosedEvent('contact.withdrawn', record, 'cancelled-by-sender', d.newId(), new Date(d.now()));
  if ((await d.messaging.publishEvent(event)) === 'returned') {
    d.log.warn('contact.withdrawn event unroutable', { contactId: record.contactId, entrance: record.entrance });
  }
  await itemGone(d, { contactId: record.contactId, hadAttachment: record.attachment !== undefined, why: 'cancelled' });
  await d.messaging.sendReceipt(receiptTarget(msg), {
    status: 'cancelled',
    externalId: record.externalId,
    source: record.source,
    contactId: record.contactId,
    entrance: record.entrance,
    receivedAt: record.receivedAt,
  });
  d.metrics.item('withdrawn', { entrance: record.entrance, taskType: record.taskType });
  d.log.info('work item cancelled by its sender', { contactId: record.contactId, externalId: record.externalId, source: record.source });
  return { kind: 'cancelled', contactId: record.contactId };
}

/**
 * One of our parked messages came back after its TTL (or from a reopen drain): re-park or expire it, or, if its
 * entrance is open, route the entrance's parked items oldest first (this one among them) under the flush lease.
 */
export async function retryParked(d: Deps, msg: InboundMessage, parked: { contactId: string; entrance: string }): Promise<Outcome> {
  const entrance = d.cfg.entrances[parked.entrance];
  if (!entrance) {
    const error = workItemError('UNKNOWN_ENTRANCE', `entrance "${parked.entrance}" is no longer configured`, '/workItem/entrance');
    return rejectMessage(d, msg, error, { contactId: parked.contactId, entrance: parked.entrance });
  }
  const check = () => d.store.checkParked(parked.contactId, d.now(), entrance.maxParkSeconds * 1000, flushLock(parked.entrance));
  let r = await check();
  if (r.outcome === 'open' && !(await d.store.hasMarker(unroutableMarker(parked.entrance)))) {
    // A flush already running routes this item too (oldest first): no need to hold a prefetch slot for it.
    if ((await routeParkedInOrder(d, parked.entrance, `retry:${d.newId()}`, { waitForLease: false })) !== 'busy') {
      r = await check();
      if (r.outcome === 'not_buffered') return { kind: 'routed', contactId: parked.contactId };
    }
  }
  if (r.outcome === 'not_buffered' && r.flushing) {
    // A flush of the entrance is running and has marked the item routed: if nobody takes its event, the flush
    // puts it back counting on this message. Keep the message; once the item is truly routed it is dropped.
    await d.messaging.park(parked.entrance, parked.contactId, msg);
    return { kind: 'reparked', contactId: parked.contactId };
  }
  switch (r.outcome) {
    case 'open':
    case 'closed':
      // Still waiting: closed, closed again mid-flush, or nobody listens for the entrance yet.
      await d.messaging.park(parked.entrance, parked.contactId, msg);
      return { kind: 'reparked', contactId: parked.contactId };
    case 'routed':
    case 'not_buffered':
      // Already routed (by a reopen flush). On a redelivery we may have crashed before publishing: publish again.
      if (msg.redelivered) await routeContact(d, r.record, { replayed: false, msg });
      return { kind: 'dropped', reason: 'already routed' };
    case 'expired':
      await expireContact(d, r.record, { replyTo: r.replyTo, correlationId: r.correlationId }, msg);
      return { kind: 'expired', contactId: parked.contactId };
    case 'gone':
      if (r.tombstone) return { kind: 'dropped', reason: 'ended, cancelled or expired meanwhile' };
      // Redis lost the item (e.g. restarted without persistence): rebuild it from the parked original.
      d.log.warn('parked item unknown to Redis; re-processing the parked original', { contactId: parked.contactId });
      return processMessage(d, { ...msg, parked: undefined }, parked.contactId);
  }
}
