import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { amqpUrl, createVhost, deleteVhost } from '../helpers/broker';
import { DEFAULT_REDIS_URL, deleteByPrefix, randomPrefix } from '../helpers/redis';
import { startRedis, type RedisProcess } from '../helpers/redis-process';
import { freePort } from '../helpers/ports';
import { REPO_ROOT, SERVICE_ENTRY, startService, type ServiceHandle } from '../helpers/service';
import * as amqp from 'amqplib';
import { DEFAULT_TOPOLOGY, TestClient } from '../helpers/amqp-client';
import { newExternalId, workItemXml } from '../helpers/work-items';
import { httpRequest } from '../helpers/http';
import { waitUntil } from '../helpers/wait';
import { RedisStateStore } from '../../src/adapters/redis/redis-state-store';
import { toContactRecord } from '../../src/domain/contact-event';

jest.setTimeout(120_000);

function runMain(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SERVICE_ENTRY], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', ...env } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stderr });
    });
  });
}

/** Start-up, readiness and shutdown behaviour of the process itself. */
describe('service process', () => {
  let vhost: string;
  const prefix = randomPrefix();
  beforeAll(async () => {
    vhost = await createVhost();
  });
  afterAll(async () => {
    await deleteVhost(vhost);
    await deleteByPrefix(DEFAULT_REDIS_URL, prefix);
  });

  it.each([
    [{ HTTP_PORT: 'eighty' }, /HTTP_PORT/],
    [{ AMQP_URL: 'http://nope' }, /AMQP_URL/],
    [{ WORKITEM_CONFIG: '/no/such/config.json' }, /WORKITEM_CONFIG/],
    [
      { AMQP_URL: 'amqps://guest:guest@127.0.0.1:5671', AMQP_TLS_CA_FILE: '/no/such/ca.pem' },
      /AMQP_TLS_CA_FILE: cannot read \/no\/such\/ca.pem: ENOENT/,
    ],
    [{ REDIS_URL: 'rediss://127.0.0.1:6380', REDIS_TLS_KEY_FILE: '/no/such/key.pem' }, /REDIS_TLS_KEY_FILE: cannot read/],
    [{ REDIS_URL: 'rediss://127.0.0.1:6380', REDIS_TLS_CERT_FILE: __filename }, /REDIS_TLS_CERT_FILE: .* is not a PEM file/],
    [{ AMQP_TLS_CA_FILE: __filename }, /AMQP_TLS_CA_FILE: .* is not a PEM file/],
  ])('a bad setting %j: exit code 2 and a message naming it', async (env, re) => {
    const r = await runMain(env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(re);
  });

  it('REQUIRE_DURABLE_REDIS=true refuses a Redis without persistence: exit 3 (permanent), one line', async () => {
    const r = await runMain({
      AMQP_URL: amqpUrl(vhost),
      REDIS_KEY_PREFIX: prefix,
      HTTP_PORT: '0',
      REQUIRE_DURABLE_REDIS: 'true',
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/REQUIRE_DURABLE_REDIS=true: Redis has no persistence/);
  });

  it('/readyz reports the durability warning; SIGTERM drains in-flight work and exits 0', async () => {
    const svc = await startService({ vhost, prefix });
    const client = await TestClient.connect(amqpUrl(vhost));
    try {
      await client.bindEvents('#');
      await client.replyQueue();
      const ready = JSON.parse((await httpRequest(`${svc.baseUrl}/readyz`)).body.toString());
      expect(ready.redisDurability).toMatchObject({ durable: false });
      expect(ready.redisDurability.warning).toMatch(/would not survive a Redis restart/);
      expect(svc.logs.join('\n')).toMatch(/WARNING: Redis has no persistence/);
      const ids: string[] = [];
      for (let i = 0; i < 200; i++) {
        const ext = newExternalId(`TERM${i}`);
        ids.push(ext);
        await client.publishWorkItem(workItemXml({ externalId: ext }), { replyTo: true });
      }
      const code = await svc.stop('SIGTERM');
      expect(code).toBe(0);
      expect(svc.logs.join('\n')).toMatch(/shutdown complete/);
      // Whatever was not handled before the stop is still in the queue for the next start.
      const next = await startService({ vhost, prefix });
      try {
        await client.waitForReceipts(200, 30_000, (r) => ids.includes(r.externalId ?? ''));
      } finally {
        await next.stop();
      }
    } finally {
      await client.close();
      await svc.stop();
    }
  });
});

/** The process's error-level JSON log lines. */
function errorLines(svc: ServiceHandle): Record<string, unknown>[] {
  return svc.jsonLogs().filter((l) => l.level === 'error');
}

async function exitWithin(svc: ServiceHandle, ms: number): Promise<number | null | 'running'> {
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([svc.exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)))]);
  clearTimeout(timer);
  return exit === null ? 'running' : exit.code;
}

