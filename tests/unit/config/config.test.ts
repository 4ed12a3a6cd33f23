import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, SAMPLE_CONFIG_FILE } from '../../../src/config/config';

function withFile(content: unknown): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wi-cfg-'));
  const file = path.join(dir, 'c.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('config', () => {
  it('works with no settings at all, from the shipped sample config', () => {
    const cfg = loadConfig({});
    expect(cfg.configFile).toBe(SAMPLE_CONFIG_FILE);
    expect(Object.keys(cfg.entrances)).toEqual(['loans', 'support', 'social']);
    expect(cfg).toMatchObject({
      amqpUrls: ['amqp://guest:guest@127.0.0.1:5672'],
      redisUrl: 'redis://127.0.0.1:6379',
      httpPort: 8080,
      taskKey: 'WorkItemTask',
      requireDurableRedis: false,
    });
    expect(cfg.entrances.loans).toMatchObject({ maxParked: 10_000, maxParkSeconds: 72 * 3600 });
    expect(cfg.topology.inboundQueue).toBe('workitem.inbound');
    expect(cfg.httpLimits).toEqual({ maxConnections: 1024, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000 });
  });

  it('reads the HTTP connection limits', () => {
    const cfg = loadConfig({
      HTTP_MAX_CONNECTIONS: '200',
      HTTP_HEADERS_TIMEOUT_MS: '3000',
      HTTP_REQUEST_TIMEOUT_MS: '60000',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '2000',
    });
    expect(cfg.httpLimits).toEqual({ maxConnections: 200, headersTimeoutMs: 3000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 2000 });
  });

  it('reads a comma-separated list of broker nodes and Sentinel settings', () => {
    const cfg = loadConfig({ AMQP_URL: 'amqp://a:5672, amqp://b:5672', REDIS_SENTINELS: 's1:26379,s2:26380', REDIS_MASTER_NAME: 'wi' });
    expect(cfg.amqpUrls).toEqual(['amqp://a:5672', 'amqp://b:5672']);
    expect(cfg.redisSentinels).toEqual([
      { host: 's1', port: 26379 },
      { host: 's2', port: 26380 },
    ]);
    expect(cfg.redisMasterName).toBe('wi');
  });

  it('REDIS_STALL_MS and AMQP_HEARTBEAT_SECONDS: defaults, bounds, and a WAIT bound below the stall bound', () => {
    expect(loadConfig({})).toMatchObject({ redisStallMs: 5000, amqpHeartbeatSeconds: 10 });
    expect(loadConfig({ REDIS_STALL_MS: '2000', AMQP_HEARTBEAT_SECONDS: '3' })).toMatchObject({
      redisStallMs: 2000,
      amqpHeartbeatSeconds: 3,
    });
    expect(() => loadConfig({ REDIS_STALL_MS: '100' })).toThrow(/REDIS_STALL_MS/);
    expect(() => loadConfig({ AMQP_HEARTBEAT_SECONDS: '0' })).toThrow(/AMQP_HEARTBEAT_SECONDS/);
    expect(() => loadConfig({ REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '6000' })).toThrow(
      /REDIS_WAIT_TIMEOUT_MS .* REDIS_STALL_MS/,
    );
    expect(loadConfig({ REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '6000', REDIS_STALL_MS: '8000' }).redisWaitTimeoutMs).toBe(6000);
  });

  it('reads Redis Cluster nodes; not together with Sentinel, not with a db other than 0', () => {
    const cfg = loadConfig({ REDIS_CLUSTER_NODES: 'n1:7000, n2:7001', REDIS_URL: 'rediss://:pw@n1:7000/0' });
    expect(cfg.redisClusterNodes).toEqual([
      { host: 'n1', port: 7000 },
      { host: 'n2', port: 7001 },
    ]);
    expect(loadConfig({}).redisClusterNodes).toEqual([]);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'n1' })).toThrow(/REDIS_CLUSTER_NODES/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'n1:7000', REDIS_SENTINELS: 's1:26379' })).toThrow(/REDIS_SENTINELS/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'n1:7000', REDIS_URL: 'redis://n1:7000/2' })).toThrow(/db 0/);
  });

  it.each([
    [{ HTTP_PORT: 'abc' }, /HTTP_PORT/],
    [{ HTTP_PORT: '70000' }, /HTTP_PORT/],
    [{ AMQP_URL: 'http://x' }, /AMQP_URL/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ REQUIRE_DURABLE_REDIS: 'maybe' }, /REQUIRE_DURABLE_REDIS/],
    [{ WORKITEM_CONFIG: '/nonexistent/file.json' }, /WORKITEM_CONFIG/],
    [{ HTTP_MAX_CONNECTIONS: '8' }, /HTTP_MAX_CONNECTIONS/],
    [{ HTTP_MAX_CONNECTIONS: 'lots' }, /HTTP_MAX_CONNECTIONS/],
    [{ HTTP_HEADERS_TIMEOUT_MS: '1.5' }, /HTTP_HEADERS_TIMEOUT_MS/],
    [{ HTTP_KEEP_ALIVE_TIMEOUT_MS: '0' }, /HTTP_KEEP_ALIVE_TIMEOUT_MS/],
    [
      { HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '15000' },
      /HTTP_HEADERS_TIMEOUT_MS must not be greater than HTTP_REQUEST_TIMEOUT_MS/,
    ],
  ])('rejects %j naming the setting', (env, re) => {
    expect(() => loadConfig(env as NodeJS.ProcessEnv)).toThrow(ConfigError);
    expect(() => loadConfig(env as NodeJS.ProcessEnv)).toThrow(re);
  });

  it.each([
    [{ entrances: {} }, /entrances/],
    [{ entrances: { Loans: {} } }, /entrances/],
    [{ entrances: { loans: { maxParked: -1 } } }, /entrances\.loans\.maxParked/],
    [{ entrances: { loans: {} }, taskKey: 'bad key' }, /taskKey/],
    [{ entrances: { loans: {} }, limits: { maxDepth: 0 } }, /limits\.maxDepth/],
    [{ entrances: { loans: {} }, unknown: 1 }, /unknown|Unrecognized/i],
    [
      { entrances: { loans: {} }, social: { facebook: { pages: { '1': { entrance: 'nope', displayName: 'x' } } } } },
      /social\.facebook\.pages\.1\.entrance/,
    ],
    ['{not json', /WORKITEM_CONFIG/],
  ])('rejects the file %j naming the bad key', (content, re) => {
    expect(() => loadConfig({ WORKITEM_CONFIG: withFile(content) })).toThrow(re);
  });
});

describe('dedupe.afterEndSeconds (contract 1.2)', () => {
  it('defaults to 7 days; 0 turns it off; negative or fractional values are refused', () => {
    expect(loadConfig({}).dedupe).toEqual({ afterEndSeconds: 604800 });
    expect(
      loadConfig({ WORKITEM_CONFIG: withFile({ entrances: { loans: {} }, dedupe: { afterEndSeconds: 0 } }) }).dedupe.afterEndSeconds,
    ).toBe(0);
    expect(() => loadConfig({ WORKITEM_CONFIG: withFile({ entrances: { loans: {} }, dedupe: { afterEndSeconds: -1 } }) })).toThrow(
      /afterEndSeconds/,
    );
    expect(() => loadConfig({ WORKITEM_CONFIG: withFile({ entrances: { loans: {} }, dedupe: { afterEndSeconds: 1.5 } }) })).toThrow(
      /afterEndSeconds/,
    );
  });
});
