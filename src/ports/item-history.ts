/**
 * An item's history (contract "Item history"): what happened to it, step by step, with the time and the instance that
 * did it. Kept while the item is unfinished and `tombstoneSeconds` after its end; bounded per item (the first step and
 * the latest ones are kept, the number dropped in between is counted).
 */

export type HistoryStepName =
  /** The work item arrived and the service made it an item (its contactId). */
  | 'received'
  /** The sender's receipt: routed at once, parked at a closed entrance, scheduled (activateAt), or the same item again. */
  | 'accepted'
  | 'buffered'
  | 'scheduled'
  | 'duplicate'
  /** The item waits at its entrance: the contact center rejected it, nobody took its event, or a park retry found it still closed. */
  | 'parked'
  /** A parked or scheduled item's contact.created was confirmed (reopen flush, park retry, activateAt). */
  | 'routed'
  /** An `<updateWorkItem>` was applied (or recognised as applied before). */
  | 'updated'
  /** An `<updateWorkItem>` for this item was refused (e.g. STALE_UPDATE): nothing changed. */
  | 'update-rejected'
  /** The contact center sent contact.rejected for it. */
  | 'rejected'
  /** Re-published with `replayed: true` (service start, the contact center's server.started). */
  | 'replayed'
  /** Contract 1.2: put on hold (or its hold changed): reason and until of the hold, by whom. */
  | 'held'
  /** Contract 1.2: taken off hold (by its sender, an operator, or its until), with where it went (state). */
  | 'resumed'
  /**
   * Contract 1.2: escalation rules of its task type raised its priority (`reason`: from → to, the rules; on arrival,
   * or at their time with what the contact center was told), `state` where it was.
   */
  | 'escalated'
  /** Its dueAt passed while it was unfinished (routed, parked or scheduled); again only after an update moves dueAt later. */
  | 'overdue'
  | 'ended'
  | 'cancelled'
  | 'expired';

/** Steps after which the item is gone: its history is kept `tombstoneSeconds` from then on. */
export const FINAL_STEPS: ReadonlySet<HistoryStepName> = new Set(['ended', 'cancelled', 'expired']);

export interface HistoryStep {
  step: HistoryStepName;
  /** ISO 8601, UTC. For a collapsed repeat, the latest one. */
  at: string;
  /** The service instance that took the step (host-pid-id). */
  instance: string;
  /** Small details, only those that apply. */
  reason?: string;
  code?: string;
  entrance?: string;
  revision?: number;
  changed?: string[];
  state?: string;
  /** A `held` step: the hold's until (as written). */
  until?: string;
  /** Who took the step when it was not the service itself: `sender`, `until`, or `dashboard:<user>` (an operator). */
  by?: string;
  /** A repeated step collapsed into one (re-parks): how many times, and the first time. */
  times?: number;
  firstAt?: string;
}

export interface ItemHistoryView {
  contactId: string;
  /** In order. When `dropped` > 0, that many steps were left out between the first and the second one shown. */
  steps: HistoryStep[];
  dropped: number;
  /** When the history goes (ISO); null while the item is unfinished (kept as long as the item). */
  keptUntil: string | null;
}

export interface ItemHistory {
  /**
   * Appends steps in order. collapse: a step equal to the latest one (same step and reason) replaces it and counts a
   * repeat, so a waiting item's periodic re-parks take one entry.
   */
  append(contactId: string, steps: HistoryStep[], opts?: { collapse?: boolean }): Promise<void>;
  /** null: nothing is known (never an item, or its end is more than tombstoneSeconds ago). */
  read(contactId: string): Promise<ItemHistoryView | null>;
}
