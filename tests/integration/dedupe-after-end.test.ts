import type { CollectedReceipt } from '../helpers/amqp-client';
import { Fixture } from '../helpers/fixture';
import { testRedisClient } from '../helpers/redis';
import { sleep, waitUntil } from '../helpers/wait';
import { cancelXml, newExternalId, workItemXml } from '../helpers/work-items';

/** Contract 1.2 "Duplicates after the end, and restart", against the real service (broker and Redis). */

jest.setTimeout(120_000);
const WAIT_MS = 30_000;

const f = new Fixture();
beforeAll(() => f.setup(), 60_000);
afterAll(() => f.teardown());

let seq = 0;
async function send(xml: string): Promise<CollectedReceipt> {
  const correlationId = `dedupe-${++seq}`;
  await f.client.publishWorkItem(xml, { replyTo: true, correlationId });
  const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.properties.correlationId === correlationId);
  return r;
}

const restart = (xml: string) => xml.replace('<workItem version="1"', '<workItem version="1" restart="true"');
const created = (externalId: string) =>
  f.client.events.filter((e) => e.event.type === 'contact.created' && e.event.externalId === externalId).map((e) => e.event.contactId);
const unfinished = async (contactId: string) =>
  (await f.api<{ items: { contactId: string }[] }>('/api/items')).items.some((i) => i.contactId === contactId);

it('end → resend: duplicate with state="ended" and the same contactId, no second contact; restart="true" → a new contact', async () => {
  const externalId = newExternalId('DEDUPE');
  const xml = workItemXml({ externalId, entrance: 'loans' });
  const first = await send(xml);
  expect(first.status).toBe('accepted');
  const cid = first.contactId as string;
  await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === cid && e.event.type === 'contact.created');
  await f.client.publishControl('contact.ended', { contactId: cid });
  await waitUntil(async () => !(await unfinished(cid)), { timeoutMs: WAIT_MS, describe: 'item ended' });

  const again = await send(xml);
  expect(again.status).toBe('duplicate');
  expect(again.contactId).toBe(cid);
  expect(again.attributes.state).toBe('ended');
  await sleep(300);
  expect(created(externalId)).toEqual([cid]);

  const restarted = await send(restart(xml));
  expect(restarted.status).toBe('accepted');
  const cid2 = restarted.contactId as string;
  expect(cid2).not.toBe(cid);
  expect(restarted.attributes).not.toHaveProperty('state');
  await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === cid2 && e.event.type === 'contact.created');
  // restart while the new item is unfinished: a plain duplicate of it.
  const plain = await send(restart(xml));
  expect(plain).toMatchObject({ status: 'duplicate', contactId: cid2 });
  expect(plain.attributes).not.toHaveProperty('state');
  expect(created(externalId)).toEqual([cid, cid2]);

  const metrics = await (await fetch(`${f.svc.baseUrl}/metrics`)).text();
  expect(metrics).toMatch(/workitem_items_total\{outcome="duplicate",entrance="loans",task_type="test-task",channel="email",code=""\} 2/);
});

it('cancel → resend: duplicate with state="cancelled"; the finished entry is small', async () => {
  const externalId = newExternalId('DEDUPE-C');
  const xml = workItemXml({ externalId, entrance: 'loans' });
  const cid = (await send(xml)).contactId as string;
  expect((await send(cancelXml({ externalId }))).status).toBe('cancelled');
  const again = await send(xml);
  expect(again).toMatchObject({ status: 'duplicate', contactId: cid });
  expect(again.attributes.state).toBe('cancelled');

  const redis = testRedisClient();
  await redis.connect();
  try {
    const key = `${f.prefix}finished:bank-support|${externalId}`;
    expect(await redis.get(key)).toMatch(new RegExp(`^${cid}\\|cancelled\\|\\d+$`));
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(604_000);
    const bytes = Number(await redis.call('MEMORY', 'USAGE', key));
    console.log(`finished entry ${key}: ${bytes} bytes (MEMORY USAGE)`);
    expect(bytes).toBeLessThan(300);
  } finally {
    await redis.quit();
  }
});
