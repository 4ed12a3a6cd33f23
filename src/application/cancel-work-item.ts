import { toClosedEvent } from '../domain/contact-event';
import { publishClosedEvent } from './route-contact';
import { workItemError } from '../domain/error-codes';
import type { CancelRequest } from '../domain/work-item';
import type { InboundMessage } from '../ports/messaging';
import type { Deps } from './deps';
import { itemGone } from './attachment-lifecycle';
import { receiptTarget } from './message-sender';
import type { Outcome } from './outcome';
import { rejectMessage } from './reject-message';

export async function cancelWorkItem(d: Deps, msg: InboundMessage, cancel: CancelRequest): Promise<Outcome> {
  const res = await d.store.cancel(cancel.source, cancel.externalId, d.now());
  // Cancelled before, and this is the broker's redelivery of a cancel whose first handling died after the removal
  // (before its event or receipt was confirmed): finish that work again (same contactId). A sender's repeated cancel is
  // not a redelivery: NOT_FOUND, as for any item that is not unfinished.
  const again = res.outcome === 'cancelled_before' && msg.redelivered;
  if (res.outcome === 'not_found' || (res.outcome === 'cancelled_before' && !again)) {
    const error = workItemError(
      'NOT_FOUND',
      `no unfinished item "${cancel.externalId}" of source "${cancel.source}"`,
      '/cancelWorkItem/externalId',
    );
    return rejectMessage(d, msg, error, { externalId: cancel.externalId, source: cancel.source });
  }
  const record = res.record;
  // Refused by the broker (a full queue): TransientError, the cancel is redelivered and sends it again (above).
  await publishClosedEvent(d, toClosedEvent('contact.withdrawn', record, 'cancelled-by-sender', d.newId(), new Date(d.now())));
  // Again too: the first handling may have died before this.
  await itemGone(d, {
    contactId: record.contactId,
    hadAttachment: record.attachment !== undefined,
    why: 'cancelled',
    reason: 'cancelled-by-sender',
  });
  await d.messaging.sendReceipt(receiptTarget(msg), {
    status: 'cancelled',
    externalId: record.externalId,
    source: record.source,
    contactId: record.contactId,
    entrance: record.entrance,
    receivedAt: record.receivedAt,
  });
  // Counted here, once the event and receipt are confirmed (a first handling that died before this counted nothing).
  d.metrics.item('withdrawn', { entrance: record.entrance, taskType: record.taskType });
  d.log.info(again ? 'redelivered cancel of an item cancelled before: event and receipt sent again' : 'work item cancelled by its sender', {
    contactId: record.contactId,
    externalId: record.externalId,
    source: record.source,
  });
  return { kind: 'cancelled', contactId: record.contactId };
}
