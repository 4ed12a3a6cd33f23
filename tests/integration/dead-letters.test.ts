import * as amqp from 'amqplib';
import { amqpUrl, createVhost, deleteVhost } from '../helpers/broker';
import { DEFAULT_TOPOLOGY, TestClient } from '../helpers/amqp-client';
import { Fixture } from '../helpers/fixture';
import { deleteByPrefix, DEFAULT_REDIS_URL, randomPrefix } from '../helpers/redis';
import { startService, type ServiceHandle } from '../helpers/service';
import { waitUntil } from '../helpers/wait';
import { newExternalId, workItemXml } from '../helpers/work-items';

/**
 * Contract: an inbound message the broker dead-letters before the service settles it — its `expiration` ran out in
 * the queue, or it reached the delivery limit — still gets its rejection receipt (when it had a reply_to) and its
 * receipt copy; the error-queue copy carries x-error-code EXPIRED_IN_QUEUE or DELIVERY_LIMIT. The broker does the
 * dead-lettering here for real (into workitem.dead-letters, which the service consumes); nothing is simulated.
 */
const t = DEFAULT_TOPOLOGY;
/** Small, so a message that keeps failing reaches it within seconds (3 deliveries, 1 s apart). */
const DELIVERY_LIMIT = 2;

describe('messages the broker dead-letters', () => {
  const f = new Fixture({ config: { topology: { deliveryLimit: DELIVERY_LIMIT } } });
  let admin: amqp.ChannelModel;
  let ch: amqp.Channel;
  beforeAll(async () => {
    await f.setup();
    admin = await amqp.connect(amqpUrl(f.vhost));
    ch = await admin.createChannel();
  }, 60_000);
  afterAll(async () => {
    await admin?.close().catch(() => undefined);
    await f.teardown();
  });

  it('an item or control event that expires in its queue: EXPIRED_IN_QUEUE copy; the item also a rejected receipt', async () => {
    // Nobody consumes while the service is down: both messages' expiration (1 ms) runs out in their queues.
    await f.svc.stop();
    const ext = newExternalId('TTL');
    const xml = workItemXml({ externalId: ext, source: 'bank-support', entrance: 'loans' });
    const sent = await f.client.publishWorkItem(xml, { replyTo: true, correlationId: 'ttl-1', properties: { expiration: '1' } });
    await f.client.publishRaw(t.controlExchange, 'entrance.closed', { entrance: 'loans' }, { expiration: '1', messageId: 'ctl-ttl' });
    await waitUntil(async () => (await f.client.checkQueue(t.deadLetterQueue))?.messageCount === 2, {
      timeoutMs: 10_000,
      describe: 'both messages dead-lettered',
    });
    expect((await f.client.checkQueue(t.inboundQueue))?.messageCount).toBe(0);
    expect((await f.client.checkQueue(t.controlQueue))?.messageCount).toBe(0);
    await f.restart();

    const [receipt] = await f.client.waitForReceipts(1, 15_000, (r) => r.properties.correlationId === 'ttl-1');
    expect(receipt).toMatchObject({ status: 'rejected', source: 'bank-support', error: { code: 'EXPIRED_IN_QUEUE', path: '/' } });
    expect(receipt.error?.message).toMatch(/expiration \(1 ms\) ran out in queue workitem\.inbound/);
    const [copy] = await f.client.waitForReceiptCopies(1, 5_000, (r) => r.properties.correlationId === 'ttl-1');
    expect(copy.routingKey).toBe('rejected.bank-support');

    const errors = await f.client.waitForErrors(2, 5_000, (e) => e.code === 'EXPIRED_IN_QUEUE');
    const item = errors.find((e) => e.properties.messageId === sent.messageId);
    expect(item?.body.toString()).toBe(xml);
    expect(item?.routingKey).toBe('EXPIRED_IN_QUEUE');
    expect(item?.properties.expiration).toBeUndefined(); // a copy on the error queue must not vanish
    expect(item?.properties.replyTo).toBe(sent.replyTo);
    expect(item?.headers).toMatchObject({ 'x-original-exchange': t.inboundExchange, 'x-original-routing-key': 'workitem.bank-support' });
    expect(typeof item?.headers['x-first-failed-at']).toBe('string');

    const control = errors.find((e) => e.properties.messageId === 'ctl-ttl');
    expect(JSON.parse(control?.body.toString() ?? '{}')).toEqual({ entrance: 'loans' });
    expect(control?.headers).toMatchObject({ 'x-original-exchange': t.controlExchange, 'x-original-routing-key': 'entrance.closed' });
    // A control event gets no receipt, and the expired one was not applied.
    expect(f.client.receiptCopies.filter((r) => r.error?.code === 'EXPIRED_IN_QUEUE')).toHaveLength(1);
    expect((await f.entrance('loans')).state).toBe('open');
    await waitUntil(async () => (await f.client.checkQueue(t.deadLetterQueue))?.messageCount === 0, { timeoutMs: 5_000 });
  }, 60_000);

  it('an item that keeps failing reaches the delivery limit: DELIVERY_LIMIT copy and a rejected receipt', async () => {
    // Its MALFORMED_XML copy cannot be published while the error queue is unbound (returned: a transient failure), so
    // the service requeues it until the broker dead-letters it (delivery_limit); then the error queue comes back.
    await ch.unbindQueue(t.errorQueue, t.errorExchange, '#');
    const body = '<workItem version="1"><broken';
    const sent = await f.client.publishWorkItem(body, { source: 'bank-support', replyTo: true, correlationId: 'poison-1' });
    await f.svc.waitForLog(/dead-lettered message requeued after a transient failure/, 15_000);
    expect((await f.client.checkQueue(t.inboundQueue))?.messageCount).toBe(0);
    expect(f.client.receipts.filter((r) => r.properties.correlationId === 'poison-1')).toEqual([]);
    await ch.bindQueue(t.errorQueue, t.errorExchange, '#');

    const [receipt] = await f.client.waitForReceipts(1, 10_000, (r) => r.properties.correlationId === 'poison-1');
    expect(receipt).toMatchObject({ status: 'rejected', source: 'bank-support', error: { code: 'DELIVERY_LIMIT' } });
    const [copy] = await f.client.waitForReceiptCopies(1, 5_000, (r) => r.properties.correlationId === 'poison-1');
    expect(copy.routingKey).toBe('rejected.bank-support');
    const [error] = await f.client.waitForErrors(1, 5_000, (e) => e.properties.messageId === sent.messageId);
    expect(error.code).toBe('DELIVERY_LIMIT');
    expect(error.routingKey).toBe('DELIVERY_LIMIT');
    expect(error.body.toString()).toBe(body);
    expect(f.client.errors.filter((e) => e.properties.messageId === sent.messageId)).toHaveLength(1);
  }, 60_000);
});

