import { toClosedEvent, type ContactRecord } from '../domain/contact-event';
import { workItemError } from '../domain/error-codes';
import { wireState, type PlacedState } from '../domain/receipt';
import type { HoldRequest } from '../domain/work-item';
import type { InboundMessage } from '../ports/messaging';
import type { HoldActor } from '../ports/metrics';
import type { ItemState } from '../ports/state-store';
import type { Deps } from './deps';
import { messageIdentity, receiptTarget } from './message-sender';
import type { Outcome } from './outcome';
import { recordStep } from './record-step';
import { rejectMessage } from './reject-message';
import { publishClosedEvent } from './route-contact';

/** Who holds or resumes an item: its sender, or an operator (`by`: `dashboard:<user>`), as the history names them. */
export interface Actor {
  kind: HoldActor;
  by: string;
}

export const SENDER: Actor = { kind: 'sender', by: 'sender' };

export interface HoldCommand {
  source: string;
  externalId: string;
  /** An operator's hold names the item (only that one is held). */
  contactId?: string;
  until?: { text: string; ms: number };
  reason?: string;
  /** The hold message's identity ('' for an operator's) and whether a match means "the same hold again". */
  holdId: string;
  sameAgain: boolean;
  actor: Actor;
}

/** What a hold did: put the item on hold (`held`), changed its hold (`rehold`), or nothing (`already`: this hold again). */
export interface Held {
  outcome: 'held' | 'rehold' | 'already';
  contactId: string;
  record: ContactRecord;
  /** Where the item is now (held, unless `already` found it resumed since). */
  state: ItemState;
  /** Where it was when it was held. */
  from?: PlacedState;
}

/**
 * Contract 1.2, the hold of an item (a sender's `<holdWorkItem>`, an operator's): one atomic step in the store, then
 * the routed item's `contact.withdrawn` (reason `held`) until the broker confirms it. The store keeps a mark until
 * then, so whoever holds the item next (the broker's redelivery of this hold after a crash or a refusal, an operator's
 * second try) publishes it again: at least once. null: no unfinished item of (source, externalId) (of contactId).
 */
export async function holdItem(d: Deps, c: HoldCommand): Promise<Held | null> {
  const res = await d.store.hold({
    source: c.source,
    externalId: c.externalId,
    ...(c.contactId !== undefined && { contactId: c.contactId }),
    ...(c.until && { until: c.until }),
    ...(c.reason !== undefined && { reason: c.reason }),
    holdId: c.holdId,
    sameAgain: c.sameAgain,
    by: c.actor.by,
    nowMs: d.now(),
  });
  if (res.outcome === 'not_found') return null;
  const { contactId, record } = res;
  const log = d.log.child({ contactId, externalId: record.externalId, source: record.source });
  // Our own poller resumes it on time; the others see the until within their longest sleep.
  if (c.until && res.outcome !== 'already') d.dueTimers?.nudge(c.until.ms);
  if (res.outcome === 'held') d.faultPoint?.('hold:marked');
  if (res.withdraw) {
    // Refused by the broker (a full queue): TransientError; the mark stays and the next hold publishes it.
    await publishClosedEvent(d, toClosedEvent('contact.withdrawn', record, 'held', d.newId(), new Date(d.now())));
    await d.store.confirmWithdrawn(contactId);
  }
  const from = res.outcome !== 'already' ? res.from : res.state === 'held' ? res.from : undefined;
  if (res.outcome === 'already' && from === undefined) {
    log.info('hold already applied, and resumed since; nothing changed', { state: res.state });
    return { outcome: 'already', contactId, record, state: res.state };
  }
  if (from === undefined) throw new Error(`hold of ${contactId}: the store did not say where it was held from`);
  // This hold again while held: the broker's redelivery after the first handling died or was refused (its step and
  // count may not have been written), or a publish retry with the same message_id. Written again, as an update's.
  await recordStep(d, contactId, {
    step: 'held',
    ...(c.reason !== undefined && { reason: c.reason }),
    ...(c.until && { until: c.until.text }),
    by: c.actor.by,
    // Where it was held from (the API's word for parked).
    state: wireState(from),
  });
  if (res.outcome === 'held' || (res.outcome === 'already' && res.withdraw)) {
    d.metrics.held({ entrance: record.entrance, taskType: record.taskType, by: c.actor.kind });
  }
  if (res.outcome === 'already') {
    log.info('hold already applied; nothing changed', { withdrawnAgain: res.withdraw });
    return { outcome: 'already', contactId, record, state: 'held', from };
  }
  log.info(res.outcome === 'held' ? 'work item held' : 'hold of a held item changed', {
    from: res.from,
    until: c.until?.text,
    by: c.actor.by,
  });
  return { outcome: res.outcome, contactId, record, state: 'held', from: res.from };
}

/**
 * `<holdWorkItem>`: the item of the message's own source is held; receipt `held` (also for a hold of a held item, and
 * for this hold again). Unknown or finished: rejected NOT_FOUND with its copies. Like a status query, a hold is not a
 * received item in the counters: it counts (received and rejected) only when rejected.
 */
export async function holdWorkItem(d: Deps, msg: InboundMessage, req: HoldRequest): Promise<Outcome> {
  const { id, sameAgain } = messageIdentity(msg);
  const held = await holdItem(d, {
    source: req.source,
    externalId: req.externalId,
    ...(req.until !== undefined && { until: { text: req.until, ms: Date.parse(req.until) } }),
    ...(req.reason !== undefined && { reason: req.reason }),
    holdId: id,
    sameAgain,
    actor: SENDER,
  });
  if (!held) {
    d.metrics.item('received', {});
    const error = workItemError(
      'NOT_FOUND',
      `no unfinished item "${req.externalId}" of source "${req.source}" to hold (never received, or already ended, cancelled or expired)`,
      '/holdWorkItem/externalId',
    );
    return rejectMessage(d, msg, error, { externalId: req.externalId, source: req.source });
  }
  await d.messaging.sendReceipt(receiptTarget(msg), {
    status: 'held',
    externalId: held.record.externalId,
    source: held.record.source,
    contactId: held.contactId,
    entrance: held.record.entrance,
    receivedAt: held.record.receivedAt,
  });
  return { kind: 'held', contactId: held.contactId };
}
