import type { ItemOutcome, Metrics, OutcomeLabels } from '../../../../src/ports/metrics';
import type { EndedDue } from '../../../../src/ports/state-store';

/** Records what the use cases count, in order. */
export class RecordingMetrics implements Metrics {
  readonly items: { outcome: ItemOutcome; labels: OutcomeLabels }[] = [];
  readonly unroutables: string[] = [];
  readonly refusals: string[] = [];
  readonly replays: { reason: string; count: number }[] = [];
  readonly receiptsLost: string[] = [];
  readonly overdues: { entrance: string; taskType: string }[] = [];
  readonly escalations: { entrance: string; taskType: string }[] = [];
  readonly holds: { entrance: string; taskType: string; by: string }[] = [];
  readonly resumes: { entrance: string; taskType: string; by: string }[] = [];
  readonly operatorCancels: { entrance: string; taskType: string }[] = [];

  item(outcome: ItemOutcome, labels: OutcomeLabels): void {
    this.items.push({ outcome, labels });
  }
  processed(): void {}
  replayed(reason: string, count: number): void {
    this.replays.push({ reason, count });
  }
  receiptLost(reason: string): void {
    this.receiptsLost.push(reason);
  }
  unroutable(entrance: string): void {
    this.unroutables.push(entrance);
  }

  refused(entrance: string): void {
    this.refusals.push(entrance);
  }

  overdue(labels: { entrance: string; taskType: string }): void {
    this.overdues.push({ ...labels });
  }

  readonly ends: { entrance: string; taskType: string; timeToEndMs: number; due: EndedDue }[] = [];
  ended(labels: { entrance: string; taskType: string }, timeToEndMs: number, due: EndedDue): void {
    this.ends.push({ ...labels, timeToEndMs, due });
  }

  escalated(labels: { entrance: string; taskType: string }): void {
    this.escalations.push({ ...labels });
  }

  readonly notifications: string[] = [];
  notified(event: string): void {
    this.notifications.push(event);
  }

  held(labels: { entrance: string; taskType: string; by: string }): void {
    this.holds.push({ ...labels });
  }

  resumed(labels: { entrance: string; taskType: string; by: string }): void {
    this.resumes.push({ ...labels });
  }

  cancelledByOperator(labels: { entrance: string; taskType: string }): void {
    this.operatorCancels.push({ ...labels });
  }

  /** The item outcomes counted, e.g. ['received', 'accepted']. */
  outcomes(): ItemOutcome[] {
    return this.items.map((i) => i.outcome);
  }
}