/**
 * An existing deployment's queues were declared with the old arguments (dead-letter straight to the error exchange).
 * RabbitMQ refuses a redeclare with other arguments, and no policy overrides queue arguments: the service keeps the
 * old queue as it is, says so once, and works.
 */
describe('upgrading from a topology with the old dead-letter arguments', () => {
  let vhost = '';
  const prefix = randomPrefix();
  let client: TestClient;
  let svc: ServiceHandle | undefined;
  afterAll(async () => {
    await client?.close();
    await svc?.stop().catch(() => undefined);
    if (vhost) await deleteVhost(vhost);
    await deleteByPrefix(DEFAULT_REDIS_URL, prefix);
  });

  it('keeps the old inbound queue, logs how to re-create it, and still handles items', async () => {
    vhost = await createVhost();
    client = await TestClient.connect(amqpUrl(vhost));
    await client.bindEvents('#');
    await client.assertExchange(t.errorExchange);
    const conn = await amqp.connect(amqpUrl(vhost));
    const old = await conn.createChannel();
    await old.assertQueue(t.inboundQueue, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-delivery-limit': 100,
        'x-dead-letter-exchange': t.errorExchange,
        'x-dead-letter-routing-key': 'DELIVERY_LIMIT',
      },
    });
    await conn.close();

    svc = await startService({ vhost, prefix });
    const warning = await svc.waitForLog(/UPGRADE: queue workitem\.inbound was declared by an older version/, 5_000);
    expect(warning).toMatch(/rabbitmqctl delete_queue workitem\.inbound --if-empty/);
    expect(svc.logs.filter((l) => l.includes('UPGRADE: queue'))).toHaveLength(1);
    expect(await client.checkQueue(t.deadLetterQueue)).not.toBeNull();

    const ext = newExternalId('UPG');
    await client.publishWorkItem(workItemXml({ externalId: ext, entrance: 'loans' }));
    await client.waitForEvents(1, 10_000, (e) => e.event.externalId === ext);
  }, 60_000);
});
