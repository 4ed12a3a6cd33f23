import type { CollectedNotification } from '../helpers/amqp-client';
import { Fixture } from '../helpers/fixture';
import { httpRequest } from '../helpers/http';
import { waitUntil } from '../helpers/wait';
import { newExternalId, workItemXml } from '../helpers/work-items';

/**
 * Contract 1.2 "Lifecycle notifications", against the real service: what a sender bound to `*.<source>` on
 * `workitem.notifications` hears, with which routing key, message_id and correlation_id, for every transition that has
 * one; and what it does not hear (an item whose receipt said accepted is not `routed` again).
 */

jest.setTimeout(120_000);
const WAIT_MS = 20_000;
const SOURCE = 'bank-support';

const f = new Fixture({ config: { park: { retrySeconds: 2 } } });
beforeAll(async () => {
  await f.setup();
  await f.client.bindNotifications(`*.${SOURCE}`);
}, 60_000);
afterAll(() => f.teardown());

const of = (contactId: string) => (n: CollectedNotification) => n.contactId === contactId;

async function send(fields: Parameters<typeof workItemXml>[0] = {}): Promise<{ externalId: string; contactId: string; status: string }> {
  const externalId = newExternalId('NOTE');
  await f.client.publishWorkItem(workItemXml({ externalId, entrance: 'loans', ...fields }), { replyTo: true, correlationId: externalId });
  const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.properties.correlationId === externalId);
  return { externalId, contactId: r.contactId as string, status: String(r.status) };
}

/** Waits until the service's outbox is empty (every notification confirmed), so "nothing more" can be asserted. */
async function outboxEmpty(): Promise<void> {
  await waitUntil(
    async () => {
      const r = await httpRequest(`${f.svc.baseUrl}/metrics`);
      return /\nworkitem_notifications_waiting 0\n/.test(r.body.toString());
    },
    { timeoutMs: WAIT_MS, describe: 'the notification outbox empty' },
  );
}

it('one item from arrival to End: buffered, routed, sent back, routed again, ended with its disposition', async () => {
  await f.setEntrance('loans', false);
  const item = await send();
  expect(item.status).toBe('buffered');
  const t0 = Date.now();
  await f.setEntrance('loans', true);
  const [routed] = await f.client.waitForNotifications(1, WAIT_MS, (n) => of(item.contactId)(n) && n.event === 'routed');
  const routedMs = Date.now() - t0;
  const [created] = await f.client.waitForEvents(
    1,
    WAIT_MS,
    (e) => e.event.contactId === item.contactId && e.event.type === 'contact.created',
  );
  expect(created).toBeDefined();

  await f.client.publishControl('contact.rejected', { contactId: item.contactId, reason: 'no agent with the skill' });
  const [buffered] = await f.client.waitForNotifications(1, WAIT_MS, (n) => of(item.contactId)(n) && n.event === 'buffered');
  expect(buffered.reason).toBe('rejected');
  // Back from the park queue after its TTL, routed again (the entrance is open).
  const routedTwice = await f.client.waitForNotifications(2, WAIT_MS, (n) => of(item.contactId)(n) && n.event === 'routed');

  await f.client.publishControl('contact.ended', {
    contactId: item.contactId,
    disposition: { code: 'resolved', text: 'Loan approved, customer informed' },
  });
  const [ended] = await f.client.waitForNotifications(1, WAIT_MS, (n) => of(item.contactId)(n) && n.event === 'ended');
  await outboxEmpty();

  const mine = f.client.notifications.filter(of(item.contactId));
  expect(mine.map((n) => n.event)).toEqual(['routed', 'buffered', 'routed', 'ended']);
  expect(new Set(mine.map((n) => n.messageId)).size).toBe(4);
  for (const n of mine) {
    expect(n.routingKey).toBe(`${n.event}.${SOURCE}`);
    expect(n.messageId).toBe(`${item.contactId}.${n.messageId.split('.')[1]}.${n.event}`);
    expect(n.correlationId).toBe(item.externalId);
    expect(n.properties.contentType).toBe('application/xml');
    expect(n.properties.deliveryMode).toBe(2);
    expect(n).toMatchObject({ externalId: item.externalId, source: SOURCE, contactId: item.contactId, entrance: 'loans' });
    expect(Number.isNaN(Date.parse(n.at))).toBe(false);
  }
  expect(routed.messageId).not.toBe(routedTwice[1].messageId);
  expect(ended.disposition).toEqual({ code: 'resolved', text: 'Loan approved, customer informed' });
  // The routed notification follows the contact.created confirm, it does not precede the routing.
  expect(routedMs).toBeLessThan(5_000);
  const lines = mine.map((n) => `${n.routingKey} ${n.messageId}`).join('\n');
  process.stdout.write(`notifications of one item, arrival to End (routed ${routedMs} ms after the reopen):\n${lines}\n`);
});

