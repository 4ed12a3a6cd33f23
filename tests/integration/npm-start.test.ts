import { readdirSync, readFileSync } from 'node:fs';
import { createVhost, amqpUrl, deleteVhost } from '../helpers/broker';
import { registerExitCleanup, spawnTracked, waitForExit } from '../helpers/child-reaper';
import { httpRequest } from '../helpers/http';
import { freePort } from '../helpers/ports';
import { DEFAULT_REDIS_URL, deleteByPrefix, randomPrefix } from '../helpers/redis';
import { REPO_ROOT } from '../helpers/service';
import { waitUntil, withTimeout } from '../helpers/wait';

/**
 * `npm start` under a process manager: the SIGTERM goes to npm, npm hands it to the script's process, and that must
 * be node itself (`exec`), not a shell that dies and leaves node running with PPID 1. `--ignore-scripts` skips the
 * prestart build (dist/ is built before the integration tests; rebuilding here would race other test files); the
 * start script itself still runs, as npm documents.
 */

jest.setTimeout(120_000);

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every process below `root`, with its command line (from /proc). */
function descendants(root: number): { pid: number; cmd: string }[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parentOf.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: { pid: number; cmd: string }[] = [];
  const isBelow = (pid: number): boolean => {
    for (let p = parentOf.get(pid); p !== undefined && p > 1; p = parentOf.get(p)) if (p === root) return true;
    return false;
  };
  for (const pid of parentOf.keys()) {
    if (!isBelow(pid)) continue;
    try {
      out.push({ pid, cmd: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe('npm start', () => {
  let vhost: string;
  const prefix = randomPrefix();
  beforeAll(async () => {
    vhost = await createVhost();
  });
  afterAll(async () => {
    await deleteVhost(vhost);
    await deleteByPrefix(DEFAULT_REDIS_URL, prefix);
  });

  it('SIGTERM to the npm process stops the service (graceful drain), no node left behind', async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      AMQP_URL: amqpUrl(vhost),
      REDIS_URL: DEFAULT_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      HTTP_PORT: String(port),
    };
    const npm = spawnTracked('npm', ['start', '--ignore-scripts'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    npm.stdout?.on('data', (d: Buffer) => (output += d.toString('utf8')));
    npm.stderr?.on('data', (d: Buffer) => (output += d.toString('utf8')));
    let nodePid = 0;
    // An orphaned node (the bug) is not our child: kill it by pid whatever happens.
    const unregister = registerExitCleanup(() => nodePid && pidAlive(nodePid) && process.kill(nodePid, 'SIGKILL'));
    try {
      await waitUntil(
        async () => (await httpRequest(`http://127.0.0.1:${port}/readyz`, { timeoutMs: 1000 }).catch(() => null))?.status === 200,
        {
          timeoutMs: 90_000,
          intervalMs: 250,
          describe: () => `the service under npm start to be ready; output:\n${output.slice(-3000)}`,
        },
      );
      const service = descendants(npm.pid!).find((p) => p.cmd.includes('dist/main.js') && !p.cmd.startsWith('sh '));
      expect(service).toBeDefined();
      nodePid = service!.pid;

      npm.kill('SIGTERM');
      await withTimeout(waitForExit(npm), 20_000, 'npm to exit after SIGTERM');
      await waitUntil(() => !pidAlive(nodePid), { timeoutMs: 10_000, describe: `node pid ${nodePid} to exit with npm` });
      expect(output).toContain('shutdown complete');
    } finally {
      if (nodePid && pidAlive(nodePid)) process.kill(nodePid, 'SIGKILL');
      unregister();
    }
  });
});
