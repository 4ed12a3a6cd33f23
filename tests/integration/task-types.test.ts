import { createVhost, deleteVhost, amqpUrl } from '../helpers/broker';
import { deleteByPrefix, DEFAULT_REDIS_URL, randomPrefix } from '../helpers/redis';
import { startService, type ServiceHandle } from '../helpers/service';
import { TestClient } from '../helpers/amqp-client';
import { workItemXml, newExternalId } from '../helpers/work-items';

/** Task types (part 1): defaults, required contact data and strict mode, against a real service process. */
describe('task types', () => {
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
    svc = await startService({
      vhost,
      prefix,
      config: {
        taskTypes: {
          'loan-review': { entrance: 'support', priority: 7, dueIn: 'PT4H', expiresIn: 'P2D', requiredContactData: ['CaseUrl'] },
          voicemail: {},
        },
        taskTypesStrict: true,
      },
    });
  });

  afterAll(async () => {
    await client?.close();
    await svc?.stop();
    await deleteVhost(vhost);
    await deleteByPrefix(DEFAULT_REDIS_URL, prefix);
  });

  async function send(xml: string, corr: string) {
    await client.publishWorkItem(xml, { source: 'bank-support', replyTo: true, correlationId: corr });
    const [receipt] = await client.waitForReceipts(1, 10_000, (r) => r.properties.correlationId === corr);
    return receipt;
  }

  it('an item without <entrance>, <priority> and <dueAt> gets the defaults of its task type', async () => {
    const externalId = newExternalId();
    const receipt = await send(
      workItemXml({ externalId, entrance: null, taskType: 'loan-review', contactData: { CaseUrl: 'https://bank.example/cases/1' } }),
      'tt-defaults',
    );
    expect(receipt).toMatchObject({ status: 'accepted', entrance: 'support' });
    const [ev] = await client.waitForEvents(1, 10_000, (e) => e.event.contactId === receipt.contactId);
    expect(ev.routingKey).toBe('contact.created.support');
    expect(ev.event).toMatchObject({ type: 'contact.created', externalId, entrance: 'support', priority: 7, taskType: 'loan-review' });
    const receivedAt = Date.parse(ev.event.receivedAt as string);
    expect(receipt.receivedAt).toBe(ev.event.receivedAt);
    expect(Date.parse(ev.event.dueAt as string)).toBe(receivedAt + 4 * 3_600_000);
  });

  it("the sender's own values win", async () => {
    const receipt = await send(
      workItemXml({
        entrance: 'loans',
        priority: '2',
        dueAt: '2030-01-01T00:00:00Z',
        taskType: 'loan-review',
        contactData: { CaseUrl: 'https://bank.example/cases/2' },
      }),
      'tt-own',
    );
    expect(receipt).toMatchObject({ status: 'accepted', entrance: 'loans' });
    const [ev] = await client.waitForEvents(1, 10_000, (e) => e.event.contactId === receipt.contactId);
    expect(ev.event).toMatchObject({ entrance: 'loans', priority: 2, dueAt: '2030-01-01T00:00:00Z' });
  });

  it.each([
    [
      'missing required contact data',
      { entrance: null, taskType: 'loan-review' },
      'MISSING_FIELD',
      "/workItem/contactData/item[@key='CaseUrl']",
    ],
    ['an unlisted task type (strict)', { taskType: 'mortgage' }, 'UNKNOWN_TASK_TYPE', "/workItem/contactData/item[@key='WorkItemTask']"],
    ['no entrance and no default entrance', { entrance: null, taskType: 'voicemail' }, 'MISSING_FIELD', '/workItem/entrance'],
  ])('%s: rejected with its code and path, and a copy on the error queue', async (_what, fields, code, path) => {
    const corr = `tt-${code}-${path.length}`;
    const receipt = await send(workItemXml(fields), corr);
    expect(receipt).toMatchObject({ status: 'rejected', error: { code, path } });
    const [copy] = await client.waitForErrors(1, 10_000, (e) => e.properties.correlationId === corr);
    expect(copy.headers).toMatchObject({ 'x-error-code': code, 'x-error-path': path });
  });
});
