import type { ErrorCode } from '../domain/error-codes';
import type { Settlement } from '../ports/messaging';

/**
 * What happened to one inbound message. Every outcome but `retry` is settled (its effects are confirmed by the broker
 * and Redis): the message is acked. `retry`: a step could not be confirmed now; the message is requeued, unchanged.
 */
export type Outcome =
  | { kind: 'retry'; reason: string }
  | { kind: 'accepted'; contactId: string }
  | { kind: 'buffered'; contactId: string }
  | { kind: 'duplicate'; contactId: string }
  | { kind: 'cancelled'; contactId: string }
  | { kind: 'updated'; contactId: string }
  | { kind: 'scheduled'; contactId: string }
  | { kind: 'rejected'; code: ErrorCode }
  | { kind: 'routed'; contactId: string }
  | { kind: 'reparked'; contactId: string }
  | { kind: 'expired'; contactId: string }
  | { kind: 'dropped'; reason: string };

export function settlementOf(o: Outcome): Settlement {
  return o.kind === 'retry' ? 'requeue' : 'ack';
}
