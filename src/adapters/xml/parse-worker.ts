import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { parseMessage, type ParseOptions } from './parse-message';

/** Worker-thread entry: parses large messages off the event loop (see worker-parser.ts). */
interface Job {
  id: number;
  body: Uint8Array;
}

// Large items are bulk work: on Linux, a priority set with pid 0 applies to this thread only, so under CPU
// pressure the event loop (small items) and a broker on the same machine run first. Best effort elsewhere.
try {
  setPriority(0, 19);
} catch {
  // not permitted or not supported: parse at normal priority
}

const opts = workerData as ParseOptions & { entranceNames: string[] };
const parseOpts: ParseOptions = { ...opts, entrances: new Set(opts.entranceNames) };

parentPort?.on('message', (job: Job) => {
  const body = Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength);
  const result = parseMessage(body, parseOpts);
  const transfer: ArrayBuffer[] = [];
  if (result.kind === 'workItem' && result.item.attachment) {
    // Hand the decoded bytes over without a copy. A pooled small Buffer cannot be transferred, so copy those.
    const data = result.item.attachment.data;
    const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : Buffer.from(data);
    result.item.attachment.data = own;
    transfer.push(own.buffer as ArrayBuffer);
  }
  parentPort?.postMessage({ id: job.id, result }, transfer);
});
