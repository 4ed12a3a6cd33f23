import type { WorkItemError } from './error-codes';

/** How an item finished (contract 1.2): a `duplicate` receipt for a resend after it says so in `state`. */
export type FinishedState = 'ended' | 'cancelled' | 'expired';

export type ReceiptStatus =
  | 'accepted'
  | 'buffered'
  | 'scheduled'
  | 'duplicate'
  | 'updated'
  | 'cancelled'
  | 'rejected'
  /** Contract 1.2: a `<holdWorkItem>` put the item on hold (or changed its hold). */
  | 'held'
  /** Contract 1.2: a `<resumeWorkItem>` took the item off hold. */
  | 'resumed';

/** Where an arrival puts an item: routed (the contact center has it), parked, or scheduled (waits for its activateAt). */
export type PlacedState = 'routed' | 'parked' | 'scheduled';

/** Where an unfinished item is: placed as an arrival would be, or held (contract 1.2: waits for a resume or its until). */
export type UnfinishedState = PlacedState | 'held';

/** The receipt a sender gets for an item placed so: `buffered` is the wire's word for parked. */
export function receiptStatusOf(state: PlacedState): 'accepted' | 'buffered' | 'scheduled' {
  return state === 'routed' ? 'accepted' : state === 'parked' ? 'buffered' : 'scheduled';
}

/** The receipt status an unfinished item's state stands for (the dashboard's "receipt" column): held is `held`. */
export function statusOfState(state: UnfinishedState): 'accepted' | 'buffered' | 'scheduled' | 'held' {
  return state === 'held' ? 'held' : receiptStatusOf(state);
}

/** A state as the HTTP API, the dashboard and the CLI's output show it: parked is `buffered`, as in the receipts. */
export type WireState = 'routed' | 'buffered' | 'scheduled' | 'held';

export function wireState(state: UnfinishedState): WireState {
  return state === 'parked' ? 'buffered' : state;
}

/** A state filter as the API and the CLI take it (`buffered` and `parked` both mean parked); undefined: not a state. */
export function parseStateWord(word: string): UnfinishedState | undefined {
  if (word === 'buffered' || word === 'parked') return 'parked';
  return word === 'routed' || word === 'scheduled' || word === 'held' ? word : undefined;
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

/** An item's state in a `<workItemInfo>` (status query): the wire words of an unfinished item, or how it finished. */
export type InfoState = WireState | FinishedState;

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
