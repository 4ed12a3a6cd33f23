import { parseItemInfo } from '../../src/adapters/xml/render-item-info';
import type { CollectedReceipt } from '../helpers/amqp-client';
import { amqpUrl } from '../helpers/broker';
import { runCli } from '../helpers/cli';
import { Fixture } from '../helpers/fixture';
import { DEFAULT_REDIS_URL } from '../helpers/redis';
import { sleep, waitUntil } from '../helpers/wait';
import { getXml, newExternalId, workItemXml } from '../helpers/work-items';

/** Status query `<getWorkItem>` against the real service: answered to reply_to only, never on workitem.receipts. */

jest.setTimeout(120_000);
const WAIT_MS = 30_000;

const f = new Fixture();
beforeAll(() => f.setup(), 60_000);
afterAll(() => f.teardown());

let seq = 0;
async function send(xml: string, opts: { source?: string } = {}): Promise<CollectedReceipt> {
  const correlationId = `get-${++seq}`;
  await f.client.publishWorkItem(xml, { replyTo: true, correlationId, ...opts });
  const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.properties.correlationId === correlationId);
  return r;
}

const unfinished = async (contactId: string) =>
  (await f.api<{ items: { contactId: string }[] }>('/api/items')).items.some((i) => i.contactId === contactId);

/** The query's reply; nothing for it on workitem.receipts or the error queue (checked after a short wait). */
async function query(externalId: string, source = 'bank-support'): Promise<CollectedReceipt> {
  const copies = f.client.receiptCopies.length;
  const errors = f.client.errors.length;
  const reply = await send(getXml({ externalId, source }), { source });
  expect(reply.properties).toMatchObject({ contentType: 'application/xml', correlationId: `get-${seq}` });
  await sleep(300);
  expect(f.client.receiptCopies.slice(copies)).toEqual([]);
  expect(f.client.errors.slice(errors)).toEqual([]);
  return reply;
}

it('a routed item: workItemInfo state="routed" with its history; after contact.ended: state="ended"', async () => {
  const externalId = newExternalId('GET');
  const first = await send(workItemXml({ externalId, entrance: 'loans' }));
  expect(first.status).toBe('accepted');
  const cid = first.contactId as string;
  await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === cid && e.event.type === 'contact.created');

  const reply = await query(externalId);
  expect(reply.properties.type).toBe('workItemInfo');
  const info = parseItemInfo(reply.raw);
  expect(info).toMatchObject({ externalId, source: 'bank-support', contactId: cid, state: 'routed', entrance: 'loans' });
  expect(info.receivedAt).toEqual(first.receivedAt);
  expect(info.steps.map((s) => s.name)).toEqual(['received', 'accepted']);

  await f.client.publishControl('contact.ended', { contactId: cid });
  await waitUntil(async () => !(await unfinished(cid)), { timeoutMs: WAIT_MS, describe: 'item ended' });
  const ended = parseItemInfo((await query(externalId)).raw);
  expect(ended).toMatchObject({ contactId: cid, state: 'ended' });
  expect(ended).not.toHaveProperty('entrance');
  // The history's `ended` step is written after the item is removed: wait for it rather than race it.
  await waitUntil(async () => parseItemInfo((await query(externalId)).raw).steps.some((s) => s.name === 'ended'), {
    timeoutMs: WAIT_MS,
    describe: 'ended step in the history',
  });
});

it("another source's item, and an unknown one: a rejected NOT_FOUND receipt to reply_to only", async () => {
  const externalId = newExternalId('GET-X');
  const cid = (await send(workItemXml({ externalId, entrance: 'loans' }))).contactId as string;
  await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === cid && e.event.type === 'contact.created');
  for (const [ext, source] of [
    [externalId, 'email'],
    [newExternalId('GET-NONE'), 'bank-support'],
  ]) {
    const reply = await query(ext, source);
    expect(reply.properties.type).toBe('workItemReceipt');
    expect(reply).toMatchObject({
      status: 'rejected',
      externalId: ext,
      source,
      error: { code: 'NOT_FOUND', path: '/getWorkItem/externalId' },
    });
  }
});

it('without reply_to: rejected MISSING_FIELD at /getWorkItem, with its error copy and receipt copy', async () => {
  const externalId = newExternalId('GET-NR');
  const correlationId = 'get-no-reply';
  await f.client.publishWorkItem(getXml({ externalId }), { replyTo: false, correlationId });
  const [copy] = await f.client.waitForReceiptCopies(1, WAIT_MS, (r) => r.properties.correlationId === correlationId);
  expect(copy).toMatchObject({ status: 'rejected', externalId, error: { code: 'MISSING_FIELD', path: '/getWorkItem' } });
  await f.client.waitForErrors(1, WAIT_MS, (e) => e.properties.correlationId === correlationId);
});

it('`workitem get <externalId> --source s` prints the info (exit 0), or not found (exit 1)', async () => {
  const externalId = newExternalId('GET-CLI');
  const cid = (await send(workItemXml({ externalId, entrance: 'loans' }))).contactId as string;
  const env = {
    ...process.env,
    AMQP_URL: amqpUrl(f.vhost),
    REDIS_URL: DEFAULT_REDIS_URL,
    REDIS_KEY_PREFIX: f.prefix,
    WORKITEM_CONFIG: f.svc.configFile,
  };
  const found = await runCli(['get', externalId, '--source', 'bank-support', '--json'], env);
  expect(found.code).toBe(0);
  expect(JSON.parse(found.stdout)).toMatchObject({ info: { contactId: cid, state: 'routed', steps: expect.any(Array) } });
  const text = await runCli(['get', externalId, '--source', 'bank-support'], env);
  expect(text.stdout).toMatch(/state:\s+routed/);
  expect(text.stdout).toMatch(/received/);
  const missing = await runCli(['get', newExternalId('GET-CLI-NONE'), '--source', 'bank-support'], env);
  expect(missing.code).toBe(1);
  expect(missing.stdout).toMatch(/not found/);
});
