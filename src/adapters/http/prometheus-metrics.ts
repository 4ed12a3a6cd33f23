import client from 'prom-client';
import { TIME_TO_END_BOUNDS_S, type OverdueNowCount } from '../../domain/service-level';
import { TaskTypeLabels } from '../../domain/task-types';
import type { ItemOutcome, Metrics, OutcomeLabels } from '../../ports/metrics';
import type { EndedDue } from '../../ports/state-store';

/**
 * Prometheus metrics. Work items are counted as channel `email` like the contact center's reports do,
 * told apart by their task type (a bounded label: TaskTypeLabels, the configured task types by name).
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
  /** Service level: time from receipt to End, and ended items with a dueAt / ended at or before it. */
  private readonly timeToEnd: client.Histogram<'task_type' | 'entrance'>;
  private readonly endedWithDue: client.Counter<'task_type' | 'entrance'>;
  private readonly endedBeforeDue: client.Counter<'task_type' | 'entrance'>;
  /** Unfinished items overdue now per task type and entrance (read from Redis when /metrics is scraped). */
  private readonly overdueByTaskType: client.Gauge<'task_type' | 'entrance'>;
  /** Label pairs of overdueByTaskType set so far: one that has none overdue any more shows 0. */
  private readonly overdueSeries = new Set<string>();
  private readonly taskTypes: TaskTypeLabels;
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

  /** configuredTaskTypes: the `taskTypes` of the config, always labelled by name. */
  constructor(configuredTaskTypes: Iterable<string> = []) {
    this.taskTypes = new TaskTypeLabels(configuredTaskTypes);
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
    this.timeToEnd = new client.Histogram({
      name: 'workitem_time_to_end_seconds',
      help: 'Time from receipt to End of ended items (service level; the buckets of workitem report: R5 numbers 1 s to 2,500,000 s)',
      labelNames: ['task_type', 'entrance'],
      buckets: [...TIME_TO_END_BOUNDS_S],
      registers: [this.registry],
    });
    this.endedWithDue = new client.Counter({
      name: 'workitem_ended_with_due_total',
      help: 'Ended items (End) that had a dueAt: the denominator of ended before due %',
      labelNames: ['task_type', 'entrance'],
      registers: [this.registry],
    });
    this.endedBeforeDue = new client.Counter({
      name: 'workitem_ended_before_due_total',
      help: 'Ended items (End) that had a dueAt and ended at or before it',
      labelNames: ['task_type', 'entrance'],
      registers: [this.registry],
    });
    this.overdueByTaskType = new client.Gauge({
      name: 'workitem_overdue_by_task_type',
      help: 'Unfinished items overdue now (dueAt passed) per task type and entrance; the same items as workitem_overdue',
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
      help: 'Lifecycle notifications in the outbox, not yet confirmed by the broker',
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
    this.items.inc({
      outcome,
      entrance: l.entrance ?? '',
      task_type: this.taskTypes.label(l.taskType ?? ''),
      channel: 'email',
      code: l.code ?? '',
    });
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
    this.overdues.inc({ task_type: this.taskTypes.label(l.taskType), entrance: l.entrance });
  }

  ended(l: { entrance: string; taskType: string }, timeToEndMs: number, due: EndedDue): void {
    const labels = { task_type: this.taskTypes.label(l.taskType), entrance: l.entrance };
    this.timeToEnd.observe(labels, timeToEndMs / 1000);
    if (due === 'none') return;
    this.endedWithDue.inc(labels);
    // inc by 0 too: the series exists (0) as soon as an item with a dueAt ended, so the ratio reads 0 %, not "no data".
    this.endedBeforeDue.inc(labels, due === 'before' ? 1 : 0);
  }

  /** Sets the overdue-now gauge per task type from the store's counts (at each scrape). */
  setOverdueByTaskType(counts: readonly OverdueNowCount[]): void {
    const now = new Map<string, number>();
    for (const c of counts) {
      const key = `${this.taskTypes.label(c.taskType)}|${c.entrance}`;
      now.set(key, (now.get(key) ?? 0) + c.count);
    }
    for (const key of this.overdueSeries) if (!now.has(key)) now.set(key, 0);
    for (const [key, n] of now) {
      const bar = key.lastIndexOf('|');
      this.overdueByTaskType.set({ task_type: key.slice(0, bar), entrance: key.slice(bar + 1) }, n);
      this.overdueSeries.add(key);
    }
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
