import type { WorkItemError } from '../domain/error-codes';
import type { InboundMessage } from '../ports/messaging';
import type { Deps } from './deps';
import { receiptTarget } from './message-sender';
import type { Outcome } from './outcome';

/** A message that can never succeed: error-queue copy, error receipt, counted. Then it is acked. */
export async function rejectMessage(
  d: Deps,
  msg: InboundMessage,
  error: WorkItemError,
  ids: { externalId?: string; source?: string; entrance?: string; taskType?: string; contactId?: string },
): Promise<Outcome> {
  await d.messaging.publishErrorCopy(msg, error);
  const target = receiptTarget(msg);
  await d.messaging.sendReceipt(target, {
    status: 'rejected',
    externalId: ids.externalId,
    // An XML whose source cannot be read is answered as the sender it was published as.
    source: ids.source ?? target.sender,
    contactId: ids.contactId,
    error,
  });
  d.metrics.item('rejected', { entrance: ids.entrance, taskType: ids.taskType, code: error.code });
  await d.store
    .countRejected({ metric: 'rejected', taskType: ids.taskType ?? '', entrance: ids.entrance ?? '', code: error.code }, d.now())
    .catch((err) => d.log.warn('could not count rejection in the report counters', { error: (err as Error).message }));
  d.log.info('message rejected', { code: error.code, path: error.path, reason: error.message, ...ids });
  return { kind: 'rejected', code: error.code };
}
