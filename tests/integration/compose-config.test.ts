import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { rabbitPasswordHash } from '../../src/adapters/rabbitmq/definitions';
import { compose, composeConfigJson, findComposeCli, mounts, REPO_ROOT, type ComposeCli, type Json } from '../helpers/compose-cli';

/**
 * docker-compose.yml is valid for the Compose CLI and says what the contract needs. No Docker engine
 * is used: `config` only parses, validates and normalises the file.
 */
const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.yml');
function commandArgs(service: Json): string[] {
  const c = service.command;
  return Array.isArray(c) ? c.map(String) : String(c).split(/\s+/);
}

describe('docker-compose.yml', () => {
  let cli: ComposeCli;
  let config: Json;

  beforeAll(() => {
    cli = findComposeCli();
    config = composeConfigJson(cli, COMPOSE_FILE);
  });

  it('passes `config -q`', () => {
    expect(() => compose(cli, COMPOSE_FILE, ['config', '-q'])).not.toThrow();
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
    const conf = readFileSync(path.join(REPO_ROOT, 'rabbitmq/rabbitmq.conf'), 'utf8');
    const defsDir = /^definitions\.local\.path\s*=\s*(\S+)\s*$/m.exec(conf)?.[1];
    expect(defsDir).toBeDefined();
    const binds = mounts(config.services.rabbitmq).filter((m) => m.type === 'bind');
    for (const m of binds) {
      expect(m.read_only).toBe(true);
      expect(existsSync(m.source)).toBe(true);
    }
    const bySource = (file: string) => binds.find((m) => m.source === path.join(REPO_ROOT, 'rabbitmq', file))?.target;
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
    const users = JSON.parse(readFileSync(path.join(REPO_ROOT, 'rabbitmq/dev-users.json'), 'utf8'));
    const user = users.users.find((u: Json) => u.name === decodeURIComponent(url.username));
    expect(user).toBeDefined();
    const salt = Buffer.from(user.password_hash, 'base64').subarray(0, 4);
    expect(rabbitPasswordHash(decodeURIComponent(url.password), salt)).toBe(user.password_hash);
    expect(users.permissions).toContainEqual(expect.objectContaining({ user: user.name, vhost }));
  });
});
