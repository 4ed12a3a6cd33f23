import type { ErrorCode } from '../domain/error-codes';
import type { Settlement } from '../ports/messaging';

/**
 * What happened to one inbound message. Every outcome but `retry` is settled (its effects are confirmed by the broker
 * and Redis): the message is acked. `retry`: a step could not be confirmed now; the message is requeued, unchanged.
 */
export type Outcome =
  | { kind: 'retry'; reason: string }
  | { kind: 'accepted'; contactId: string }
  | { kind: 'parked'; contactId: string }
  | { kind: 'duplicate'; contactId: string }
  | { kind: 'cancelled'; contactId: string }
  | { kind: 'updated'; contactId: string }
  | { kind: 'scheduled'; contactId: string }
  /** Contract 1.2: a hold (or a changed hold, or this hold again) and a resume, answered `held` / `resumed`. */
  | { kind: 'held'; contactId: string }
  | { kind: 'resumed'; contactId: string }
  | { kind: 'rejected'; code: ErrorCode }
  | { kind: 'routed'; contactId: string }
  | { kind: 'reparked'; contactId: string }
  | { kind: 'expired'; contactId: string }
  | { kind: 'dropped'; reason: string }
  /** A status query answered to reply_to (found: a workItemInfo; else a NOT_FOUND receipt). Not a report counter. */
  | { kind: 'queried'; found: true; contactId: string }
  | { kind: 'queried'; found: false };

/** The outcome as metrics and traces name it: a parked item is `buffered` there, as in its receipt. */
export function outcomeName(o: Outcome): string {
  return o.kind === 'parked' ? 'buffered' : o.kind;
}

export function settlementOf(o: Outcome): Settlement {
  return o.kind === 'retry' ? 'requeue' : 'ack';
}
