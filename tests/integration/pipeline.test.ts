import { createVhost, deleteVhost, amqpUrl } from '../helpers/broker';
import { deleteByPrefix, DEFAULT_REDIS_URL, randomPrefix } from '../helpers/redis';
import { startService, type ServiceHandle } from '../helpers/service';
import { TestClient } from '../helpers/amqp-client';
import { example, workItemXml, newExternalId } from '../helpers/work-items';
import { httpRequest } from '../helpers/http';

/** Issue 3: the core path, through the broker only, against a real service process. */
describe('core pipeline', () => {
  let vhost: string;
  let prefix: string;
  let svc: ServiceHandle;
  let client: TestClient;

  beforeAll(async () => {
    vhost = await createVhost();
    prefix = randomPrefix();
    client = await TestClient.connect(amqpUrl(vhost));
    await client.bindEvents('#');
    await client.bindErrors();
    await client.bindReceiptsExchange('#');
    await client.replyQueue();
    svc = await startService({ vhost, prefix });
  });

  afterAll(async () => {
    await client?.close();
    await svc?.stop();
    await deleteVhost(vhost);
    await deleteByPrefix(DEFAULT_REDIS_URL, prefix);
  });

  it('loan-review.xml → accepted receipt and a contact.created.loans event with every contract field', async () => {
    const pub = await client.publishWorkItem(example('loan-review.xml'), { replyTo: true, correlationId: 'corr-1' });
    expect(pub.routingKey).toBe('workitem.bank-support');
    const [receipt] = await client.waitForReceipts(1, 10_000, (r) => r.properties.correlationId === 'corr-1');
    expect(receipt.status).toBe('accepted');
    expect(receipt.contactId).toMatch(/^wi-/);
    expect(receipt.entrance).toBe('loans');
    expect(receipt.properties.contentType).toBe('application/xml');
    const [ev] = await client.waitForEvents(1, 10_000, (e) => e.event.contactId === receipt.contactId);
    expect(ev.routingKey).toBe('contact.created.loans');
    expect(ev.properties.contentType).toBe('application/json');
    expect(ev.properties.type).toBe('contact.created');
    expect(ev.properties.messageId).toBe(ev.event.eventId);
    expect(ev.properties.deliveryMode).toBe(2);
    expect(ev.event).toMatchObject({
      type: 'contact.created',
      replayed: false,
      externalId: 'CASE-2026-000123',
      source: 'bank-support',
      entrance: 'loans',
      channel: 'email',
      workItem: true,
      taskType: 'loan-review',
      priority: 3,
      subject: 'Loan application needs review',
      dueAt: '2026-11-24T12:00:00Z',
      customer: { name: 'Anna Svensson', email: 'anna@example.com', phone: '+46701234567' },
      contactData: { WorkItemTask: 'loan-review', CaseUrl: 'https://bank.example/cases/123', Segment: 'private' },
      presentation: { icon: 'workitem', reply: false, didNotArrive: false },
    });
    expect(ev.event.presentation?.preview).toMatch(/^Customer 19800101-1234 applied/);
    expect((ev.event.presentation?.preview ?? '').length).toBeLessThanOrEqual(200);
    expect(ev.event.receivedAt).toEqual(expect.any(String));
    expect(ev.event.createdAt).toEqual(expect.any(String));
    // A copy of the receipt on the receipts exchange, routing key <status>.<source>.
    await client.waitForReceiptCopies(1, 10_000, (r) => r.routingKey === 'accepted.bank-support' && r.contactId === receipt.contactId);
  });

  it('a duplicate gives a duplicate receipt with the same contactId and no second event', async () => {
    const xml = workItemXml({ externalId: newExternalId('DUP') });
    await client.publishWorkItem(xml, { replyTo: true, correlationId: 'dup-1' });
    const [first] = await client.waitForReceipts(1, 10_000, (r) => r.properties.correlationId === 'dup-1');
    await client.publishWorkItem(xml, { replyTo: true, correlationId: 'dup-2' });
    const [second] = await client.waitForReceipts(1, 10_000, (r) => r.properties.correlationId === 'dup-2');
    expect(first.status).toBe('accepted');
    expect(second.status).toBe('duplicate');
    expect(second.contactId).toBe(first.contactId);
    await new Promise((r) => setTimeout(r, 500));
    expect(client.events.filter((e) => e.event.externalId === first.externalId)).toHaveLength(1);
  });

  it.each([
    ['bad-doctype.xml', 'FORBIDDEN_XML'],
    ['bad-missing-task-key.xml', 'NOT_A_WORKITEM'],
  ])('%s → rejected %s, a copy on workitem.error, and the service keeps consuming', async (file, code) => {
    const corr = `bad-${file}`;
    await client.publishWorkItem(example(file), { source: 'bank-support', replyTo: true, correlationId: corr });
    const [r] = await client.waitForReceipts(1, 10_000, (x) => x.properties.correlationId === corr);
    expect(r.status).toBe('rejected');
    expect(r.error?.code).toBe(code);
    const [copy] = await client.waitForErrors(1, 10_000, (e) => e.properties.correlationId === corr);
    expect(copy.headers['x-error-code']).toBe(code);
    expect(copy.headers['x-error-message']).toEqual(expect.any(String));
    expect(copy.headers['x-error-path']).toEqual(expect.any(String));
    expect(copy.headers['x-first-failed-at']).toEqual(expect.any(String));
    expect(copy.body.equals(Buffer.from(example(file)))).toBe(true);
    // Still consuming: a good item goes through.
    await client.publishWorkItem(workItemXml({}), { replyTo: true, correlationId: `${corr}-after` });
    const [ok] = await client.waitForReceipts(1, 10_000, (x) => x.properties.correlationId === `${corr}-after`);
    expect(ok.status).toBe('accepted');
  });

  it('malformed XML without reply_to still lands on the error queue', async () => {
    const mid = `garbage-${Date.now()}`;
    await client.publishWorkItem('<workItem version="1"><externalId>x', { source: 'bank-support', replyTo: false, messageId: mid });
    const [copy] = await client.waitForErrors(1, 10_000, (e) => e.properties.messageId === mid);
    expect(copy.headers['x-error-code']).toBe('MALFORMED_XML');
  });

  it('a routing key of another source is SENDER_NOT_ALLOWED', async () => {
    await client.publishWorkItem(workItemXml({ source: 'bank-support' }), { source: 'voicemail', replyTo: true, correlationId: 'spoof' });
    const [r] = await client.waitForReceipts(1, 10_000, (x) => x.properties.correlationId === 'spoof');
    expect(r.status).toBe('rejected');
    expect(r.error?.code).toBe('SENDER_NOT_ALLOWED');
    await client.waitForErrors(1, 10_000, (e) => e.properties.correlationId === 'spoof');
    // The receipts-exchange copy goes to the real sender (its routing key), not to the source it claimed.
    const [copy] = await client.waitForReceiptCopies(1, 10_000, (x) => x.properties.correlationId === 'spoof');
    expect(copy.routingKey).toBe('rejected.voicemail');
  });

  it('a routing key not of the form workitem.<source> is SENDER_NOT_ALLOWED and says which key to use', async () => {
    await client.publishWorkItem(workItemXml({ source: 'bank-support' }), {
      routingKey: 'cases.bank-support',
      replyTo: true,
      correlationId: 'badkey',
    });
    const [r] = await client.waitForReceipts(1, 10_000, (x) => x.properties.correlationId === 'badkey');
    expect(r.error?.code).toBe('SENDER_NOT_ALLOWED');
    expect(r.error?.message).toContain('"cases.bank-support" is not of the form workitem.<source>');
    expect(r.error?.message).toContain('"workitem.bank-support"');
    expect(r.error?.message).not.toContain('"?"');
  });

  it("a rejection whose XML names no readable source is answered as the routing key's source", async () => {
    await client.publishWorkItem(example('bad-doctype.xml'), {
      source: 'voicemail',
      replyTo: true,
      correlationId: 'nosrc',
      messageId: null,
    });
    const [r] = await client.waitForReceipts(1, 10_000, (x) => x.properties.correlationId === 'nosrc');
    expect(r.error?.code).toBe('FORBIDDEN_XML');
    expect(r.source).toBe('voicemail');
    const [copy] = await client.waitForReceiptCopies(1, 10_000, (x) => x.properties.correlationId === 'nosrc');
    expect(copy.routingKey).toBe('rejected.voicemail');
    // The error copy keeps the original properties: no message_id was sent, none is made up.
    const [err] = await client.waitForErrors(1, 10_000, (e) => e.properties.correlationId === 'nosrc');
    expect(err.properties.messageId).toBeUndefined();
  });

  it('a message with neither correlation_id nor message_id still gets its receipt', async () => {
    const ext = newExternalId('MIN');
    await client.publishWorkItem(workItemXml({ externalId: ext }), { replyTo: true, messageId: null });
    const [r] = await client.waitForReceipts(1, 10_000, (x) => x.externalId === ext);
    expect(r.status).toBe('accepted');
  });

  it('a reply_to queue that does not exist never holds up the item', async () => {
    const ext = newExternalId('NOQ');
    await client.publishWorkItem(workItemXml({ externalId: ext }), { replyTo: 'no-such-queue-' + ext });
    await client.waitForEvents(1, 10_000, (e) => e.event.externalId === ext);
    await client.waitForReceiptCopies(1, 10_000, (r) => r.externalId === ext && r.status === 'accepted');
  });

  it('a direct reply-to whose requester is gone never holds up the item', async () => {
    const ext = newExternalId('DRT');
    await client.publishWorkItem(workItemXml({ externalId: ext }), {
      replyTo: 'amq.rabbitmq.reply-to.g1h2AA5yZXBseUAxMjM0NTY3OAAAAAAAAAAA.gone',
    });
    await client.waitForEvents(1, 10_000, (e) => e.event.externalId === ext);
    // And the service is still healthy afterwards.
    const after = newExternalId('DRT2');
    await client.publishWorkItem(workItemXml({ externalId: after }), { replyTo: true });
    await client.waitForReceipts(1, 10_000, (r) => r.externalId === after);
  });

  it('serves /healthz, /readyz and /metrics', async () => {
    expect((await httpRequest(`${svc.baseUrl}/healthz`)).status).toBe(200);
    const ready = await httpRequest(`${svc.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await httpRequest(`${svc.baseUrl}/metrics`);
    expect(metrics.body.toString()).toMatch(
      /workitem_items_total\{outcome="accepted",entrance="loans",task_type="loan-review",channel="email"/,
    );
  });
});
