import { toContactRecord, type AttachmentRef, type ContactRecord } from '../domain/contact-event';
import { workItemError } from '../domain/error-codes';
import { describeRules, escalateOnArrival, escalationPlan } from '../domain/escalation';
import { applyTaskTypeDefaults, taskTypeRule } from '../domain/task-types';
import { receiptStatusOf, type FinishedState, type PlacedState } from '../domain/receipt';
import type { WorkItem } from '../domain/work-item';
import type { InboundMessage } from '../ports/messaging';
import type { Deps } from './deps';
import { putAttachment } from './attachment-lifecycle';
import { receiptTarget } from './message-sender';
import type { Outcome } from './outcome';
import { arrivalSteps, recordStep } from './record-step';
import { rejectMessage } from './reject-message';
import { routeContact, type NotPlaced } from './route-contact';
import { sha256Hex } from './update-item';

export async function acceptWorkItem(d: Deps, msg: InboundMessage, sent: WorkItem, forcedContactId?: string): Promise<Outcome> {
  const entrance = d.cfg.entrances[sent.entrance];
  const nowMs = d.now();
  // The task type's dueIn/expiresIn count from nowMs, the receivedAt stored below. A default expiresAt is within the
  // limits of a sent one (checked at start: more than 0, at most 365 days), and from here on it is handled the same.
  const rule = taskTypeRule(d.cfg.taskTypes, sent.taskType);
  const item = applyTaskTypeDefaults(sent, rule, nowMs);
  const contactId = forcedContactId ?? `wi-${d.newId()}`;
  // Escalation rules whose time already passed apply on arrival: the item is stored (and its contact.created
  // published) with the raised priority; the others wait in the store for their time.
  const plan = escalationPlan(rule?.escalation ?? [], item.dueAt === undefined ? undefined : Date.parse(item.dueAt));
  const arrival = escalateOnArrival(plan, item.priority, nowMs);
  const attachment: AttachmentRef | undefined = item.attachment && {
    fileName: item.attachment.fileName,
    contentType: item.attachment.contentType,
    size: item.attachment.data.length,
    sha256: item.attachment.sha256,
    url: d.attachmentLinks.location(contactId, item.attachment.fileName),
  };
  const record = toContactRecord({ ...item, priority: arrival.priority }, contactId, new Date(nowMs).toISOString(), attachment);
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
    ...(item.restart && { restart: true }),
    // The overdue timer: a dueAt already past on arrival is due at once (the item is overdue from its first poll).
    ...(item.dueAt !== undefined && { dueAt: { text: item.dueAt, ms: Date.parse(item.dueAt) } }),
    ...(plan.length > 0 && { escalation: { plan, done: arrival.done } }),
  });
  if (res.outcome === 'park_limit') {
    const error = workItemError(
      'PARK_LIMIT',
      `entrance "${item.entrance}" is closed and already holds ${entrance.maxParked} parked items`,
      '/workItem/entrance',
    );
    return rejectMessage(d, msg, error, { externalId: item.externalId, source: item.source, ...labels });
  }
  if (res.outcome === 'finished') return answerFinished(d, msg, item, res, nowMs);
  if (res.outcome !== 'duplicate') {
    // Our own poller fires these on time; the others see them within their longest sleep.
    if (item.expiresAt !== undefined) d.dueTimers?.nudge(Date.parse(item.expiresAt));
    if (item.activateAt !== undefined && res.outcome === 'scheduled') d.dueTimers?.nudge(Date.parse(item.activateAt));
    if (item.dueAt !== undefined) d.dueTimers?.nudge(Date.parse(item.dueAt));
    if (arrival.done < plan.length) d.dueTimers?.nudge(plan[arrival.done].atMs);
  }

  /** Where the item ended up by this message; null: a duplicate that changed nothing. */
  let placement: Placement | null = null;
  const stored = res.outcome === 'duplicate' ? res.record : record;
  // From here on every line logged for this message names the item.
  d = { ...d, log: d.log.child({ contactId: stored.contactId, externalId: stored.externalId, source: stored.source }) };
  if (res.outcome !== 'duplicate') {
    placement = await placeItem(d, msg, record, item, res.outcome === 'accepted' ? 'routed' : res.outcome);
  } else if (msg.redelivered && res.state !== 'held') {
    // A redelivery may be our own message after a crash between the Redis write and the publish:
    // finish its work again. Same contactId, so at worst the contact center sees the event twice. (A held item is
    // placed by its resume, nothing is to finish now.)
    placement = await placeItem(d, msg, stored, item, res.state);
  }
  const placed = placement?.state ?? null;
  const status = placed === null ? 'duplicate' : receiptStatusOf(placed);

  // The history write goes out before the receipt and is waited for after it (never throws, bounded): it is on its
  // way to Redis before the sender can read the receipt, and costs the item no round trip of its own.
  const steps = arrivalSteps(res.outcome, placed, nowMs, item, msg.redelivered, placement?.notPlaced);
  const raised = res.outcome !== 'duplicate' && arrival.priority !== item.priority;
  if (raised) {
    // After `received`: the priority was raised before the item was placed.
    steps.splice(1, 0, {
      step: 'escalated',
      at: nowMs,
      changed: ['priority'],
      reason: `on arrival: priority ${item.priority} → ${arrival.priority} (${describeRules(arrival.fired)}; dueAt ${item.dueAt ?? ''})`,
    });
  }
  const history = recordStep(d, stored.contactId, steps);
  await d.messaging.sendReceipt(target, {
    status,
    externalId: stored.externalId,
    source: stored.source,
    contactId: stored.contactId,
    entrance: stored.entrance,
    receivedAt: stored.receivedAt,
  });
  await history;
  d.metrics.item(status, labels);
  if (raised) d.metrics.escalated(labels);
  if (d.log.isDebugEnabled()) d.log.debug('work item handled', { outcome: status, entrance: stored.entrance, taskType: item.taskType });
  return { kind: placed === null ? 'duplicate' : placed === 'routed' ? 'accepted' : placed, contactId: stored.contactId };
}

