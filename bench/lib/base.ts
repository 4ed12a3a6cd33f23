import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_TOPOLOGY } from '../../tests/helpers/amqp-client';

/** Where the benches run from and the smallest shared pieces (bench/lib/common.ts re-exports every part). */

/** The repository root (the folder whose package.json is this project's), wherever the bench was compiled to. */
export const REPO_ROOT = ((): string => {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && /"name":\s*"workitem-server"/.test(readFileSync(pkg, 'utf8'))) return dir;
    if (path.dirname(dir) === dir) throw new Error('cannot find the repository root above ' + __dirname);
  }
})();
export const SERVICE_MAIN = path.join(REPO_ROOT, 'dist/main.js');
export const TOPOLOGY_NAMES = DEFAULT_TOPOLOGY;
export const SOURCE = 'bank-support';
export const ROUTING_KEY = `workitem.${SOURCE}`;

export function now(): number {
  return performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