it('an item accepted at once hears no `routed`; its End is `ended` without a disposition', async () => {
  const item = await send();
  expect(item.status).toBe('accepted');
  await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === item.contactId);
  await f.client.publishControl('contact.ended', { contactId: item.contactId });
  const [ended] = await f.client.waitForNotifications(1, WAIT_MS, (n) => of(item.contactId)(n) && n.event === 'ended');
  expect(ended.disposition).toBeUndefined();
  await outboxEmpty();
  expect(f.client.notifications.filter(of(item.contactId)).map((n) => n.event)).toEqual(['ended']);
});

it('scheduled → routed when activateAt is reached; expiresAt → expired; dueAt → overdue (once)', async () => {
  const soon = (ms: number) => new Date(Date.now() + ms).toISOString();
  const scheduled = await send({ activateAt: soon(1_500) });
  expect(scheduled.status).toBe('scheduled');
  const expiring = await send({ expiresAt: soon(1_500) });
  const late = await send({ dueAt: soon(1_000) });

  const [routed] = await f.client.waitForNotifications(1, WAIT_MS, (n) => of(scheduled.contactId)(n) && n.event === 'routed');
  const [expired] = await f.client.waitForNotifications(1, WAIT_MS, (n) => of(expiring.contactId)(n) && n.event === 'expired');
  const [overdue] = await f.client.waitForNotifications(1, WAIT_MS, (n) => of(late.contactId)(n) && n.event === 'overdue');
  expect(routed.routingKey).toBe(`routed.${SOURCE}`);
  expect(expired.reason).toBe('expires-at');
  expect(overdue.dueAt).toBeDefined();
  await outboxEmpty();
  expect(f.client.notifications.filter(of(late.contactId)).map((n) => n.event)).toEqual(['overdue']);
  expect(f.client.notifications.filter(of(expiring.contactId)).map((n) => n.event)).toEqual(['expired']);
});

it('a sender bound to its own source hears nothing of another source; nobody bound is not an error', async () => {
  const other = newExternalId('OTHER');
  await f.client.publishWorkItem(workItemXml({ externalId: other, source: 'voicemail', entrance: 'loans' }), {
    replyTo: true,
    correlationId: other,
    routingKey: 'workitem.voicemail',
  });
  const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.properties.correlationId === other);
  await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === r.contactId);
  await f.client.publishControl('contact.ended', { contactId: r.contactId });
  await waitUntil(
    async () => (await httpRequest(`${f.svc.baseUrl}/metrics`)).body.toString().includes('workitem_notifications_total{event="ended"}'),
    {
      timeoutMs: WAIT_MS,
      describe: 'an ended notification published',
    },
  );
  await outboxEmpty();
  expect(f.client.notifications.filter((n) => n.contactId === r.contactId)).toEqual([]);
  expect(f.svc.jsonLogs().filter((l) => l.level === 'error')).toEqual([]);
});
