/**
 * Tracing as the use cases see it; OpenTelemetry stays behind an adapter. With tracing off (the default) `enabled` is
 * false and callers skip every call, so the off path builds nothing per message.
 */
export interface Tracing {
  readonly enabled: boolean;
  /**
   * The active span's context as one opaque string (W3C `traceparent`, then a newline and `tracestate` when there is
   * one), to store with an item so that work on it later (a reopen flush) continues its trace. undefined: no span.
   */
  current(): string | undefined;
  /** Adds attributes (contact id, outcome) to the active span. */
  annotate(attributes: Readonly<Record<string, string | number | boolean>>): void;
  /**
   * Runs `fn` in a new span `name` continuing a context from current(): what fn publishes lands in the item's own
   * trace. The span active now (what triggered the work, e.g. an entrance reopen) becomes a link. Without a stored
   * context the new span is a child of the active one.
   */
  resume<T>(name: string, stored: string | undefined, fn: () => Promise<T>): Promise<T>;
}
