import { readFileSync } from 'node:fs';
import path from 'node:path';
import { rabbitPasswordHash } from '../../src/adapters/rabbitmq/definitions';
import { loadConfig } from '../../src/config/config';
import {
  compose,
  composeConfigJson,
  findComposeCli,
  mounts,
  REPO_ROOT,
  unescapeDollars,
  type ComposeCli,
  type Json,
} from '../helpers/compose-cli';

/**
 * docker-compose.cluster.yml (issue 9, docs/scale-out.md) is valid for the Compose CLI and wires what the
 * scale-out needs: 3 clustered RabbitMQ nodes, Redis master + replica + 3 Sentinels, 2 service instances.
 * No Docker engine is used: `config` only parses, validates and normalises the file.
 */
const CLUSTER_FILE = path.join(REPO_ROOT, 'docker-compose.cluster.yml');
const SINGLE_FILE = path.join(REPO_ROOT, 'docker-compose.yml');

const RABBITS = ['rabbitmq1', 'rabbitmq2', 'rabbitmq3'];
const SENTINELS = ['redis-sentinel1', 'redis-sentinel2', 'redis-sentinel3'];
const SERVICES = ['workitem1', 'workitem2'];

function script(service: Json, key: 'entrypoint' | 'command'): string {
  const v = service[key];
  return unescapeDollars(Array.isArray(v) ? v.join(' ') : String(v));
}

