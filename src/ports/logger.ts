/** The slice of a logger the application uses (winston's Logger fits). */
export interface Logger {
  error(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
  info(message: string, meta?: Record<string, unknown>): unknown;
  debug(message: string, meta?: Record<string, unknown>): unknown;
  child(meta: Record<string, unknown>): Logger;
  /** Per-item debug lines are built only when they will be written (winston formats before it filters). */
  isDebugEnabled(): boolean;
}