/**
 * Contract 1.2: the same (source, externalId) again after its item ended, was cancelled or expired (within
 * dedupe.afterEndSeconds, no restart asked for): a duplicate of that item: receipt `duplicate` with its contactId and
 * how it finished (`state`), no contact, a `duplicate` step in its history (kept as long as its tombstone).
 */
async function answerFinished(
  d: Deps,
  msg: InboundMessage,
  item: WorkItem,
  res: { contactId: string; state: FinishedState },
  nowMs: number,
): Promise<Outcome> {
  d = { ...d, log: d.log.child({ contactId: res.contactId, externalId: item.externalId, source: item.source }) };
  const history = recordStep(d, res.contactId, {
    step: 'duplicate',
    at: nowMs,
    reason: `the same item again after it ${res.state} (source, externalId)`,
  });
  await d.messaging.sendReceipt(receiptTarget(msg), {
    status: 'duplicate',
    externalId: item.externalId,
    source: item.source,
    contactId: res.contactId,
    entrance: item.entrance,
    state: res.state,
  });
  await history;
  d.metrics.item('duplicate', { entrance: item.entrance, taskType: item.taskType });
  d.log.info('work item already finished; answered as a duplicate', { state: res.state, restart: false });
  return { kind: 'duplicate', contactId: res.contactId };
}

/**
 * The one step after the state is written (fresh, or again for our own redelivery): the attachment, then the item where
 * its state says — routed: the event (unroutable: parked); parked: the park queue; scheduled: nothing yet, the
 * activation timer (due:activate in Redis) routes it at its activateAt.
 */
async function placeItem(d: Deps, msg: InboundMessage, record: ContactRecord, item: WorkItem, state: PlacedState): Promise<Placement> {
  // Written after the state (so a duplicate or a park-limit rejection writes nothing) and before the event.
  if (item.attachment) await putAttachment(d, record.contactId, item.attachment.data);
  if (state === 'scheduled') return { state: 'scheduled' };
  if (state === 'parked') {
    await d.messaging.park(record.entrance, record.contactId, msg);
    return { state: 'parked' };
  }
  const routed = await routeContact(d, record, { replayed: false, msg, arrival: true });
  return routed === 'routed' ? { state: 'routed' } : { state: 'parked', notPlaced: routed };
}

/** Where an arrival put the item; notPlaced: it was routed, but its event did not reach the contact center. */
interface Placement {
  state: PlacedState;
  notPlaced?: NotPlaced;
}
