import type { WorkItemError } from './error-codes';

/** How an item finished (contract 1.2): a `duplicate` receipt for a resend after it says so in `state`. */
export type FinishedState = 'ended' | 'cancelled' | 'expired';

export type ReceiptStatus = 'accepted' | 'buffered' | 'scheduled' | 'duplicate' | 'updated' | 'cancelled' | 'rejected';

/** Where an unfinished item is: routed (the contact center has it), parked, or scheduled (waits for its activateAt). */
export type PlacedState = 'routed' | 'parked' | 'scheduled';

/** The receipt a sender gets for an item placed so: `buffered` is the wire's word for parked. */
export function receiptStatusOf(state: PlacedState): 'accepted' | 'buffered' | 'scheduled' {
  return state === 'routed' ? 'accepted' : state === 'parked' ? 'buffered' : 'scheduled';
}

/** A state as the HTTP API, the dashboard and the CLI's output show it: parked is `buffered`, as in the receipts. */
export type WireState = 'routed' | 'buffered' | 'scheduled';

export function wireState(state: PlacedState): WireState {
  return state === 'parked' ? 'buffered' : state;
}

/** A state filter as the API and the CLI take it (`buffered` and `parked` both mean parked); undefined: not a state. */
export function parseStateWord(word: string): PlacedState | undefined {
  if (word === 'buffered' || word === 'parked') return 'parked';
  return word === 'routed' || word === 'scheduled' ? word : undefined;
}

/** What a sender is told about its message (rendered as `<workItemReceipt>` XML by the xml adapter). */
export interface ReceiptData {
  status: ReceiptStatus;
  externalId?: string;
  source?: string;
  contactId?: string;
  entrance?: string;
  receivedAt?: string;
  /** A `duplicate` of an item that already finished (contract 1.2): how it finished. */
  state?: FinishedState;
  error?: WorkItemError;
}
