import { workItemError } from '../domain/error-codes';
import { wireState, type InfoStep, type ItemInfo } from '../domain/receipt';
import type { StatusQuery } from '../domain/work-item';
import type { InboundMessage } from '../ports/messaging';
import type { ItemLookup } from '../ports/state-store';
import type { Deps } from './deps';
import { receiptTarget } from './message-sender';
import type { Outcome } from './outcome';
import { rejectMessage } from './reject-message';

/**
 * `<getWorkItem>` (status query): reads the item of (source, externalId) and answers to reply_to only, never on the
 * receipts exchange. Changes nothing. Found: a `<workItemInfo>`; not found (another source's item too: the query only
 * looks under its own source): a rejected receipt with NOT_FOUND, to reply_to only, no error-queue copy, not counted
 * as a rejection. Without reply_to it can never be answered: rejected MISSING_FIELD the normal way (error copy and
 * receipts copy), counted as received and rejected. An answered query is not a message outcome of the report counters
 * (it is not counted as received either); its outcome is `queried`.
 */
export async function getWorkItem(d: Deps, msg: InboundMessage, query: StatusQuery): Promise<Outcome> {
  const target = receiptTarget(msg);
  const replyTo = target.replyTo;
  if (!replyTo) {
    d.metrics.item('received', {});
    const error = workItemError('MISSING_FIELD', '<getWorkItem> needs the reply_to property: its answer goes only there', '/getWorkItem');
    return rejectMessage(d, msg, error, { externalId: query.externalId, source: query.source });
  }
  const found = await d.store.lookupItem(query.source, query.externalId);
  if (!found) {
    const error = workItemError('NOT_FOUND', `no item "${query.externalId}" of source "${query.source}"`, '/getWorkItem/externalId');
    await d.messaging.sendReply(
      { ...target, replyTo },
      { type: 'workItemReceipt', receipt: { status: 'rejected', externalId: query.externalId, source: query.source, error } },
    );
    d.log.debug('status query: no such item', { externalId: query.externalId, source: query.source });
    return { kind: 'queried', found: false };
  }
  const info = await itemInfo(d, query, found);
  await d.messaging.sendReply({ ...target, replyTo }, { type: 'workItemInfo', info });
  d.log.debug('status query answered', { contactId: info.contactId, state: info.state });
  return { kind: 'queried', found: true, contactId: info.contactId };
}

async function itemInfo(d: Deps, query: StatusQuery, found: ItemLookup): Promise<ItemInfo> {
  const contactId = found.kind === 'unfinished' ? found.item.contactId : found.contactId;
  const history = await d.history.read(contactId);
  const steps: InfoStep[] = (history?.steps ?? []).map((s) => ({ at: s.at, name: s.step }));
  const ids = { externalId: query.externalId, source: query.source, contactId };
  // Finished: only what is still known.
  if (found.kind === 'finished') return { ...ids, state: found.state, steps };
  const { item, revision } = found;
  const updatedAt = [...(history?.steps ?? [])].reverse().find((s) => s.step === 'updated')?.at;
  return {
    ...ids,
    state: wireState(item.state),
    entrance: item.record.entrance,
    priority: item.record.priority,
    receivedAt: item.record.receivedAt,
    ...(updatedAt !== undefined && { updatedAt }),
    ...(revision > 0 && { revision }),
    ...(item.record.dueAt !== undefined && { dueAt: item.record.dueAt }),
    ...(item.expiresAt !== undefined && { expiresAt: item.expiresAt }),
    ...(item.held?.until !== undefined && { heldUntil: item.held.until }),
    steps,
  };
}
