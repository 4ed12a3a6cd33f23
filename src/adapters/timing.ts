/** Full-jitter exponential backoff: spreads reconnects of many instances after a broker restart. */
export function jitteredBackoff(attempt: number, baseMs = 200, maxMs = 15_000): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 16));
  return Math.floor(cap / 2 + Math.random() * (cap / 2));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** Races a promise against a timer; every wait in the service is bounded. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
