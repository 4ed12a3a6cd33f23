import { workItemError, type WorkItemError } from '../domain/error-codes';
import { TransientError, type DeadLettered, type InboundMessage } from '../ports/messaging';
import type { Deps } from './deps';
import type { Outcome } from './outcome';
import { rejectMessage } from './reject-message';

/**
 * A message the broker dead-lettered before the service settled it (see DeadLettered): its `expiration` ran out in
 * the queue (EXPIRED_IN_QUEUE), or it reached the queue's delivery limit (DELIVERY_LIMIT). A sender's message is
 * rejected like any other (error-queue copy, `rejected` receipt to its reply_to and on the receipts exchange,
 * counted); a control event only gets its error-queue copy. Returns `retry` when a step could not be confirmed now
 * (the message is requeued in the dead-letter queue and tried again).
 */
export async function handleDeadLetter(d: Deps, msg: InboundMessage): Promise<Outcome> {
  const dead: DeadLettered = msg.deadLettered ?? { reason: 'unknown', queue: '', holds: 'other' };
  const log = d.log.child({ messageId: msg.properties.messageId, deadLetterReason: dead.reason, queue: dead.queue });
  const md: Deps = { ...d, log };
  try {
    const error = deathError(dead);
    if (!error || dead.holds === 'other') {
      // Nothing the service's own topology does (a consumer's reject, a policy's length limit, a queue of someone
      // else's dead-lettering here): kept on the error queue as it came, for an operator.
      await d.messaging.publishDeadLetterCopy(msg);
      log.warn('dead-lettered message copied to the error queue without an error code', { routingKey: msg.routingKey });
      return { kind: 'dropped', reason: `dead-lettered (${dead.reason}) from ${dead.queue || 'an unknown queue'}` };
    }
    if (dead.holds === 'controlEvents') {
      await d.messaging.publishErrorCopy(msg, error);
      log.warn('control event dead-lettered by the broker; copied to the error queue', { code: error.code, routingKey: msg.routingKey });
      return { kind: 'rejected', code: error.code };
    }
    if (msg.parked) {
      // Our own retry message of a parked item (its original rides along): the item itself lives in the store and is
      // routed when its entrance reopens, so the sender, told `buffered`, is not told `rejected`.
      await d.messaging.publishErrorCopy(msg, error);
      log.warn('retry message of a parked item dead-lettered by the broker; the item stays parked', {
        code: error.code,
        contactId: msg.parked.contactId,
        entrance: msg.parked.entrance,
      });
      return { kind: 'dropped', reason: `parked item's retry message dead-lettered (${dead.reason})` };
    }
    // Expired before the service took it: never counted as received yet (one that reached the delivery limit was,
    // on each delivery).
    if (error.code === 'EXPIRED_IN_QUEUE') d.metrics.item('received', {});
    return await rejectMessage(md, msg, error, {});
  } catch (err) {
    if (!(err instanceof TransientError)) throw err;
    log.warn('dead-lettered message requeued after a transient failure', { error: err.message });
    return { kind: 'retry', reason: err.message };
  }
}

/** The contract's code for a death, or null when it has none. */
function deathError(dead: DeadLettered): WorkItemError | null {
  switch (dead.reason) {
    case 'expired':
      return workItemError(
        'EXPIRED_IN_QUEUE',
        `the message's expiration${dead.expiration ? ` (${dead.expiration} ms)` : ''} ran out in queue ${dead.queue} before the service took it`,
      );
    case 'delivery_limit':
      return workItemError(
        'DELIVERY_LIMIT',
        `the message reached the delivery limit of queue ${dead.queue}: it was delivered that many times without being settled`,
      );
    default:
      return null;
  }
}
