import type { EndedDue } from './state-store';

export type ItemOutcome =
  | 'received'
  | 'accepted'
  | 'duplicate'
  | 'buffered'
  | 'rejected'
  | 'completed'
  | 'withdrawn'
  | 'expired'
  | 'updated'
  | 'scheduled'
  | 'activated';

/** Who holds or resumes an item: its sender (`<holdWorkItem>`, `<resumeWorkItem>`) or an operator (the dashboard). */
export type HoldActor = 'sender' | 'operator';

export interface OutcomeLabels {
  entrance?: string;
  taskType?: string;
  code?: string;
}

/** What the application reports; the Prometheus adapter decides names and labels. */
export interface Metrics {
  item(outcome: ItemOutcome, labels: OutcomeLabels): void;
  processed(outcome: string, seconds: number): void;
  replayed(reason: string, count: number): void;
  receiptLost(reason: string): void;
  unroutable(entrance: string): void;
  /** The broker refused (nacked) a contact event of the entrance: its queue is full. */
  refused(entrance: string): void;
  /** An unfinished item's dueAt passed (once per item and dueAt, across instances). */
  overdue(labels: { entrance: string; taskType: string }): void;
  /** An item ended (End): its time from receipt to End, and whether it ended before its dueAt (service level). */
  ended(labels: { entrance: string; taskType: string }, timeToEndMs: number, due: EndedDue): void;
  /** A lifecycle notification was published (confirmed) to the notifications exchange. */
  notified(event: string): void;
  /** Contract 1.2: an escalation rule raised an item's priority (on arrival or at its time; once per raise, across instances). */
  escalated(labels: { entrance: string; taskType: string }): void;
  /** Contract 1.2: an item was put on hold (not a hold that only changed an existing one). by: sender or operator. */
  held(labels: { entrance: string; taskType: string; by: HoldActor }): void;
  /** Contract 1.2: a held item was resumed. by: sender, operator, or until (its time came). */
  resumed(labels: { entrance: string; taskType: string; by: HoldActor | 'until' }): void;
  /** An operator cancelled an item (the dashboard): not a message outcome, so not `withdrawn`. */
  cancelledByOperator(labels: { entrance: string; taskType: string }): void;
}
