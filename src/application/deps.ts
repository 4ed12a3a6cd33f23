import type { AttachmentLinks } from '../ports/attachment-links';
import type { AttachmentStore } from '../ports/attachment-store';
import type { ItemHistory } from '../ports/item-history';
import type { Logger } from '../ports/logger';
import type { MessageParser } from '../ports/message-parser';
import type { Messaging } from '../ports/messaging';
import type { Metrics } from '../ports/metrics';
import type { StateStore } from '../ports/state-store';
import type { Tracing } from '../ports/tracing';
import type { UseCaseSettings } from './settings';

/** The steps of a reopen flush a fault test may stop the process at (FAULT_STOP_AT; the flush fault suite runs each). */
export const FLUSH_FAULT_STEPS = [
  'flush:leased',
  'flush:marked',
  'flush:published',
  'flush:confirmed',
  'flush:released',
  'flush:draining',
] as const;
/** The steps of the notification relay's round (taken from the outbox; published, not yet removed from it). */
export const NOTIFY_FAULT_STEPS = ['notify:claimed', 'notify:published'] as const;
/** Contract 1.2: right after the hold's or the resume's Redis step, before its event is published. */
export const HOLD_FAULT_STEPS = ['hold:marked', 'resume:marked'] as const;
/** Every step FAULT_STOP_AT may name. */
export const FAULT_STEPS = [...FLUSH_FAULT_STEPS, ...NOTIFY_FAULT_STEPS, ...HOLD_FAULT_STEPS] as const;
export type FaultStep = (typeof FAULT_STEPS)[number];

/** Everything a use case may touch: ports only, no amqplib or ioredis. */
export interface Deps {
  cfg: UseCaseSettings;
  store: StateStore;
  attachments: AttachmentStore;
  /** Attachment URLs: the plain location for the stored record, a freshly signed link for every event. */
  attachmentLinks: AttachmentLinks;
  messaging: Messaging;
  parser: MessageParser;
  metrics: Metrics;
  log: Logger;
  now: () => number;
  newId: () => string;
  /** Each item's steps (record-step.ts writes them; a failure never fails the item). */
  history: ItemHistory;
  /** This service instance (host-pid-id), named in every history step it records. */
  instanceId: string;
  /** Absent or not enabled: tracing off, and the use cases make no tracing call at all. */
  tracing?: Tracing;
  /**
   * Fault tests only (FAULT_STOP_AT): called at named steps of a transition; the wiring stops the process (SIGSTOP) at
   * the one the test names, so a test can freeze or kill it exactly there. Absent: no call at all.
   */
  faultPoint?: (step: FaultStep) => void;
  /** This instance's timer poller: told about a due time it stores, so it wakes for it (absent in tests). */
  dueTimers?: { nudge(dueMs: number): void };
  /** This instance's notification relay: told when a transition wrote a notification, so it publishes it at once. */
  notifications?: { nudge(): void };
}
