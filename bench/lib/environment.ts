import { rmSync } from 'node:fs';
import os from 'node:os';
import { buildTopology, type Topology } from '../../src/adapters/rabbitmq/topology';
import { amqpUrl, createVhost, deleteVhost } from '../../tests/helpers/broker';
import { DEFAULT_REDIS_URL, deleteByPrefix, randomPrefix } from '../../tests/helpers/redis';
import { DEFAULT_TEST_CONFIG, type ServiceHandle } from '../../tests/helpers/service';
import { reapAll } from '../../tests/helpers/child-reaper';
import { TOPOLOGY_NAMES } from './base';

/** The service config and environment the benches run with, logging and resources. */
/** The service config the benches run with: the test defaults (entrances loans/support/social). */
export const BENCH_CONFIG = DEFAULT_TEST_CONFIG;

export function benchTopology(): Topology {
  const entrances = Object.fromEntries(
    Object.keys(BENCH_CONFIG.entrances as object).map((name) => [name, { name, displayName: name, maxParked: 1, maxParkSeconds: 1 }]),
  );
  return buildTopology({ topology: TOPOLOGY_NAMES, entrances });
}

/**
 * One bench run's broker vhost and Redis prefix, plus everything to undo at the end (LIFO), also on
 * Ctrl-C: services and relays are stopped, connections closed, the vhost and the prefix deleted.
 */
export class BenchEnv {
  readonly redisUrl = DEFAULT_REDIS_URL;
  readonly prefix = randomPrefix();
  vhost = '';
  private readonly cleanups: { what: string; fn: () => Promise<unknown> | unknown }[] = [];
  private cleaning: Promise<void> | null = null;
  private isChild = false;

  static async create(name: string): Promise<BenchEnv> {
    const env = new BenchEnv();
    env.vhost = await createVhost();
    env.defer('delete vhost', () => deleteVhost(env.vhost));
    env.defer('delete Redis keys', () => deleteByPrefix(env.redisUrl, env.prefix));
    const onSignal = (sig: NodeJS.Signals) => {
      process.stderr.write(`\n${name}: ${sig}, cleaning up…\n`);
      void env.cleanup().finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    log(`${name}: vhost ${env.vhost}, Redis prefix ${env.prefix}, ${os.cpus().length} CPUs, node ${process.version}`);
    return env;
  }

  /**
   * A fresh vhost and Redis prefix on the same broker and Redis (e.g. one per worker measured side by side).
   * Its `cleanup()` undoes what was deferred on it (workers stopped, vhost and keys deleted) and may run early;
   * otherwise this env runs it at its own cleanup.
   */
  async fork(): Promise<BenchEnv> {
    const child = new BenchEnv();
    child.isChild = true;
    child.vhost = await createVhost();
    child.defer('delete vhost', () => deleteVhost(child.vhost));
    child.defer('delete Redis keys', () => deleteByPrefix(child.redisUrl, child.prefix));
    this.defer(`clean up vhost ${child.vhost}`, () => child.cleanup());
    return child;
  }

  get amqpUrl(): string {
    return amqpUrl(this.vhost);
  }

  defer(what: string, fn: () => Promise<unknown> | unknown): void {
    this.cleanups.push({ what, fn });
  }

  /** A service handle to stop at the end (if still running), its log file removed unless KEEP_LOGS is set. */
  deferService(h: ServiceHandle): void {
    this.defer('stop service', async () => {
      await h.stop('SIGTERM', 30_000);
      if (!process.env.KEEP_LOGS) rmSync(h.logFile, { force: true });
    });
  }

  cleanup(): Promise<void> {
    this.cleaning ??= (async () => {
      for (const c of this.cleanups.reverse()) {
        try {
          await c.fn();
        } catch (err) {
          process.stderr.write(`cleanup (${c.what}) failed: ${(err as Error).message}\n`);
        }
      }
      if (!this.isChild) await reapAll();
    })();
    return this.cleaning;
  }
}

/**
 * Runs a bench's main with cleanup; a failure prints the error and exits 1. `main` returns whether the
 * bench's goals were met: with `--strict` a missed goal exits 3 (by default the exit code only says
 * whether the bench ran, since shared CI machines make timing goals flaky).
 */
export function runBench(name: string, main: (env: BenchEnv) => Promise<boolean>): void {
  let env: BenchEnv | undefined;
  (async () => {
    env = await BenchEnv.create(name);
    return main(env);
  })()
    .then(async (goalsMet) => {
      await env?.cleanup();
      const strict = process.argv.includes('--strict');
      if (strict && !goalsMet) process.stderr.write(`${name}: goals not met (--strict)\n`);
      process.exit(strict && !goalsMet ? 3 : 0);
    })
    .catch(async (err: Error) => {
      process.stderr.write(`${name} failed: ${err.stack ?? err.message}\n`);
      await env?.cleanup();
      process.exit(1);
    });
}

export function log(line: string): void {
  process.stdout.write(`${line}\n`);
}
