import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { AppConfig } from '../../config/config';
import { copyContactData } from '../../domain/contact-data';
import { workItemError } from '../../domain/error-codes';
import type { ParsedMessage } from '../../domain/work-item';
import type { Logger } from '../../ports/logger';
import type { MessageParser } from '../../ports/message-parser';
import type { MapOptions } from './map-message';
import { parseMessage, type ParseOptions } from './parse-message';

interface Task {
  body: Buffer;
  resolve: (r: ParsedMessage) => void;
  timer?: NodeJS.Timeout;
}

const WORKER_FILE = path.join(__dirname, 'parse-worker.js');
const PARSE_TIMEOUT_MS = 30_000;

/**
 * Small messages are parsed inline (cheaper than a thread hop); large ones on a pool of worker threads, so
 * a 5 MB item's parsing, base64 decoding and hashing never stall the event loop that small items need.
 */
export class WorkerParser implements MessageParser {
  private readonly opts: ParseOptions & Pick<MapOptions, 'schedule'>;
  private readonly idle: Worker[] = [];
  private readonly queue: Task[] = [];
  private readonly busy = new Map<Worker, Task>();
  private closed = false;

  constructor(
    cfg: Pick<AppConfig, 'taskKey' | 'entrances' | 'social' | 'limits' | 'attachments'> &
      Partial<Pick<AppConfig, 'schedule' | 'taskTypes' | 'taskTypesStrict'>>,
    private readonly log: Logger,
    threads = 1,
  ) {
    this.opts = {
      taskKey: cfg.taskKey,
      entrances: new Set(Object.keys(cfg.entrances)),
      social: cfg.social,
      limits: cfg.limits,
      attachments: cfg.attachments,
      ...(cfg.schedule && { schedule: cfg.schedule }),
      // Plain data: crosses to the worker thread as it is (lookups use own keys only).
      ...(cfg.taskTypes && { taskTypes: cfg.taskTypes }),
      ...(cfg.taskTypesStrict !== undefined && { taskTypesStrict: cfg.taskTypesStrict }),
    };
    // Under ts-jest there is no compiled worker file: everything is parsed inline then.
    if (existsSync(WORKER_FILE)) for (let i = 0; i < threads; i++) this.idle.push(this.spawn());
  }

  private spawn(): Worker {
    const w = new Worker(WORKER_FILE, {
      workerData: { ...this.opts, entrances: undefined, entranceNames: [...this.opts.entrances] },
      resourceLimits: { maxOldGenerationSizeMb: 256 },
    });
    w.unref();
    w.on('message', (msg: { result: ParsedMessage }) => this.finish(w, revive(msg.result)));
    w.on('error', (err) => {
      this.log.error('parse worker failed; restarting it', { error: err.message, stack: err.stack });
      this.replace(w, workItemError('MALFORMED_XML', 'the message could not be parsed (parser worker failed)'));
    });
    return w;
  }

  private replace(w: Worker, error: ReturnType<typeof workItemError>): void {
    const task = this.busy.get(w);
    this.busy.delete(w);
    void w.terminate();
    if (task) {
      clearTimeout(task.timer);
      task.resolve({ kind: 'invalid', error });
    }
    if (!this.closed) {
      this.idle.push(this.spawn());
      this.next();
    }
  }

  private finish(w: Worker, result: ParsedMessage): void {
    const task = this.busy.get(w);
    this.busy.delete(w);
    if (task) {
      clearTimeout(task.timer);
      task.resolve(result);
    }
    this.idle.push(w);
    this.next();
  }

  private next(): void {
    while (this.idle.length && this.queue.length) {
      const w = this.idle.pop() as Worker;
      const task = this.queue.shift() as Task;
      this.busy.set(w, task);
      task.timer = setTimeout(
        () => this.replace(w, workItemError('TOO_LARGE', `parsing took longer than ${PARSE_TIMEOUT_MS} ms`)),
        PARSE_TIMEOUT_MS,
      );
      w.postMessage({ body: task.body });
    }
  }

  parse(body: Buffer): Promise<ParsedMessage> {
    const useWorker = body.length > this.opts.limits.inlineParseBytes && (this.idle.length > 0 || this.busy.size > 0);
    if (!useWorker) return Promise.resolve(parseMessage(body, this.opts));
    return new Promise((resolve) => {
      this.queue.push({ body, resolve });
      this.next();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.idle, ...this.busy.keys()].map((w) => w.terminate()));
  }
}

/** Structured clone turns Buffers into Uint8Arrays and drops null prototypes: restore both. */
function revive(result: ParsedMessage): ParsedMessage {
  if (result.kind !== 'workItem') return result;
  const item = result.item;
  item.contactData = copyContactData(item.contactData);
  if (item.attachment) {
    const u8 = item.attachment.data as Uint8Array;
    item.attachment.data = Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
  }
  return result;
}
