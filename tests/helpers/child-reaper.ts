import { ChildProcess, execFileSync, spawn, SpawnOptions } from 'node:child_process';

/**
 * Children started by the helpers (the service, extra redis-servers) must never outlive the tests.
 * Three layers, because jest sandboxes `process` (exit hooks registered in a test file never fire):
 * - on Linux the child is started through `setpriv --pdeathsig KILL`, so the kernel kills it when the
 *   test process dies, however it dies;
 * - in a jest test file, an afterAll registered when this module loads kills whatever the file left
 *   running and runs the registered cleanups (temp dirs);
 * - outside jest (scripts), process exit/signal hooks do the same.
 */
const children = new Set<ChildProcess>();
const cleanups = new Set<() => void>();

let pdeathsig: boolean | undefined;

/** Whether `setpriv --pdeathsig` works here (util-linux; Linux only). */
function hasPdeathsig(): boolean {
  if (pdeathsig === undefined) {
    try {
      execFileSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore', timeout: 5_000 });
      pdeathsig = true;
    } catch {
      pdeathsig = false;
    }
  }
  return pdeathsig;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Resolves once the child has exited (at once if it already has). */
export function waitForExit(child: ChildProcess): Promise<void> {
  if (!alive(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function runCleanups(): void {
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch {
      // best effort
    }
  }
  cleanups.clear();
}

function killAllSync(): void {
  for (const child of children) if (alive(child)) child.kill('SIGKILL');
  children.clear();
  runCleanups();
}

/** SIGKILLs every tracked child still running and waits (bounded) until each has exited. */
export async function reapAll(timeoutMs = 5_000): Promise<void> {
  const exits = [...children].filter(alive).map(
    (child) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGKILL');
      }),
  );
  await Promise.all(exits);
  children.clear();
  runCleanups();
}

/** Spawns like child_process.spawn, but the child is killed with the test process at the latest. */
export function spawnTracked(command: string, args: string[], options: SpawnOptions): ChildProcess {
  // setpriv execs the command, so the pid is the command's own.
  const child = hasPdeathsig() ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', command, ...args], options) : spawn(command, args, options);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Runs `cleanup` (synchronous) when the test file or process ends; returns a function that unregisters it. */
export function registerExitCleanup(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

if (typeof afterAll === 'function') {
  try {
    afterAll(() => reapAll());
  } catch {
    // loaded from inside a test, where hooks cannot be added; pdeathsig still applies
  }
} else {
  process.on('exit', killAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllSync();
      // Re-raise only if nobody else handles it, so default termination still happens.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}
