import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
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

  it('has the service, RabbitMQ, Redis, Prometheus and Grafana', () => {
    expect(Object.keys(config.services).sort()).toEqual(['grafana', 'jaeger', 'prometheus', 'rabbitmq', 'redis', 'workitem']);
  });

  it('runs Redis with AOF (fsync every second) and without eviction', () => {
    const args = commandArgs(config.services.redis).join(' ');
    expect(args).toMatch(/--appendonly yes\b/);
    expect(args).toMatch(/--appendfsync everysec\b/);
    expect(args).toMatch(/--maxmemory-policy noeviction\b/);
    expect(config.services.redis.image).toBe('redis:7-alpine');
  });

  it('keeps broker and Redis data in named volumes', () => {
    expect(Object.keys(config.volumes ?? {}).sort()).toEqual(['grafana-data', 'prometheus-data', 'rabbitmq-data', 'redis-data']);
    expect(mounts(config.services.rabbitmq)).toContainEqual(
      expect.objectContaining({ type: 'volume', source: 'rabbitmq-data', target: '/var/lib/rabbitmq' }),
    );
    expect(mounts(config.services.redis)).toContainEqual(
      expect.objectContaining({ type: 'volume', source: 'redis-data', target: '/data' }),
    );
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
    const published = (name: string) =>
      (config.services[name].ports ?? []).map((p: Json | string) => String(typeof p === 'string' ? p : p.published));
    expect(published('rabbitmq')).toEqual(expect.arrayContaining(['5672', '15672']));
    expect(published('workitem')).toEqual(['8080']);
    expect(published('prometheus')).toEqual(['9090']);
    expect(published('grafana')).toEqual(['3000']);
    expect(published('jaeger')).toEqual(['16686']);
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

  it("sends the service's traces to the Jaeger it starts", () => {
    const env = config.services.workitem.environment;
    expect(env).toMatchObject({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' });
    expect(config.services.jaeger.environment).toMatchObject({ COLLECTOR_OTLP_ENABLED: 'true' });
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

/** Prometheus and Grafana of docker-compose.yml: what they mount is there and points at the right services. */
describe('docker-compose.yml monitoring (Prometheus, Grafana)', () => {
  let config: Json;
  const bindTarget = (service: string, repoPath: string) =>
    mounts(config.services[service]).find((m) => m.type === 'bind' && m.source === path.join(REPO_ROOT, repoPath));
  const readYaml = (repoPath: string): Json => YAML.parse(readFileSync(path.join(REPO_ROOT, repoPath), 'utf8'));

  beforeAll(() => {
    config = composeConfigJson(findComposeCli(), COMPOSE_FILE);
  });

  it('mounts every monitoring file read-only from deploy/ and keeps the data in named volumes', () => {
    for (const name of ['prometheus', 'grafana']) {
      for (const m of mounts(config.services[name]).filter((x) => x.type === 'bind')) {
        expect(m.read_only).toBe(true);
        expect(m.source.startsWith(path.join(REPO_ROOT, 'deploy') + path.sep)).toBe(true);
        expect(existsSync(m.source)).toBe(true);
      }
    }
    expect(mounts(config.services.prometheus)).toContainEqual(
      expect.objectContaining({ type: 'volume', source: 'prometheus-data', target: '/prometheus' }),
    );
    expect(mounts(config.services.grafana)).toContainEqual(
      expect.objectContaining({ type: 'volume', source: 'grafana-data', target: '/var/lib/grafana' }),
    );
    expect(config.services.prometheus.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(config.services.grafana.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
  });

  it('Prometheus reads deploy/prometheus/prometheus.yml and scrapes the service and RabbitMQ (15692)', () => {
    const args: string[] = config.services.prometheus.command.map(String);
    const configFile = args.find((a) => a.startsWith('--config.file='))?.split('=')[1];
    expect(bindTarget('prometheus', 'deploy/prometheus/prometheus.yml')?.target).toBe(configFile);

    const prom = readYaml('deploy/prometheus/prometheus.yml');
    const jobs: Json[] = prom.scrape_configs;
    const targetsOf = (j: Json): string[] => j.static_configs.flatMap((c: Json) => c.targets);
    // Every target is a service of this file, on a port that service listens on.
    for (const t of jobs.flatMap(targetsOf)) expect(Object.keys(config.services)).toContain(t.split(':')[0]);

    const workitem = jobs.find((j) => targetsOf(j).some((t) => t.startsWith('workitem:')));
    expect(workitem?.metrics_path ?? '/metrics').toBe('/metrics');
    expect(targetsOf(workitem!)).toEqual([`workitem:${config.services.workitem.environment.HTTP_PORT}`]);

    const rabbit = jobs.filter((j) => targetsOf(j).includes('rabbitmq:15692'));
    expect(rabbit.map((j) => j.metrics_path ?? '/metrics')).toEqual(expect.arrayContaining(['/metrics', '/metrics/detailed']));
    const plugins = readFileSync(path.join(REPO_ROOT, 'rabbitmq/enabled_plugins'), 'utf8');
    expect(plugins).toMatch(/\brabbitmq_prometheus\b/);
    // Job names are unique (the dashboards' $job variables tell them apart).
    expect(new Set(jobs.map((j) => j.job_name)).size).toBe(jobs.length);
  });

  it('Grafana gets the Prometheus datasource and the dashboards folder provisioned', () => {
    const provisioning = bindTarget('grafana', 'deploy/grafana/provisioning')?.target;
    expect(provisioning).toBe('/etc/grafana/provisioning');
    const datasources: Json[] = readYaml('deploy/grafana/provisioning/datasources/prometheus.yml').datasources;
    expect(datasources).toHaveLength(1);
    const ds = datasources[0];
    expect(ds).toMatchObject({ type: 'prometheus', access: 'proxy', isDefault: true });
    const dsUrl = new URL(ds.url);
    expect(dsUrl.hostname).toBe('prometheus');
    expect(
      config.services.prometheus.ports.map((p: Json | string) => String(typeof p === 'string' ? p.split(':').pop() : p.target)),
    ).toContain(dsUrl.port);

    const providers: Json[] = readYaml('deploy/grafana/provisioning/dashboards/dashboards.yml').providers;
    expect(providers).toHaveLength(1);
    expect(providers[0].type).toBe('file');
    const dashboardsDir = bindTarget('grafana', 'deploy/grafana/dashboards')?.target;
    expect(providers[0].options.path).toBe(dashboardsDir);
    const home = config.services.grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    expect(path.posix.dirname(home)).toBe(dashboardsDir);
    expect(existsSync(path.join(REPO_ROOT, 'deploy/grafana/dashboards', path.posix.basename(home)))).toBe(true);

    // Every dashboard and panel queries the provisioned datasource by its uid; uids and panel ids are unique.
    const files = readdirSync(path.join(REPO_ROOT, 'deploy/grafana/dashboards')).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual(['rabbitmq.json', 'workitem.json']);
    const uids = new Set<string>();
    for (const f of files) {
      const dash = JSON.parse(readFileSync(path.join(REPO_ROOT, 'deploy/grafana/dashboards', f), 'utf8'));
      expect(uids.has(dash.uid)).toBe(false);
      uids.add(dash.uid);
      const panels: Json[] = dash.panels.flatMap((p: Json) => [p, ...(p.panels ?? [])]);
      expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
      const refs = [...panels.filter((p) => p.type !== 'row'), ...dash.templating.list].flatMap((p: Json) => [
        p.datasource,
        ...(p.targets ?? []).map((t: Json) => t.datasource),
      ]);
      for (const ref of refs) expect(ref).toEqual({ type: 'prometheus', uid: ds.uid });
    }
  });

  // promtool comes with Debian's `prometheus` package; without it this check is skipped.
  const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
  (promtool ? it : it.skip)('promtool accepts deploy/prometheus/prometheus.yml', () => {
    const r = spawnSync('promtool', ['check', 'config', '--syntax-only', path.join(REPO_ROOT, 'deploy/prometheus/prometheus.yml')], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(`${r.stdout}${r.stderr}`).toMatch(/SUCCESS/);
    expect(r.status).toBe(0);
  });
});
