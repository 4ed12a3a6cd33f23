import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { amqpUrl, createVhost, deleteVhost } from '../helpers/broker';
import { registerExitCleanup, spawnTracked } from '../helpers/child-reaper';
import { httpRequest } from '../helpers/http';
import { freePort } from '../helpers/ports';
import { DEFAULT_REDIS_URL, deleteByPrefix, randomPrefix } from '../helpers/redis';
import { REPO_ROOT } from '../helpers/service';
import { sleep, waitUntil } from '../helpers/wait';
import { DashboardSession } from '../ui/support/dashboard-fixture';

/**
 * The README's quick-start, as a person pastes it: a fresh `git clone` of the committed HEAD (no node_modules, no
 * dist), the bash block after `<!-- quick-start -->` fed line by line into one bash session, no waiting between lines
 * but what the lines do themselves, background (`&`) lines left running, a failed line retried once after a few
 * seconds. The environment only isolates the run (its own vhost, Redis prefix and HTTP port; the block itself uses
 * the defaults). Then it checks what the README promises, and kills every background process by pid.
 */

jest.setTimeout(420_000);

const RETRY_AFTER_MS = 3_000;
const MARK = '@@quick-start';

/** The lines of the README's quick-start block. */
export function quickStartBlock(readme: string): string[] {
  const m = /<!-- quick-start -->\s*\n```bash\n([\s\S]*?)\n```/.exec(readme);
  if (!m) throw new Error('README.md has no ```bash block after <!-- quick-start -->');
  return m[1].split('\n');
}

/** The command part of a line (its trailing comment dropped); background when it ends in `&`. */
function commandOf(line: string): string {
  return line.replace(/(^|\s)#.*$/, '').trim();
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every process below `root` (from /proc), deepest last. */
function descendants(root: number): number[] {
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
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [pid, ppid] of parentOf) {
      if (ppid !== p) continue;
      out.push(pid);
      walk(pid);
    }
  };
  walk(root);
  return out;
}

