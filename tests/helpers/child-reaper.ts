import type { ChildProcess } from 'node:child_process';

/**
 * Children started by the helpers (the service, extra redis-servers) must never outlive the test
 * process: whatever a test forgot to stop is SIGKILLed, and registered sync cleanups (temp dirs)
 * run, when the process exits or is interrupted.
 */
const children = new Set<ChildProcess>();
const cleanups = new Set<() => void>();
let installed = false;

function reapAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch {
      // best effort at exit
    }
  }
  cleanups.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  reapAll();
  // Only re-raise if nobody else (e.g. jest) handles the signal, so default termination still happens.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', reapAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => onSignal(signal));
  }
}

/** Kills `child` at process exit unless it has exited by then. */
export function trackChild(child: ChildProcess): void {
  install();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Runs `cleanup` (synchronous) at process exit; returns a function that unregisters it. */
export function registerExitCleanup(cleanup: () => void): () => void {
  install();
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}
