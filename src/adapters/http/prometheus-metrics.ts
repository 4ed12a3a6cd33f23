import client from 'prom-client';
import type { ItemOutcome, Metrics, OutcomeLabels } from '../../ports/metrics';

/**
 * Prometheus metrics. Work items are counted as channel `email` like the contact center's reports do,
 * told apart by their task type.
 */
export class PrometheusMetrics implements Metrics {
  readonly registry = new client.Registry();
  private readonly items: client.Counter<'outcome' | 'entrance' | 'task_type' | 'channel' | 'code'>;
  private readonly latency: client.Histogram<'outcome'>;
  private readonly replays: client.Counter<'reason'>;
  private readonly lostReceipts: client.Counter<'reason'>;
  private readonly unroutables: client.Counter<'entrance'>;
  private readonly refusals: client.Counter<'entrance'>;
  private readonly overdues: client.Counter<'task_type' | 'entrance'>;
  private readonly escalations: client.Counter<'task_type' | 'entrance'>;
  private readonly holds: client.Counter<'task_type' | 'entrance' | 'by'>;
  private readonly resumes: client.Counter<'task_type' | 'entrance' | 'by'>;
  private readonly operatorCancels: client.Counter<'task_type' | 'entrance'>;
  /** Unfinished items overdue now, per entrance (read from Redis when /metrics is scraped). */
  readonly overdueNow: client.Gauge<'entrance'>;
  /** Notifications in the outbox (not yet published, or published and not yet confirmed), refreshed at each scrape. */
  readonly notificationsWaiting: client.Gauge;
  private readonly notifications: client.Counter<'event'>;
  readonly parked: client.Gauge<'entrance'>;
  readonly unfinished: client.Gauge;
  /** HTTP connections closed by the connection guard: `cap` (room for a new one) or `idle` (idle too long). */
  readonly httpEvicted: client.Counter<'reason'>;
  /** New HTTP connections closed at once because every slot held a request in progress. */
  readonly httpRefused: client.Counter;
  private httpOpen: () => number = () => 0;