describe('docker-compose.cluster.yml', () => {
  let cli: ComposeCli;
  let config: Json;
  let single: Json;

  beforeAll(() => {
    cli = findComposeCli();
    config = composeConfigJson(cli, CLUSTER_FILE);
    single = composeConfigJson(cli, SINGLE_FILE);
  });

  it('passes `config -q`', () => {
    expect(() => compose(cli, CLUSTER_FILE, ['config', '-q'])).not.toThrow();
  });

  it('has 3 RabbitMQ nodes, Redis master + replica + 3 sentinels, 2 service instances', () => {
    expect(Object.keys(config.services).sort()).toEqual([...RABBITS, 'redis-master', 'redis-replica', ...SENTINELS, ...SERVICES].sort());
  });

  it('clusters the RabbitMQ 4.x nodes: one cookie, classic_config peer discovery listing every node', () => {
    const cookies = new Set<string>();
    for (const name of RABBITS) {
      const s = config.services[name];
      expect(s.image).toMatch(/^rabbitmq:4\.\d+/);
      expect(s.hostname).toBe(name);
      cookies.add(String(s.environment.RABBITMQ_CLUSTER_COOKIE));
      // The node list names exactly the three nodes, by the hostnames they run under.
      expect(String(s.environment.RABBITMQ_CLUSTER_NODES).split(/\s+/).sort()).toEqual(RABBITS.map((h) => `rabbit@${h}`).sort());
      const entry = script(s, 'entrypoint');
      expect(entry).toContain('cluster_formation.peer_discovery_backend = classic_config');
      expect(entry).toMatch(/cluster_formation\.classic_config\.nodes\.\$i = \$node/);
      expect(entry).toMatch(/\.erlang\.cookie/);
      expect(entry).toMatch(/chmod 400/);
      // Queues imported on the first node grow to every node as the others join.
      expect(entry).toContain('quorum_queue.continuous_membership_reconciliation.enabled = true');
      expect(entry).toContain('quorum_queue.continuous_membership_reconciliation.target_group_size = 3');
      expect(entry).toMatch(/exec docker-entrypoint\.sh rabbitmq-server\s*$/);
      expect(s.healthcheck.test).toEqual(['CMD', 'rabbitmq-diagnostics', '-q', 'ping']);
      expect(s.restart).toBe('unless-stopped');
    }
    expect(cookies.size).toBe(1);
    // The others join the first one once it is up, instead of racing to form clusters of their own.
    for (const name of RABBITS.slice(1)) expect(config.services[name].depends_on.rabbitmq1.condition).toBe('service_healthy');
  });

  it("mounts the project's rabbitmq/ files on every node exactly as docker-compose.yml does, plus a data volume per node", () => {
    const binds = (s: Json) =>
      mounts(s)
        .filter((m) => m.type === 'bind')
        .map((m) => `${m.source} -> ${m.target} ${m.read_only ? 'ro' : 'rw'}`)
        .sort();
    const expected = binds(single.services.rabbitmq);
    expect(expected.length).toBeGreaterThanOrEqual(4);
    const dataVolumes = new Set<string>();
    for (const name of RABBITS) {
      expect(binds(config.services[name])).toEqual(expected);
      const data = mounts(config.services[name]).find((m) => m.type === 'volume' && m.target === '/var/lib/rabbitmq');
      expect(data).toBeDefined();
      dataVolumes.add(data!.source);
    }
    expect(dataVolumes.size).toBe(3);
  });

  it('runs Redis with AOF and without eviction, the replica following the master, 3 sentinels with quorum 2', () => {
    for (const name of ['redis-master', 'redis-replica']) {
      const cmd = script(config.services[name], 'command');
      expect(cmd).toContain('appendonly yes');
      expect(cmd).toContain('maxmemory-policy noeviction');
      expect(config.services[name].image).toBe('redis:7-alpine');
      expect(mounts(config.services[name])).toContainEqual(expect.objectContaining({ type: 'volume', target: '/data' }));
    }
    expect(config.services['redis-replica'].environment.REDIS_REPLICA_OF).toBe('redis-master');
    expect(config.services['redis-master'].environment.REDIS_REPLICA_OF).toBeUndefined();
    const masterNames = new Set<string>();
    const announced = new Set<string>();
    for (const name of SENTINELS) {
      const s = config.services[name];
      const cmd = script(s, 'command');
      expect(cmd).toMatch(/sentinel monitor \$REDIS_MASTER_NAME redis-master 6379 2/);
      expect(cmd).toMatch(/sentinel down-after-milliseconds \$REDIS_MASTER_NAME 2000/);
      expect(cmd).toMatch(/sentinel failover-timeout \$REDIS_MASTER_NAME 10000/);
      expect(cmd).toContain('--sentinel');
      masterNames.add(s.environment.REDIS_MASTER_NAME);
      announced.add(s.environment.SENTINEL_ANNOUNCE_HOST);
      expect(s.environment.SENTINEL_ANNOUNCE_HOST).toBe(name);
    }
    expect(masterNames.size).toBe(1);
    expect(announced.size).toBe(3);
  });

  it('points both service instances at every broker node, the sentinels, and WAIT for 1 replica', () => {
    const sentinelMasterName = config.services[SENTINELS[0]].environment.REDIS_MASTER_NAME;
    const users = JSON.parse(readFileSync(path.join(REPO_ROOT, 'rabbitmq/dev-users.json'), 'utf8'));
    const ports = new Set<string>();
    for (const name of SERVICES) {
      const s = config.services[name];
      const env = s.environment as Record<string, string>;
      const urls = env.AMQP_URL.split(',').map((u) => new URL(u.trim()));
      expect(urls.map((u) => u.hostname).sort()).toEqual(RABBITS);
      for (const url of urls) {
        expect(url.port).toBe('5672');
        const user = users.users.find((u: Json) => u.name === decodeURIComponent(url.username));
        expect(user).toBeDefined();
        const salt = Buffer.from(user.password_hash, 'base64').subarray(0, 4);
        expect(rabbitPasswordHash(decodeURIComponent(url.password), salt)).toBe(user.password_hash);
      }
      expect(env.REDIS_SENTINELS.split(',').sort()).toEqual(SENTINELS.map((h) => `${h}:26379`));
      expect(env.REDIS_MASTER_NAME).toBe(sentinelMasterName);
      expect(env).toMatchObject({ REDIS_WAIT_REPLICAS: '1', REQUIRE_DURABLE_REDIS: 'true', HTTP_PORT: '8080' });

      // The service itself accepts this environment.
      const cfg = loadConfig({ ...env, WORKITEM_CONFIG: undefined });
      expect(cfg.amqpUrls).toHaveLength(3);
      expect(cfg.redisSentinels).toEqual(SENTINELS.map((host) => ({ host, port: 26379 })));
      expect(cfg.redisWaitReplicas).toBe(1);

      for (const dep of [...RABBITS, 'redis-master', 'redis-replica', ...SENTINELS]) {
        expect(s.depends_on[dep].condition).toBe('service_healthy');
      }
      expect(s.healthcheck.test.join(' ')).toContain('/readyz');
      expect(s.restart).toBe('unless-stopped');
      for (const p of s.ports ?? []) ports.add(String(typeof p === 'string' ? p.split(':')[0] : p.published));
    }
    expect(ports.size).toBe(2);
  });

  it('publishes distinct host ports', () => {
    const published: string[] = [];
    for (const s of Object.values(config.services) as Json[]) {
      for (const p of s.ports ?? []) published.push(String(typeof p === 'string' ? p.split(':')[0] : p.published));
    }
    expect(new Set(published).size).toBe(published.length);
    expect(published).toEqual(expect.arrayContaining(['5672', '5673', '5674', '15672', '8080', '8081']));
  });
});
