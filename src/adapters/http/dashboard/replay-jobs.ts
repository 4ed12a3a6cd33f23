import { randomUUID } from 'node:crypto';
import type { Logger } from '../../../ports/logger';
import type { ErrorQueueAccess } from '../../../ports/error-queue';

export type ReplayStatus = 'running' | 'done' | 'failed' | 'stopped';

export interface ReplayJob {
  id: string;
  /** The error code replayed, or null for every code. */
  code: string | null;
  /** The one message replayed (ErrorMessageInfo.id), or null. */
  messageId: string | null;
  by: string;
  status: ReplayStatus;
  /** Messages in the error queue when the replay started (the ones it looks at). */
  total: number | null;
  examined: number;
  moved: number;
  kept: number;
  noRoutingKey: number;
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
}

const KEEP_FINISHED = 20;

/**
 * Error-queue replays run here, in the service, not in the browser: closing the page changes nothing, and the
 * progress is polled. One replay at a time per instance. Each message is acked on the error queue only after its
 * republish was confirmed, so stopping (service shutdown) or failing at any point loses nothing.
 */
export class ReplayJobs {
  private readonly jobs = new Map<string, ReplayJob>();
  private running: { job: ReplayJob; done: Promise<void> } | null = null;
  private stopping = false;

  constructor(
    private readonly errorQueue: ErrorQueueAccess,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /** Starts a replay; null when one is already running (or the service is stopping). */
  start(scope: { code?: string; messageId?: string }, by: string): ReplayJob | null {
    if (this.running || this.stopping) return null;
    const job: ReplayJob = {
      id: randomUUID(),
      code: scope.code ?? null,
      messageId: scope.messageId ?? null,
      by,
      status: 'running',
      total: null,
      examined: 0,
      moved: 0,
      kept: 0,
      noRoutingKey: 0,
      startedAt: new Date(this.now()).toISOString(),
      finishedAt: null,
      error: null,
    };
    this.jobs.set(job.id, job);
    this.trim();
    this.log.info('error-queue replay started', { replay: job.id, code: job.code, errorMessageId: job.messageId, by });
    const done = this.run(job).finally(() => {
      this.running = null;
    });
    this.running = { job, done };
    return { ...job };
  }

  private async run(job: ReplayJob): Promise<void> {
    try {
      const r = await this.errorQueue.replay({
        code: job.code ?? undefined,
        id: job.messageId ?? undefined,
        shouldStop: () => this.stopping,
        onStart: (total) => {
          job.total = total;
        },
        onProgress: (p) => Object.assign(job, { examined: p.examined, moved: p.moved, kept: p.kept, noRoutingKey: p.noRoutingKey }),
      });
      Object.assign(job, { ...r.progress, total: r.total });
      if (r.failure !== undefined) {
        job.status = 'failed';
        job.error = (r.failure as Error)?.message ?? String(r.failure);
      } else {
        job.status = this.stopping ? 'stopped' : 'done';
      }
    } catch (err) {
      job.status = 'failed';
      job.error = (err as Error).message;
    }
    job.finishedAt = new Date(this.now()).toISOString();
    const meta = { replay: job.id, status: job.status, moved: job.moved, kept: job.kept, examined: job.examined, error: job.error };
    if (job.status === 'failed') this.log.warn('error-queue replay failed; messages not yet moved stay in the error queue', meta);
    else this.log.info('error-queue replay finished', meta);
  }

  get(id: string): ReplayJob | undefined {
    const j = this.jobs.get(id);
    return j && { ...j };
  }

  /** Newest first. */
  list(): ReplayJob[] {
    return [...this.jobs.values()].reverse().map((j) => ({ ...j }));
  }

  /** Shutdown: no new replays; the running one finishes the messages in flight and hands the rest back. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const running = this.running?.done;
    if (!running) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([running, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  private trim(): void {
    const finished = [...this.jobs.values()].filter((j) => j.status !== 'running');
    for (const j of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.jobs.delete(j.id);
  }
}