/** Issue 14: permanent start-up errors end the process (exit 3, one line); transient ones are retried, visibly. */
describe('start-up and connection errors', () => {
  let vhost: string;
  let authRedis: RedisProcess;
  const prefix = randomPrefix();
  const REDIS_PASSWORD = `redis-pw-${randomUUID().slice(0, 8)}`;
  const started: ServiceHandle[] = [];
  const start = async (env: Record<string, string>): Promise<ServiceHandle> => {
    const svc = await startService({ vhost, prefix, env, waitForReady: false });
    started.push(svc);
    return svc;
  };

  beforeAll(async () => {
    vhost = await createVhost();
    authRedis = await startRedis({ appendonly: false, args: ['--requirepass', REDIS_PASSWORD] });
  });
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop('SIGTERM', 10_000)));
    await authRedis?.stop();
    await deleteVhost(vhost);
    await deleteByPrefix(DEFAULT_REDIS_URL, prefix);
  });

  const badPassword = `amqp-pw-${randomUUID().slice(0, 8)}`;
  it.each([
    [
      'a wrong broker password',
      () => ({ AMQP_URL: `amqp://guest:${badPassword}@127.0.0.1:5672/${vhost}` }),
      'amqp://guest:***@127.0.0.1:5672/',
      /refused the login/,
      badPassword,
    ],
    [
      'a vhost that does not exist',
      () => ({ AMQP_URL: `amqp://guest:guest@127.0.0.1:5672/no-such-vhost-${randomUUID().slice(0, 8)}` }),
      'amqp://guest:***@127.0.0.1:5672/no-such-vhost-',
      /opening vhost "no-such-vhost-[^"]+": the vhost does not exist or user "guest" has no access/,
      'guest:guest',
    ],
    [
      'a wrong Redis password (WRONGPASS)',
      () => ({ REDIS_URL: `redis://:${badPassword}@127.0.0.1:${authRedis.port}` }),
      'redis://:***@127.0.0.1:',
      /WRONGPASS/,
      badPassword,
    ],
    [
      'no Redis password where one is required (NOAUTH)',
      () => ({ REDIS_URL: authRedis.url }),
      'redis://127.0.0.1:',
      /NOAUTH/,
      REDIS_PASSWORD,
    ],
    [
      'a Redis db that does not exist',
      () => ({ REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:${authRedis.port}/99` }),
      'redis://:***@127.0.0.1:',
      /DB index is out of range/,
      REDIS_PASSWORD,
    ],
  ])(
    '%s: exit code 3 within 15 s, exactly one error line with the redacted URL, no password logged',
    async (_what, env, redacted, cause, secret) => {
      const t0 = Date.now();
      const svc = await start(env());
      const code = await exitWithin(svc, 15_000);
      const ms = Date.now() - t0;
      expect({ code, ms: ms < 15_000 }).toEqual({ code: 3, ms: true });
      const errors = errorLines(svc);
      expect(errors).toHaveLength(1);
      expect(errors[0].message).toContain(redacted);
      expect(errors[0].message).toMatch(cause);
      expect(errors[0].stack).toBeUndefined();
      expect(svc.logs.filter((l) => l.includes(secret))).toEqual([]);
      // No retry chatter before it: the first attempt decides.
      expect(svc.logs.filter((l) => /retrying/.test(l))).toEqual([]);
    },
  );

  it.each([
    [
      'an ATTACHMENT_DIR that cannot be written',
      { ATTACHMENT_STORE: 'fs', ATTACHMENT_DIR: `${__filename}/attachments` },
      /ATTACHMENT_DIR: cannot write/,
    ],
  ])('%s: exit code 3 within 15 s, exactly one error line naming the setting, no stack', async (_what, env, cause) => {
    const svc = await start(env);
    expect(await exitWithin(svc, 15_000)).toBe(3);
    const errors = errorLines(svc);
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(cause);
    expect(errors[0].code).toBe('ATTACHMENT_DIR');
    expect(errors[0].stack).toBeUndefined();
  });

  it('a broker port that refuses connections is retried with backoff, each attempt logged once with the code; /healthz 200, /readyz 503 names rabbitmq', async () => {
    const port = await freePort();
    const secret = `pw-${randomUUID().slice(0, 8)}`;
    const svc = await start({ AMQP_URL: `amqp://guest:${secret}@127.0.0.1:${port}/${vhost}` });
    const retries = () => svc.jsonLogs().filter((l) => l.message === 'amqp connect failed; retrying');
    await waitUntil(() => retries().length >= 3, { timeoutMs: 30_000, describe: () => `3 retry lines; log:\n${svc.logs.join('\n')}` });
    expect(await exitWithin(svc, 0)).toBe('running');
    for (const line of retries()) {
      expect(line).toMatchObject({ code: 'ECONNREFUSED', node: `amqp://guest:***@127.0.0.1:${port}/${vhost}` });
    }
    // One connection probes the broker at start: one line per attempt, not one per connection.
    expect(new Set(retries().map((l) => l.connection))).toEqual(new Set(['publish']));
    expect(new Set(retries().map((l) => l.attempt)).size).toBe(retries().length);
    expect((await httpRequest(`${svc.baseUrl}/healthz`)).status).toBe(200);
    const ready = await httpRequest(`${svc.baseUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.text())).toMatchObject({ ready: false, waitingFor: ['rabbitmq'] });
    expect(svc.logs.filter((l) => l.includes(secret))).toEqual([]);
    expect(await svc.stop('SIGTERM')).toBe(0);
    expect(errorLines(svc)).toEqual([]);
  });

  it('Redis down at start: /healthz answers at once, /readyz 503 waits for redis; once Redis is up the service gets ready', async () => {
    const port = await freePort();
    const t0 = Date.now();
    const svc = await start({ REDIS_URL: `redis://127.0.0.1:${port}` });
    let healthyAfterMs = -1;
    await waitUntil(
      async () => {
        const r = await httpRequest(`${svc.baseUrl}/healthz`, { timeoutMs: 500 }).catch(() => null);
        if (r?.status === 200) healthyAfterMs = Date.now() - t0;
        return r?.status === 200;
      },
      { timeoutMs: 10_000, intervalMs: 25, describe: '/healthz 200' },
    );
    console.log(`/healthz 200 ${healthyAfterMs} ms after spawn (Redis down)`);
    const ready = await httpRequest(`${svc.baseUrl}/readyz`);
    expect(ready.status).toBe(503);
    const body = JSON.parse(ready.text());
    expect(body).toMatchObject({ ready: false, redis: false });
    expect(body.waitingFor).toEqual(['redis']);
    await svc.waitForLog(
      (l) => l.includes('redis connect failed; retrying') && l.includes('ECONNREFUSED') && l.includes(`redis://127.0.0.1:${port}`),
      10_000,
    );

    const lateRedis = await startRedis({ port, appendonly: false });
    try {
      await waitUntil(async () => (await httpRequest(`${svc.baseUrl}/readyz`, { timeoutMs: 1000 })).status === 200, {
        timeoutMs: 30_000,
        intervalMs: 200,
        describe: () => `/readyz 200 after Redis came up; log:\n${svc.logs.slice(-20).join('\n')}`,
      });
      expect(await svc.stop('SIGTERM')).toBe(0);
    } finally {
      await lateRedis.stop();
    }
    expect(errorLines(svc)).toEqual([]);
  });

  it('SIGTERM during the start-up replay: one plain info line, no error, exit 0', async () => {
    const replayPrefix = randomPrefix();
    // Replay runs at ~20k items/s here; before the fix the shutdown waited 2 s for it, then closed the connections
    // under it. N keeps it replaying well past those 2 s.
    const N = 80_000;
    const redis = new Redis(DEFAULT_REDIS_URL, { lazyConnect: true, enableAutoPipelining: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const sink = await amqp.connect(amqpUrl(vhost));
    try {
      // N routed, unfinished items, written by the service's own state store: the start replays them all.
      const store = new RedisStateStore(redis, replayPrefix, 3600);
      for (let start = 0; start < N; start += 1000) {
        const batch: Promise<unknown>[] = [];
        for (let i = start; i < Math.min(N, start + 1000); i++) {
          const nowMs = Date.now();
          const ext = `REPLAY-${i}`;
          const record = toContactRecord(
            {
              externalId: ext,
              source: 'bank-support',
              entrance: 'loans',
              priority: 5,
              subject: 's',
              body: 'b',
              customer: { name: 'n', email: 'e@example.com' },
              contactData: Object.assign(Object.create(null), { WorkItemTask: 't' }),
              taskType: 't',
            },
            `wi-${randomUUID()}`,
            new Date(nowMs).toISOString(),
          );
          batch.push(store.accept({ record, maxParked: 100_000, nowMs }));
        }
        await Promise.all(batch);
      }
      // A contact center that takes (and drops) the events: the replay publishes are routed and confirmed.
      const ch = await sink.createChannel();
      await ch.assertExchange(DEFAULT_TOPOLOGY.eventsExchange, 'topic', { durable: true });
      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(queue, DEFAULT_TOPOLOGY.eventsExchange, '#');
      await ch.consume(queue, () => undefined, { noAck: true });
      const svc = await startService({ vhost, prefix: replayPrefix, waitForReady: false });
      started.push(svc);
      await svc.waitForLog(/replay of unfinished items started/, 60_000);
      expect(await svc.stop('SIGTERM', 30_000)).toBe(0);
      // Cut short at a page boundary: no 'done' (and no replay-done marker), the rest is replayed on the next start.
      expect(svc.logs.some((l) => /replay of unfinished items done/.test(l))).toBe(false);
      const infoLine = svc.jsonLogs().find((l) => l.message === 'shutdown requested during start-up replay; stopping');
      expect(infoLine).toMatchObject({ level: 'info' });
      expect(errorLines(svc)).toEqual([]);
      expect(svc.logs.filter((l) => /"stack"/.test(l))).toEqual([]);
    } finally {
      await sink.close().catch(() => undefined);
      await redis.quit().catch(() => redis.disconnect());
      await deleteByPrefix(DEFAULT_REDIS_URL, replayPrefix);
    }
  });
});
