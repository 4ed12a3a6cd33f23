import { spawn } from 'node:child_process';
import { amqpUrl, createVhost, deleteVhost } from '../helpers/broker';
import { DEFAULT_REDIS_URL, deleteByPrefix, randomPrefix } from '../helpers/redis';
import { REPO_ROOT, SERVICE_ENTRY, startService } from '../helpers/service';
import { TestClient } from '../helpers/amqp-client';
import { newExternalId, workItemXml } from '../helpers/work-items';
import { httpRequest } from '../helpers/http';

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
  ])('a bad setting %j: exit code 2 and a message naming it', async (env, re) => {
    const r = await runMain(env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(re);
  });

  it('REQUIRE_DURABLE_REDIS=true refuses a Redis without persistence', async () => {
    const r = await runMain({
      AMQP_URL: amqpUrl(vhost),
      REDIS_KEY_PREFIX: prefix,
      HTTP_PORT: '0',
      REQUIRE_DURABLE_REDIS: 'true',
    });
    expect(r.code).toBe(1);
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
