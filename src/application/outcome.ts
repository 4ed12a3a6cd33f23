import type { ErrorCode } from '../domain/error-codes';

/** What happened to one inbound message. The RabbitMQ adapter acks after any of these. */
export type Outcome =
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
