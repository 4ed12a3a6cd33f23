/** Bounded waiting: every wait in the test helpers ends, with a message saying what did not happen. */

export class WaitTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WaitTimeoutError';
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with WaitTimeoutError if `promise` does not settle within `ms`; the timer never outlives the race. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WaitTimeoutError(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface WaitUntilOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Included in the timeout error; a function so it can report the latest state. */
  describe?: string | (() => string);
}

/**
 * Polls `check` until it returns something other than undefined/false/null and resolves with that.
 * Errors thrown by `check` count as "not yet"; the last one is reported on timeout.
 */
export async function waitUntil<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  { timeoutMs = 10_000, intervalMs = 100, describe = 'condition' }: WaitUntilOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const what = typeof describe === 'function' ? describe() : describe;
      const cause = lastError ? ` (last error: ${(lastError as Error).message ?? String(lastError)})` : '';
      throw new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}
