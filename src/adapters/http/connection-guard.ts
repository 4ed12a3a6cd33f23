import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type net from 'node:net';

/** What the guard needs of a connection (a net.Socket in the server, a stub in the tests). */
export interface GuardedConnection {
  destroy(): void;
}

export type GuardOutcome = 'accepted' | 'evicted-idle' | 'refused';

export interface ConnectionGuardEvents {
  /** An idle connection was closed: to make room for a new one (`cap`), or because it idled too long (`idle`). */
  evicted?(reason: 'cap' | 'idle'): void;
  /** A new connection was closed at once: every slot holds a request in progress. */
  refused?(): void;
}

/**
 * Caps the HTTP connections strangers can hold, without locking out the health prober.
 *
 * Invariants:
 * - At most `cap` connections are tracked (= open) after `opened` returns.
 * - A connection is *idle* while no request of it is in progress: it never sent one (or is still sending its headers),
 *   or it is a keep-alive connection between requests. `idle` holds exactly those, ordered by when they became idle.
 * - At the cap, a new connection evicts the connection that has been idle longest; only when every connection is busy
 *   is the new one refused. So a flood of idle (or slow-header) connections can never keep a prober out: each new
 *   connection pushes the oldest idle one out, and a request that is being answered is never cut.
 * - `sweep` closes every connection idle for longer than `idleMs` (e.g. the headers timeout), below the cap too.
 */
export class ConnectionGuard<C extends GuardedConnection = GuardedConnection> {
  /** Requests in progress per tracked connection. */
  private readonly busy = new Map<C, number>();
  /** Idle connections → since when, oldest first (Map order is insertion order). */
  private readonly idle = new Map<C, number>();

  constructor(
    readonly cap: number,
    readonly idleMs: number,
    private readonly events: ConnectionGuardEvents = {},
  ) {
    if (!(cap >= 1)) throw new RangeError('cap must be at least 1');
  }

  /** Open connections. */
  get size(): number {
    return this.busy.size;
  }

  /** A connection was accepted. At the cap, evicts the oldest idle connection, or refuses (destroys) this one. */
  opened(c: C, now: number): GuardOutcome {
    let outcome: GuardOutcome = 'accepted';
    if (this.busy.size >= this.cap) {
      const oldest = this.idle.keys().next();
      if (oldest.done) {
        this.events.refused?.();
        c.destroy();
        return 'refused';
      }
      this.closed(oldest.value);
      oldest.value.destroy();
      this.events.evicted?.('cap');
      outcome = 'evicted-idle';
    }
    this.busy.set(c, 0);
    this.idle.set(c, now);
    return outcome;
  }

  /** A request of this connection arrived (its headers are in). */
  requestStarted(c: C): void {
    const n = this.busy.get(c);
    if (n === undefined) return;
    this.busy.set(c, n + 1);
    this.idle.delete(c);
  }

  /** A request of this connection was answered (or abandoned). */
  requestEnded(c: C, now: number): void {
    const n = this.busy.get(c);
    if (n === undefined || n === 0) return;
    this.busy.set(c, n - 1);
    if (n === 1) this.idle.set(c, now);
  }

  closed(c: C): void {
    this.busy.delete(c);
    this.idle.delete(c);
  }

  /** Closes the connections idle for longer than idleMs; returns how many. */
  sweep(now: number): number {
    let n = 0;
    for (const [c, since] of this.idle) {
      if (now - since <= this.idleMs) break;
      this.closed(c);
      c.destroy();
      this.events.evicted?.('idle');
      n++;
    }
    return n;
  }
}

/**
 * Puts a guard on a server: every accepted socket is tracked, requests mark their socket busy until the response
 * finishes or the request is abandoned; a timer (unref'd, stopped when the server closes) sweeps idle sockets.
 */
export function guardConnections(server: http.Server, guard: ConnectionGuard<net.Socket>, sweepEveryMs = 1000): void {
  server.on('connection', (socket: net.Socket) => {
    if (guard.opened(socket, Date.now()) === 'refused') return;
    socket.once('close', () => guard.closed(socket));
  });
  // Before the handler, so a response ended synchronously is still seen to finish.
  server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    guard.requestStarted(socket);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      guard.requestEnded(socket, Date.now());
    };
    res.once('finish', end);
    res.once('close', end);
  });
  const timer = setInterval(() => guard.sweep(Date.now()), sweepEveryMs);
  timer.unref();
  server.once('close', () => clearInterval(timer));
}

/** The soft limit of open files from /proc/self/limits ("Max open files"); `fallback` when unreadable or unlimited. */
export function openFilesSoftLimit(fallback = 1024, limitsFile = '/proc/self/limits'): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(readFileSync(limitsFile, 'utf8'));
    if (!m || m[1] === 'unlimited') return fallback;
    const n = Number(m[1]);
    return Number.isSafeInteger(n) && n > 0 ? n : fallback;
  } catch {
    return fallback;
  }
}

/** Descriptors kept free of HTTP connections: broker and Redis connections, attachment files and S3 sockets, logs, workers. */
export const DESCRIPTOR_RESERVE = 256;

export interface DescriptorBudget {
  /** RLIMIT_NOFILE soft limit (1024 when unreadable). */
  softLimit: number;
  reserve: number;
  /** HTTP_MAX_CONNECTIONS. */
  configured: number;
  /** The cap in force: the configured one, lowered to fit under the soft limit minus the reserve (at least 16). */
  cap: number;
}

export function descriptorBudget(configured: number, softLimit: number, reserve = DESCRIPTOR_RESERVE): DescriptorBudget {
  return { softLimit, reserve, configured, cap: Math.max(16, Math.min(configured, softLimit - reserve)) };
}
