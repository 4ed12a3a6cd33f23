import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';

/**
 * The docs a newcomer reads must not send them anywhere that does not exist: every relative link (and its #anchor)
 * resolves, every `npm run <script>` is a script of package.json, and every `workitem <command>` is a command of the
 * CLI (as registered by src/cli/commands/*).
 */
const ROOT = path.resolve(__dirname, '../..');

function docFiles(): string[] {
  const tracked = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  return [...new Set(['README.md', ...tracked.filter((f) => /^(docs\/[^/]+|examples\/README)\.md$/.test(f))])].filter((f) =>
    existsSync(path.join(ROOT, f)),
  );
}

const read = (f: string): string => readFileSync(path.join(ROOT, f), 'utf8');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\- _]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** The CLI's command tree: "send", "entrance open", … from every register* function of src/cli/commands. */
function cliCommands(): Set<string> {
  const program = new Command('workitem');
  const dir = path.join(ROOT, 'src/cli/commands');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(dir, file)) as Record<string, unknown>;
    for (const [name, fn] of Object.entries(mod))
      if (/^register/.test(name) && typeof fn === 'function') (fn as (p: Command) => void)(program);
  }
  const names = new Set<string>();
  for (const c of program.commands) {
    names.add(c.name());
    for (const sub of c.commands) names.add(`${c.name()} ${sub.name()}`);
  }
  return names;
}

describe('the docs', () => {
  const docs = docFiles();

  it('are the README, docs/*.md and examples/README.md', () => {
    expect(docs).toEqual(expect.arrayContaining(['README.md', 'docs/contract.md', 'docs/operators.md', 'examples/README.md']));
  });

  it('link only to files (and headings) that exist', () => {
    const broken: string[] = [];
    for (const doc of docs) {
      for (const m of read(doc).matchAll(/\]\(([^)\s]+)\)/g)) {
        const [target, anchor] = m[1].split('#', 2);
        if (/^[a-z]+:/i.test(target)) continue;
        const file = target === '' ? path.join(ROOT, doc) : path.resolve(ROOT, path.dirname(doc), target);
        if (!existsSync(file)) {
          broken.push(`${doc} → ${m[1]}`);
          continue;
        }
        if (anchor && file.endsWith('.md') && !anchorsOf(readFileSync(file, 'utf8')).has(anchor))
          broken.push(`${doc} → ${m[1]} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('name only npm scripts that package.json has', () => {
    const scripts = Object.keys((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts);
    const unknown: string[] = [];
    for (const doc of docs) {
      for (const m of read(doc).matchAll(/\bnpm run(?:\s+(?:-s|--silent))?\s+([a-z][\w:.-]*)/g)) {
        const name = m[1].replace(/[.:]+$/, '');
        if (!scripts.includes(name)) unknown.push(`${doc}: npm run ${name}`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it('name only CLI commands that exist', () => {
    const commands = cliCommands();
    expect([...commands]).toEqual(expect.arrayContaining(['send', 'watch', 'wait-ready', 'entrance close', 'errors replay']));
    const unknown: string[] = [];
    let named = 0;
    // ./workitem send, npx workitem items, npm run -s workitem -- report, `workitem end …`, $ workitem history
    const forms = /(?:\.\/workitem|npx workitem|npm run(?:\s+-s)? workitem --|[`$] ?workitem)\s+([a-z][\w-]*)(?:\s+([a-z][\w-]*))?/g;
    for (const doc of docs) {
      for (const m of read(doc).matchAll(forms)) {
        named++;
        const [, cmd, sub] = m;
        if (!commands.has(cmd)) unknown.push(`${doc}: workitem ${cmd}`);
        else if (sub && [...commands].some((c) => c.startsWith(`${cmd} `)) && !commands.has(`${cmd} ${sub}`)) {
          unknown.push(`${doc}: workitem ${cmd} ${sub}`);
        }
      }
    }
    expect(unknown).toEqual([]);
    expect(named).toBeGreaterThan(20);
  });
});
