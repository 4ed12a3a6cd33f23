import { TestClient } from '../helpers/amqp-client';
import { httpRequest } from '../helpers/http';
import { startRabbitNode, type RabbitNode } from '../helpers/rabbit-node';
import { DEFAULT_REDIS_URL, deleteByPrefix, randomPrefix } from '../helpers/redis';
import { startService, type ServiceHandle } from '../helpers/service';
import { newExternalId, workItemXml } from '../helpers/work-items';
import { waitUntil } from '../helpers/wait';

/**
 * A resource alarm (here: a memory watermark no node can meet) makes the broker block publishing connections
 * (connection.blocked). The service stops taking work and says so on /readyz; when the alarm clears it goes on.
 * On a private node: the alarm blocks every publisher of the node.
 */
describe('broker resource alarm (connection.blocked)', () => {
  let node: RabbitNode;
  let client: TestClient;
  let svc: ServiceHandle;
  const prefix = randomPrefix();
  beforeAll(async () => {
    node = await startRabbitNode({ prefix: 'wialarm' });
    client = await TestClient.connect(node.url);
    await client.bindEvents('#');
    await client.replyQueue();
    svc = await startService({ vhost: 'alarm', prefix, env: { AMQP_URL: node.url }, readyTimeoutMs: 60_000 });
  }, 150_000);
  afterAll(async () => {
    await svc?.stop('SIGTERM', 15_000);
    await client?.close().catch(() => undefined);
    await node?.ctl(['set_vm_memory_high_watermark', '0.4']).catch(() => undefined);
    await node?.stop();
    await deleteByPrefix(DEFAULT_REDIS_URL, prefix);
  });

  it('pauses consumption and answers 503 naming rabbitmq-blocked while blocked; every item accepted once after', async () => {
    // The broker sends connection.blocked only to a connection that publishes while the alarm is on (measured on 3.10:
    // idle connections hear nothing). So the items wait in the queue while the service is down, and the alarm is on
    // when it starts: its first event publish gets its connections blocked. The test client publishes nothing then.
    await svc.stop();
    const ids = Array.from({ length: 30 }, (_, i) => newExternalId(`AL${i}`));
    for (const ext of ids) await client.publishWorkItem(workItemXml({ externalId: ext }), { replyTo: true });
    await node.ctl(['set_vm_memory_high_watermark', '0.000001']);
    // Ready only for the moment before its first publish: not waited for.
    svc = await startService({ vhost: 'alarm', prefix, env: { AMQP_URL: node.url }, waitForReady: false });
    const ready = await svc.waitForLog(/"service ready"/, 30_000);
    const line = await svc.waitForLog(/rabbitmq blocks publishing/, 20_000);
    const loggedAfterMs = Date.parse(String(JSON.parse(line).timestamp)) - Date.parse(String(JSON.parse(ready).timestamp));
    await waitUntil(
      async () => {
        const res = await httpRequest(`${svc.baseUrl}/readyz`);
        return res.status === 503 && (JSON.parse(res.text()) as { waitingFor: string[] }).waitingFor.includes('rabbitmq-blocked');
      },
      { timeoutMs: 10_000, describe: 'readyz 503 naming rabbitmq-blocked' },
    );
    expect(JSON.parse(line)).toMatchObject({ level: 'warn', reason: expect.stringMatching(/memory/i) });
    await new Promise((r) => setTimeout(r, 3000));
    const readyz = JSON.parse((await httpRequest(`${svc.baseUrl}/readyz`)).text()) as Record<string, unknown>;
    expect(readyz).toMatchObject({ ready: false, waitingFor: expect.arrayContaining(['rabbitmq-blocked']), consuming: false });
    expect(svc.logs.some((l) => /"consumer paused"/.test(l) && /rabbitmq blocked/.test(l))).toBe(true);
    // Nothing settled while blocked: no receipt reached the sender.
    expect(client.receipts.filter((r) => ids.includes(r.externalId ?? ''))).toHaveLength(0);
    // Cleared well within CONFIRM_TIMEOUT_MS (15 s): the publishes held by the broker are confirmed, not retried.
    await node.ctl(['set_vm_memory_high_watermark', '0.4']);
    const unblockedAt = Date.now();
    await svc.waitForLog(/rabbitmq unblocked publishing/, 20_000);
    await waitUntil(async () => (await httpRequest(`${svc.baseUrl}/readyz`)).status === 200, {
      timeoutMs: 15_000,
      describe: 'ready again',
    });
    const readyAfterMs = Date.now() - unblockedAt;
    await client.waitForReceipts(30, 60_000, (r) => ids.includes(r.externalId ?? ''));
    await client.waitForEvents(30, 30_000, (e) => e.event.type === 'contact.created' && ids.includes(e.event.externalId));
    console.log(
      `memory alarm: blocked logged ${loggedAfterMs} ms after the service was ready; ready ${readyAfterMs} ms after the alarm cleared`,
    );
    const receipts = client.receipts.filter((r) => ids.includes(r.externalId ?? ''));
    expect(receipts.filter((r) => r.status !== 'accepted')).toHaveLength(0);
    expect(new Set(receipts.map((r) => r.externalId)).size).toBe(30);
    expect(receipts).toHaveLength(30);
    const created = client.events.filter((e) => e.event.type === 'contact.created' && ids.includes(e.event.externalId));
    expect(new Set(created.map((e) => e.event.externalId)).size).toBe(30);
    expect(new Set(created.map((e) => e.event.contactId)).size).toBe(30);
    expect(created).toHaveLength(30);
    const messages = svc.jsonLogs().map((l) => String(l.message));
    expect(messages.filter((m) => m.startsWith('rabbitmq blocks publishing'))).toHaveLength(1);
    expect(messages.filter((m) => m.startsWith('rabbitmq unblocked publishing'))).toHaveLength(1);
  }, 150_000);
});
