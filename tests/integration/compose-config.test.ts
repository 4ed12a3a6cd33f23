import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { rabbitPasswordHash } from '../../src/adapters/rabbitmq/definitions';

/**
 * docker-compose.yml is valid for the Compose CLI and says what the contract needs. No Docker engine
 * is used: `config` only parses, validates and normalises the file.
 */
const ROOT = path.resolve(__dirname, '../..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
const RUN_TIMEOUT_MS = 30_000;

interface ComposeCli {
  command: string[];
  version: string;
  /** Compose v2 prints normalised config as JSON; v1 only as YAML. */
  json: boolean;
}

function tryVersion(command: string[]): string | null {
  const r = spawnSync(command[0], [...command.slice(1), 'version', '--short'], { encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
  return r.status === 0 ? r.stdout.trim().replace(/^v/, '') : null;
}

function findComposeCli(): ComposeCli {
  for (const command of [['docker', 'compose'], ['docker-compose']]) {
    const version = tryVersion(command);
    if (version) return { command, version, json: Number(version.split('.')[0]) >= 2 };
  }
  throw new Error(
    'No Docker Compose CLI found (neither `docker compose` nor `docker-compose`). Run scripts/ensure-compose.sh (as root) to install one.',
  );
}

function compose(cli: ComposeCli, args: string[]): string {
  const [bin, ...pre] = cli.command;
  const r = spawnSync(bin, [...pre, '-f', COMPOSE_FILE, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: RUN_TIMEOUT_MS,
    // Only the file decides: no COMPOSE_* or .env from the caller's shell.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' },
  });
  if (r.status !== 0) throw new Error(`${cli.command.join(' ')} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
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

// Parsed `compose config` output: untyped JSON whose shape the assertions below check.
type Json = Record<string, any>;

function composeConfigJson(cli: ComposeCli): Json {
  if (cli.json) return JSON.parse(compose(cli, ['config', '--format', 'json']));
  const yaml = compose(cli, ['config']);
  const out = execFileSync(composeV1Python(), ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {
    input: yaml,
    encoding: 'utf8',
    timeout: RUN_TIMEOUT_MS,
  });
  return JSON.parse(out);
}

interface Mount {
  type: string;
  source: string;
  target: string;
  read_only?: boolean;
}

function mounts(service: Json): Mount[] {
  return (service.volumes ?? []).map((v: Mount | string) => {
    if (typeof v !== 'string') return v;
    const [source, target, mode] = v.split(':');
    return { type: source.startsWith('/') || source.startsWith('.') ? 'bind' : 'volume', source, target, read_only: mode === 'ro' };
  });
}

function commandArgs(service: Json): string[] {
  const c = service.command;
  return Array.isArray(c) ? c.map(String) : String(c).split(/\s+/);
}

describe('docker-compose.yml', () => {
  let cli: ComposeCli;
  let config: Json;

  beforeAll(() => {
    cli = findComposeCli();
    config = composeConfigJson(cli);
  });

  it('passes `config -q`', () => {
    expect(() => compose(cli, ['config', '-q'])).not.toThrow();
  });

  it('has the three services', () => {
    expect(Object.keys(config.services).sort()).toEqual(['rabbitmq', 'redis', 'workitem']);
  });

  it('runs Redis with AOF (fsync every second) and without eviction', () => {
    const args = commandArgs(config.services.redis).join(' ');
    expect(args).toMatch(/--appendonly yes\b/);
    expect(args).toMatch(/--appendfsync everysec\b/);
    expect(args).toMatch(/--maxmemory-policy noeviction\b/);
    expect(config.services.redis.image).toBe('redis:7-alpine');
  });

  it('keeps broker and Redis data in named volumes', () => {
    expect(Object.keys(config.volumes ?? {}).sort()).toEqual(['rabbitmq-data', 'redis-data']);
    expect(mounts(config.services.rabbitmq)).toContainEqual(
      expect.objectContaining({ type: 'volume', source: 'rabbitmq-data', target: '/var/lib/rabbitmq' }),
    );
    expect(mounts(config.services.redis)).toContainEqual(expect.objectContaining({ type: 'volume', source: 'redis-data', target: '/data' }));
  });

  it('starts the service only when RabbitMQ and Redis are healthy', () => {
    const deps = config.services.workitem.depends_on;
    expect(deps.rabbitmq.condition).toBe('service_healthy');
    expect(deps.redis.condition).toBe('service_healthy');
    expect(config.services.rabbitmq.healthcheck.test).toEqual(['CMD', 'rabbitmq-diagnostics', '-q', 'ping']);
    expect(config.services.redis.healthcheck.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(config.services.workitem.healthcheck.test.join(' ')).toContain('/readyz');
    expect(config.services.workitem.restart).toBe('unless-stopped');
  });

  it('publishes the AMQP, management UI and service ports', () => {
    const published = (name: string) => (config.services[name].ports ?? []).map((p: Json | string) => String(typeof p === 'string' ? p : p.published));
    expect(published('rabbitmq')).toEqual(expect.arrayContaining(['5672', '15672']));
    expect(published('workitem')).toEqual(['8080']);
  });

  it('mounts the rabbitmq/ files read-only where rabbitmq.conf expects them', () => {
    const conf = readFileSync(path.join(ROOT, 'rabbitmq/rabbitmq.conf'), 'utf8');
    const defsDir = /^definitions\.local\.path\s*=\s*(\S+)\s*$/m.exec(conf)?.[1];
    expect(defsDir).toBeDefined();
    const binds = mounts(config.services.rabbitmq).filter((m) => m.type === 'bind');
    for (const m of binds) {
      expect(m.read_only).toBe(true);
      expect(existsSync(m.source)).toBe(true);
    }
    const bySource = (file: string) => binds.find((m) => m.source === path.join(ROOT, 'rabbitmq', file))?.target;
    expect(bySource('enabled_plugins')).toBe('/etc/rabbitmq/enabled_plugins');
    expect(bySource('rabbitmq.conf')).toBe('/etc/rabbitmq/rabbitmq.conf');
    expect(path.dirname(bySource('definitions.json') ?? '')).toBe(defsDir);
    expect(path.dirname(bySource('dev-users.json') ?? '')).toBe(defsDir);
  });

  it("gives the service credentials of a user the broker's definitions create", () => {
    const env = config.services.workitem.environment;
    expect(env).toMatchObject({ REDIS_URL: 'redis://redis:6379', HTTP_PORT: '8080', REQUIRE_DURABLE_REDIS: 'true' });
    const url = new URL(env.AMQP_URL);
    expect(url.hostname).toBe('rabbitmq');
    const vhost = decodeURIComponent(url.pathname.slice(1)) || '/';
    const users = JSON.parse(readFileSync(path.join(ROOT, 'rabbitmq/dev-users.json'), 'utf8'));
    const user = users.users.find((u: Json) => u.name === decodeURIComponent(url.username));
    expect(user).toBeDefined();
    const salt = Buffer.from(user.password_hash, 'base64').subarray(0, 4);
    expect(rabbitPasswordHash(decodeURIComponent(url.password), salt)).toBe(user.password_hash);
    expect(users.permissions).toContainEqual(expect.objectContaining({ user: user.name, vhost }));
  });
});
