import type { TaskTypes } from '../domain/task-types';

/**
 * What the use cases read of the configuration: the few settings they act on, not the whole config (the config
 * module's AppConfig satisfies this structurally, so wiring passes it as it is).
 */
export interface UseCaseSettings {
  /** Contact-data key whose non-empty value makes a message a work item. */
  taskKey: string;
  entrances: Readonly<Record<string, { readonly maxParked: number; readonly maxParkSeconds: number }>>;
  park: {
    readonly retrySeconds: number;
    /** How long a flush holds its entrance's lease between batches (a flusher frozen longer loses it). */
    readonly flushLeaseSeconds: number;
  };
  social: Readonly<
    Record<string, { readonly displayName?: string; readonly pages: Readonly<Record<string, { entrance: string; displayName: string }>> }>
  >;
  /** Task types: their dueIn/expiresIn give an item without its own dueAt/expiresAt one at arrival (none: no defaults). */
  taskTypes?: TaskTypes;
  notifications: { readonly leaseSeconds: number };
  /** Bound of every attachment-store call. */
  attachmentTimeoutMs: number;
  /** `schedule.maxDays`: how far ahead an operator's hold may set its until (as activateAt; default 30). */
  schedule?: { readonly maxDays: number };
}