  constructor() {
    client.collectDefaultMetrics({ register: this.registry });
    this.items = new client.Counter({
      name: 'workitem_items_total',
      help: 'Work items by outcome (received, accepted, buffered, scheduled, duplicate, rejected, updated, withdrawn, completed, expired, activated)',
      labelNames: ['outcome', 'entrance', 'task_type', 'channel', 'code'],
      registers: [this.registry],
    });
    this.latency = new client.Histogram({
      name: 'workitem_processing_seconds',
      help: 'Time from delivery to confirmed outcome of an inbound message',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.replays = new client.Counter({
      name: 'workitem_replayed_total',
      help: 'Unfinished items re-published by a replay',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.lostReceipts = new client.Counter({
      name: 'workitem_receipts_lost_total',
      help: 'Receipts that could not be delivered to reply_to (the receipts exchange copy remains)',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.unroutables = new client.Counter({
      name: 'workitem_unroutable_events_total',
      help: 'contact.created events no queue took (nobody listens for the entrance); the item was parked',
      labelNames: ['entrance'],
      registers: [this.registry],
    });
    this.refusals = new client.Counter({
      name: 'workitem_refused_events_total',
      help: "contact events the broker refused (nack: the contact center's queue is full); the item was parked and is retried after the park TTL",
      labelNames: ['entrance'],
      registers: [this.registry],
    });
    this.overdues = new client.Counter({
      name: 'workitem_overdue_total',
      help: 'Unfinished items whose dueAt passed (counted once per item and dueAt by the instance that saw it; again after an update moved dueAt later)',
      labelNames: ['task_type', 'entrance'],
      registers: [this.registry],
    });
    this.escalations = new client.Counter({
      name: 'workitem_escalations_total',
      help: "Priority raises by a task type's escalation rules (contract 1.2): at a rule's time (once per raise across instances; again only for a claim taken over after a crash) or on arrival (rules whose time had passed)",
      labelNames: ['task_type', 'entrance'],
      registers: [this.registry],
    });
    this.holds = new client.Counter({
      name: 'workitem_held_total',
      help: 'Items put on hold (contract 1.2), by whom: sender (<holdWorkItem>) or operator (the dashboard); a hold that only changes a held item is not counted',
      labelNames: ['task_type', 'entrance', 'by'],
      registers: [this.registry],
    });
    this.resumes = new client.Counter({
      name: 'workitem_resumed_total',
      help: 'Held items resumed (contract 1.2), by whom: sender (<resumeWorkItem>), operator (the dashboard) or until (its time came)',
      labelNames: ['task_type', 'entrance', 'by'],
      registers: [this.registry],
    });
    this.operatorCancels = new client.Counter({
      name: 'workitem_cancelled_by_operator_total',
      help: 'Items an operator cancelled from the dashboard (contact.withdrawn reason cancelled-by-operator); a sender cancel is outcome withdrawn',
      labelNames: ['task_type', 'entrance'],
      registers: [this.registry],
    });
    this.overdueNow = new client.Gauge({
      name: 'workitem_overdue',
      help: 'Unfinished items overdue now (dueAt passed, not ended, cancelled or expired) per entrance',
      labelNames: ['entrance'],
      registers: [this.registry],
    });
    this.notifications = new client.Counter({
      name: 'workitem_notifications_total',
      help: 'Lifecycle notifications published (confirmed) to the notifications exchange, by event (at least once: one published again after a crash counts again)',
      labelNames: ['event'],
      registers: [this.registry],
    });
    this.notificationsWaiting = new client.Gauge({
      name: 'workitem_notifications_waiting',
      help: 'Lifecycle notifications in the outbox, not yet confirmed by the broker (includes routed ones armed until their event is confirmed)',
      registers: [this.registry],
    });
    this.parked = new client.Gauge({
      name: 'workitem_parked',
      help: 'Items parked per entrance (closed entrance, unroutable or refused event)',
      labelNames: ['entrance'],
      registers: [this.registry],
    });
    this.unfinished = new client.Gauge({
      name: 'workitem_unfinished',
      help: 'Unfinished items (routed or parked) kept in Redis until the agent presses End',
      registers: [this.registry],
    });
    this.httpEvicted = new client.Counter({
      name: 'workitem_http_connections_evicted_total',
      help: 'Idle HTTP connections closed by the connection cap (reason=cap) or after idling too long (reason=idle)',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.httpRefused = new client.Counter({
      name: 'workitem_http_connections_refused_total',
      help: 'New HTTP connections refused because every connection under the cap had a request in progress',
      registers: [this.registry],
    });
    const open = () => this.httpOpen();
    new client.Gauge({
      name: 'workitem_http_connections',
      help: 'Open HTTP connections',
      registers: [this.registry],
      collect() {
        this.set(open());
      },
    });
  }

  /** Where the workitem_http_connections gauge reads its value. */
  countHttpConnections(count: () => number): void {
    this.httpOpen = count;
  }

  item(outcome: ItemOutcome, l: OutcomeLabels): void {
    this.items.inc({ outcome, entrance: l.entrance ?? '', task_type: l.taskType ?? '', channel: 'email', code: l.code ?? '' });
  }

  processed(outcome: string, seconds: number): void {
    this.latency.observe({ outcome }, seconds);
  }

  replayed(reason: string, count: number): void {
    this.replays.inc({ reason }, count);
  }

  receiptLost(reason: string): void {
    this.lostReceipts.inc({ reason });
  }

  unroutable(entrance: string): void {
    this.unroutables.inc({ entrance });
  }

  refused(entrance: string): void {
    this.refusals.inc({ entrance });
  }

  overdue(l: { entrance: string; taskType: string }): void {
    this.overdues.inc({ task_type: l.taskType, entrance: l.entrance });
  }

  escalated(l: { entrance: string; taskType: string }): void {
    this.escalations.inc({ task_type: l.taskType, entrance: l.entrance });
  }

  notified(event: string): void {
    this.notifications.inc({ event });
  }

  held(l: { entrance: string; taskType: string; by: string }): void {
    this.holds.inc({ task_type: l.taskType, entrance: l.entrance, by: l.by });
  }

  resumed(l: { entrance: string; taskType: string; by: string }): void {
    this.resumes.inc({ task_type: l.taskType, entrance: l.entrance, by: l.by });
  }

  cancelledByOperator(l: { entrance: string; taskType: string }): void {
    this.operatorCancels.inc({ task_type: l.taskType, entrance: l.entrance });
  }
}
