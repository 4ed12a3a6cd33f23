/** The error queue as operators browse and replay it (ErrorQueue in the RabbitMQ adapter implements it). */

/** What an operator needs to see of one error-queue message. */
export interface ErrorMessageInfo {
  /** Stable for the same message while it sits in the queue: message_id, failure time, code and body hashed. */
  id: string;
  code: string;
  path: string | null;
  message: string | null;
  firstFailedAt: string | null;
  failedAt: string | null;
  originalRoutingKey: string | null;
  originalExchange: string | null;
  messageId: string | null;
  redelivered: boolean;
}

/** One error-queue message as the dashboard shows it. */
export interface ErrorMessageView extends ErrorMessageInfo {
  bodyPreview: string;
  replayable: boolean;
}

export interface ReplayProgress {
  /** Messages fetched from the error queue so far. */
  examined: number;
  /** Republished, confirmed and acked (gone from the error queue). */
  moved: number;
  /** Left in the error queue: another code, not selected, no routing key, or a failed republish. */
  kept: number;
  noRoutingKey: number;
}

export interface ReplayResult {
  progress: ReplayProgress;
  /** The first failure; the replay stopped at it (whatever was not acked is back in the queue). */
  failure?: unknown;
}

export interface ErrorQueueAccess {
  count(): Promise<number>;
  browse(max: number): Promise<{ total: number; examined: number; messages: ErrorMessageView[] }>;
  replay(o: {
    code?: string;
    id?: string;
    shouldStop?: () => boolean;
    onProgress?: (p: Readonly<ReplayProgress>) => void;
    onStart?: (total: number) => void;
  }): Promise<ReplayResult & { total: number }>;
}
