/**
 * Lifecycle notifications (contract 1.2): what became of an item, told to its sender on `workitem.notifications`
 * with routing key `<event>.<source>`. Written to an outbox in the same atomic step as the transition they tell of and
 * published from there (at least once; `id` is the same every time one is published again, senders dedupe on it).
 */
export const NOTIFICATION_EVENTS = ['routed', 'buffered', 'held', 'resumed', 'ended', 'cancelled', 'expired', 'overdue'] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

export interface Notification {
  /** `<contactId>.<n>.<event>`: the AMQP message_id. */
  id: string;
  event: NotificationEvent;
  contactId: string;
  source: string;
  externalId: string;
  entrance: string;
  /** When the transition happened (ms). */
  atMs: number;
  /** The item's correlation id (or its message id) when known: the AMQP correlation_id. */
  correlationId?: string;
  /** Why, where the event has one (buffered: rejected / refused / unroutable; expired: expires-at / parked-too-long; held: the sender's reason). */
  reason?: string;
  /** ended, when the contact center gave one. */
  disposition?: { code: string; text?: string };
  /** held: when it resumes by itself (ISO-8601 as the sender wrote it). */
  until?: string;
  /** overdue: the dueAt that passed (ms). */
  dueMs?: number;
}

export function isNotificationEvent(s: string): s is NotificationEvent {
  return (NOTIFICATION_EVENTS as readonly string[]).includes(s);
}

/** The notification's routing key on the notifications exchange. */
export function notificationRoutingKey(n: Pick<Notification, 'event' | 'source'>): string {
  return `${n.event}.${n.source}`;
}