describe("the README's quick-start, pasted into bash in a fresh clone", () => {
  let vhost: string;
  let dir: string;
  const prefix = randomPrefix();
  beforeAll(async () => {
    vhost = await createVhost();
    dir = mkdtempSync(path.join(os.tmpdir(), 'workitem-quick-start-'));
  });
  afterAll(async () => {
    await deleteVhost(vhost);
    await deleteByPrefix(DEFAULT_REDIS_URL, prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the receipts, events, report and dashboard it promises', async () => {
    const started = Date.now();
    const clone = path.join(dir, 'workitem-server');
    execFileSync('git', ['clone', '--quiet', REPO_ROOT, clone], { stdio: 'pipe' });
    const lines = quickStartBlock(readFileSync(path.join(clone, 'README.md'), 'utf8'));
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? os.tmpdir(),
      LANG: process.env.LANG ?? 'C.UTF-8',
      // Isolation only: the block uses the defaults; these point it at this test's own vhost, prefix and port.
      AMQP_URL: amqpUrl(vhost),
      REDIS_URL: DEFAULT_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      HTTP_PORT: String(port),
      // Speed only: take packages from npm's cache when it has them.
      npm_config_prefer_offline: 'true',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
    };
    const bash = spawnTracked('bash', ['--norc', '--noprofile'], { cwd: clone, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    bash.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
    bash.stderr!.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const background: number[] = [];
    const unregister = registerExitCleanup(() => {
      for (const pid of background.flatMap((p) => [...descendants(p), p])) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
    });
    const transcript: string[] = [];
    /** Runs one pasted line; resolves with its exit status (a background line: 0 and its pid). */
    const paste = async (line: string, n: number, timeoutMs: number): Promise<{ rc: number; output: string }> => {
      const from = out.length;
      const mark = `${MARK} ${n} `;
      bash.stdin!.write(`${line}\necho "${mark}rc=$? bg=$!"\n`);
      const re = new RegExp(`${mark}rc=(\\d+) bg=(\\d*)`);
      await waitUntil(() => re.test(out.slice(from)), {
        timeoutMs,
        intervalMs: 100,
        describe: () => `line "${line}" to finish:\n${out.slice(-3000)}`,
      });
      const [, rc, bg] = re.exec(out.slice(from))!;
      if (commandOf(line).endsWith('&')) background.push(Number(bg));
      return { rc: Number(rc), output: out.slice(from).replace(new RegExp(`^.*${MARK}.*$\\n?`, 'm'), '') };
    };

    const outputs = new Map<string, string>();
    try {
      for (const [i, line] of lines.entries()) {
        const t0 = Date.now();
        transcript.push(`$ ${line}`);
        let r = await paste(line, i, i === 0 ? 300_000 : 150_000);
        if (r.rc !== 0) {
          transcript.push(`  (exit ${r.rc} after ${Date.now() - t0} ms; retried after ${RETRY_AFTER_MS / 1000} s, as a person would)`);
          await sleep(RETRY_AFTER_MS);
          r = await paste(line, i + 1000, 150_000);
        }
        transcript.push(`  (exit ${r.rc}, ${Date.now() - t0} ms)`);
        expect({ line, rc: r.rc }).toEqual({ line, rc: 0 });
        outputs.set(line, r.output);
      }

      // What the README promises, line by line.
      const output = (cmd: RegExp): string => [...outputs].filter(([l]) => cmd.test(commandOf(l))).map(([, o]) => o)[0] ?? '';
      const sends = [...outputs].filter(([l]) => /workitem send examples\/loan-review\.xml --wait$/.test(commandOf(l)));
      expect(sends).toHaveLength(2);
      const first = /status:\s+(\w+)[\s\S]*?contactId:\s+(wi-[\w-]+)/.exec(sends[0][1]);
      const second = /status:\s+(\w+)[\s\S]*?contactId:\s+(wi-[\w-]+)/.exec(sends[1][1]);
      expect(first?.[1]).toBe('accepted');
      expect(second?.[1]).toBe('duplicate');
      const contactId = first![2];
      expect(second![2]).toBe(contactId);
      // the watch, in the background, prints the event
      await waitUntil(() => new RegExp(`contact\\.created\\.loans\\s+${contactId}`).test(out), {
        timeoutMs: 10_000,
        describe: () => `the watch to print contact.created.loans ${contactId}:\n${out.slice(-2000)}`,
      });
      expect(output(/workitem items$/)).toMatch(new RegExp(`${contactId}\\s+routed\\s+loans`));
      expect(output(/workitem entrance list$/)).toMatch(/^loans\s+.*\bclosed\b/m);
      // report: the loan-review row, read by the header's column names
      const report = output(/workitem report/).split('\n');
      const header =
        report
          .find((l) => /\bRECEIVED\b/.test(l))
          ?.trim()
          .split(/\s{2,}/) ?? [];
      const row =
        report
          .find((l) => /^loan-review\s/.test(l))
          ?.trim()
          .split(/\s{2,}|\s+(?=\d)/) ?? [];
      const col = (name: string): string | undefined => row[header.indexOf(name)];
      expect({ received: col('RECEIVED'), accepted: col('ACCEPTED'), duplicate: col('DUPLICATE') }).toEqual({
        received: '2',
        accepted: '1',
        duplicate: '1',
      });
      // the dashboard: signs in with the block's credentials and answers
      const creds = /DASHBOARD_USER=(\S+) DASHBOARD_PASSWORD=(\S+)/.exec(lines.join('\n'));
      expect(creds).not.toBeNull();
      expect(lines.join('\n')).toMatch(/http:\/\/localhost:8080\/ui\b/);
      const base = `http://localhost:${port}`;
      expect((await httpRequest(`${base}/ui`)).status).toBe(303);
      const session = await DashboardSession.login(base, creds![1], creds![2].replace(/^'|'$/g, ''));
      expect((await session.get('/ui')).status).toBe(200);
      expect((await session.get('/ui/api/overview')).status).toBe(200);
    } finally {
      // Every background process by pid (with what it started), then the shell.
      const pids = background.flatMap((p) => [p, ...descendants(p)]);
      for (const pid of pids) if (pidAlive(pid)) process.kill(pid, 'SIGTERM');
      await waitUntil(() => !pids.some(pidAlive), { timeoutMs: 15_000 }).catch(() => {
        for (const pid of pids) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
      });
      bash.stdin!.end();
      unregister();
      transcript.push(`(${Math.round((Date.now() - started) / 1000)} s in all)`);
      process.stdout.write(
        `quick-start transcript:\n${transcript.join('\n')}\n--- output ---\n${out.replace(new RegExp(`^.*${MARK}.*\\n`, 'gm'), '')}\n`,
      );
    }
    expect(background.filter(pidAlive)).toEqual([]);
  });
});
