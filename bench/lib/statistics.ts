import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import { amqpUrl } from '../../tests/helpers/broker';
import { DEFAULT_REDIS_URL } from '../../tests/helpers/redis';
import { REPO_ROOT } from './base';
import { log } from './environment';

/** Percentiles, latencies and the summary lines the benches print. */
/** Arrival minus send time (ms) for each id that has both. */
export function latenciesOf(sentAt: Map<string, number>, arrivedAt: Map<string, number>, idList: string[]): number[] {
  const out: number[] = [];
  for (const id of idList) {
    const s = sentAt.get(id);
    const a = arrivedAt.get(id);
    if (s !== undefined && a !== undefined) out.push(a - s);
  }
  return out;
}

export interface Stats {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function stats(values: number[]): Stats {
  if (values.length === 0) return { n: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    n: s.length,
    p50: r(q(0.5)),
    p90: r(q(0.9)),
    p99: r(q(0.99)),
    max: r(s[s.length - 1]),
    mean: r(s.reduce((a, b) => a + b, 0) / s.length),
  };
}

export function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Samples VmRSS of a process every 100 ms (and reads the kernel's own peak, VmHWM). Sizes in MB. */
export class RssSampler {
  private timer: NodeJS.Timeout;
  peakMb = 0;
  hwmMb = 0;
  samples = 0;

  constructor(
    readonly pid: number,
    intervalMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const rss = /VmRSS:\s+(\d+) kB/.exec(status);
      const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
      if (rss) this.peakMb = Math.max(this.peakMb, Number(rss[1]) / 1024);
      if (hwm) this.hwmMb = Math.max(this.hwmMb, Number(hwm[1]) / 1024);
      this.samples++;
    } catch {
      // the process has exited (or /proc is not there): keep what we have
    }
  }

  /** Peak so far without stopping; the "peak" of the sampler restarts from the current value. */
  stop(): { peakMb: number; hwmMb: number; samples: number } {
    this.sample();
    clearInterval(this.timer);
    return { peakMb: round(this.peakMb, 1), hwmMb: round(this.hwmMb, 1), samples: this.samples };
  }
}

/** user+system CPU seconds a process (all its threads) has used so far, from /proc/<pid>/stat; NaN if unknown. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

/** User and system CPU seconds of a process (all its threads) or of one thread so far, from /proc; NaN if unknown. */
export function cpuTimes(pid: number, thread?: number): { user: number; system: number } {
  try {
    const stat = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux)
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
  } catch {
    return { user: NaN, system: NaN };
  }
}

/**
 * The pid of the local RabbitMQ node (a beam.smp process) that listens on the AMQP port, to read its CPU
 * use; several nodes may run (e.g. a test's own broker), so the listening socket decides. Undefined if not
 * found (remote broker, no /proc).
 */
export function brokerPid(port = Number(new URL(amqpUrl('/')).port || 5672)): number | undefined {
  return listenerPid(port, 'beam.smp');
}

/** The pid of the local redis-server that listens on the bench's Redis port (undefined if not found), to read its CPU use. */
export function redisPid(port = Number(new URL(DEFAULT_REDIS_URL).port || 6379)): number | undefined {
  return listenerPid(port, 'redis-server');
}

/** The pid of a local process named `comm` that has a socket listening on `port`. */
function listenerPid(port: number, comm: string): number | undefined {
  try {
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    const inodes = new Set<string>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      if (!existsSync(table)) continue;
      for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        // local_address is f[1] (ip:port), st is f[3] (0A = LISTEN), inode is f[9]
        if (f.length > 9 && f[1].endsWith(`:${hexPort}`) && f[3] === '0A') inodes.add(`socket:[${f[9]}]`);
      }
    }
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() !== comm) continue;
        for (const fd of readdirSync(`/proc/${d}/fd`)) {
          if (inodes.has(readlinkSync(`/proc/${d}/fd/${fd}`))) return Number(d);
        }
      } catch {
        // gone meanwhile, or not ours to read
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}

/** read- and write-type system calls (read/readv/recv…, write/writev/send…) a process has made so far, all threads. */
export function ioSyscalls(pid: number): { reads: number; writes: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    return { reads: Number(/syscr: (\d+)/.exec(io)?.[1] ?? NaN), writes: Number(/syscw: (\d+)/.exec(io)?.[1] ?? NaN) };
  } catch {
    return { reads: NaN, writes: NaN };
  }
}

/** CPU seconds used by a set of processes between start() and stop(). */
export class CpuMeter {
  private readonly start: { user: number; system: number }[];
  /** System CPU seconds of each process over the same span (after stop()). */
  system: number[] = [];

  constructor(private readonly pids: (number | undefined)[]) {
    this.start = pids.map((p) => (p ? cpuTimes(p) : { user: NaN, system: NaN }));
  }

  stop(): number[] {
    const end = this.pids.map((p) => (p ? cpuTimes(p) : { user: NaN, system: NaN }));
    this.system = end.map((e, i) => round(e.system - this.start[i].system, 2));
    return end.map((e, i) => round(e.user + e.system - this.start[i].user - this.start[i].system, 2));
  }
}

/** The machine a result was measured on; loadavg shows whether other work shared the CPUs. */
export function machine(): {
  cpus: number;
  cpuModel: string;
  memGb: number;
  node: string;
  loadavg1m: number;
  commit: string;
  srcDirty: boolean | null;
} {
  const cpus = os.cpus();
  const git = (...a: string[]): string | null => {
    try {
      return execFileSync('git', a, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
    } catch {
      return null;
    }
  };
  const status = git('--no-optional-locks', 'status', '--porcelain', '--', 'src');
  return {
    commit: git('rev-parse', '--short', 'HEAD') ?? 'unknown',
    srcDirty: status === null ? null : status !== '',
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? '?',
    memGb: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    loadavg1m: round(os.loadavg()[0], 2),
  };
}

/** The last line a bench prints: one JSON object, for CI and docs. */
export function printJson(result: object): void {
  log(JSON.stringify(result));
}

export function fmtStats(s: Stats): string {
  return `p50 ${s.p50} ms, p99 ${s.p99} ms (n=${s.n}, max ${s.max} ms)`;
}
