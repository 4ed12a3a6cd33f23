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

/**
 * An item's state in a `<workItemInfo>` (status query): the wire words of an unfinished item, or how it finished.
 * `held` is in the contract's list but nothing produces it yet.
 */
export type InfoState = WireState | 'held' | FinishedState;

/** One step of an item's history as a `<workItemInfo>` lists it. */
export interface InfoStep {
  at: string;
  name: string;
}

/**
 * What a status query answers (rendered as `<workItemInfo>` by the xml adapter). A finished item: only what is still
 * known (contactId, state, the steps while its history is kept).
 */
export interface ItemInfo {
  externalId: string;
  source: string;
  contactId: string;
  state: InfoState;
  entrance?: string;
  priority?: number;
  receivedAt?: string;
  updatedAt?: string;
  revision?: number;
  dueAt?: string;
  expiresAt?: string;
  heldUntil?: string;
  steps: InfoStep[];
}
