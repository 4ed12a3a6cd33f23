import path from 'node:path';
import type { Writable } from 'node:stream';

interface MuxLike {
  out: Writable;
  _readIncoming(): void;
}

let installed = false;

/**
 * amqplib's Mux moves every queued frame of every channel to the socket in one synchronous loop, one
 * `socket.write()` (one syscall) per frame. Corking the socket around that loop hands them to the kernel
 * as one `writev`: same bytes, same order, far fewer syscalls (the biggest single cost per item in the
 * profile, see docs/benchmarks.md). If a future amqplib changes that internal, this does nothing.
 */
export function coalesceAmqpSocketWrites(): boolean {
  if (installed) return true;
  let Mux: { prototype: MuxLike } | undefined;
  try {
    // Not an exported subpath: load the very file amqplib's connection loads (same module instance).
    const file = path.join(path.dirname(require.resolve('amqplib')), 'lib', 'mux.js');
    Mux = (require(file) as { Mux?: { prototype: MuxLike } }).Mux;
  } catch {
    return false;
  }
  const original = Mux?.prototype._readIncoming;
  if (!Mux || typeof original !== 'function') return false;
  installed = true;
  Mux.prototype._readIncoming = function readIncomingCorked(this: MuxLike): void {
    const out = this.out;
    if (typeof out?.cork !== 'function') return original.call(this);
    out.cork();
    try {
      original.call(this);
    } finally {
      out.uncork();
    }
  };
  return true;
}
