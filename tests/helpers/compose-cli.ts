import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Finding and running the Docker Compose CLI to validate a compose file without a Docker engine
 * (`config` only parses, validates and normalises): Compose v2 (`docker compose`) first, else v1
 * (`docker-compose`, installed by scripts/ensure-compose.sh), whose YAML output is turned into JSON with its
 * own Python's PyYAML. Used by the tests of docker-compose.yml and docker-compose.cluster.yml.
 */

export const REPO_ROOT = path.resolve(__dirname, '../..');
const RUN_TIMEOUT_MS = 30_000;

export interface ComposeCli {
  command: string[];
  version: string;
  /** Compose v2 prints normalised config as JSON; v1 only as YAML. */
  json: boolean;
}

// Parsed `compose config` output: untyped JSON whose shape the tests check.
export type Json = Record<string, any>;

function tryVersion(command: string[]): string | null {
  const r = spawnSync(command[0], [...command.slice(1), 'version', '--short'], { encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
  return r.status === 0 ? r.stdout.trim().replace(/^v/, '') : null;
}

export function findComposeCli(): ComposeCli {
  for (const command of [['docker', 'compose'], ['docker-compose']]) {
    const version = tryVersion(command);
    if (version) return { command, version, json: Number(version.split('.')[0]) >= 2 };
  }
  throw new Error(
    'No Docker Compose CLI found (neither `docker compose` nor `docker-compose`). Run scripts/ensure-compose.sh (as root) to install one.',
  );
}

export function compose(cli: ComposeCli, file: string, args: string[]): string {
  const [bin, ...pre] = cli.command;
  const r = spawnSync(bin, [...pre, '-f', file, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: RUN_TIMEOUT_MS,
    // Only the file decides: no COMPOSE_* or .env from the caller's shell.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' },
  });
  if (r.status !== 0) throw new Error(`${cli.command.join(' ')} -f ${file} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The Python interpreter docker-compose v1 runs on; it always has PyYAML (a dependency of compose v1). */
function composeV1Python(): string {
  const which = execFileSync('sh', ['-c', 'command -v docker-compose'], { encoding: 'utf8' }).trim();
  const shebang = readFileSync(which, 'utf8').split('\n', 1)[0];
  const m = /^#!\s*(\S*python\S*)/.exec(shebang);
  if (!m) throw new Error(`cannot tell the Python interpreter of ${which} (first line: ${shebang})`);
  return m[1];
}

/** `compose config` of `file`, as JSON. */
export function composeConfigJson(cli: ComposeCli, file: string): Json {
  if (cli.json) return JSON.parse(compose(cli, file, ['config', '--format', 'json']));
  const yaml = compose(cli, file, ['config']);
  const out = execFileSync(composeV1Python(), ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {
    input: yaml,
    encoding: 'utf8',
    timeout: RUN_TIMEOUT_MS,
  });
  return JSON.parse(out);
}

export interface Mount {
  type: string;
  source: string;
  target: string;
  read_only?: boolean;
}

export function mounts(service: Json): Mount[] {
  return (service.volumes ?? []).map((v: Mount | string) => {
    if (typeof v !== 'string') return v;
    const [source, target, mode] = v.split(':');
    return { type: source.startsWith('/') || source.startsWith('.') ? 'bind' : 'volume', source, target, read_only: mode === 'ro' };
  });
}

/** Compose v1 keeps `$$` (a literal `$`) in its normalised output; v2 prints `$`. */
export function unescapeDollars(s: string): string {
  return s.replace(/\$\$/g, '$');
}
