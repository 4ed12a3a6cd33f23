import * as amqp from 'amqplib';
import type { ItemHistoryView } from '../../src/ports/item-history';
import { amqpUrl } from '../helpers/broker';
import { Fixture } from '../helpers/fixture';
import { httpRequest } from '../helpers/http';
import { newExternalId, workItemXml } from '../helpers/work-items';
import { sleep, waitUntil } from '../helpers/wait';

/**
 * Issue 22 part 1 (contract 1.2 "Back-pressure"): a contact-center queue that is full (`x-max-length`,
 * `x-overflow: reject-publish`) makes the broker nack the contact event. That is "cannot be placed", not a broken
 * channel: the item is parked (receipt `buffered`), counted in workitem_refused_events_total, retried after the park
 * TTL; other entrances keep flowing, nothing is requeued in a loop, nothing reaches the error queue, no consumer pauses.
 */
describe('a full contact-center queue', () => {
  // The stand-in contact center of the fixture listens for `support`; `loans` goes only to the full queue below.
  const f = new Fixture({ config: { park: { retrySeconds: 2 } } }, 'contact.*.support');
  let conn: amqp.ChannelModel;
  let ch: amqp.Channel;
  const FULL_QUEUE = 'cc.loans.full';

  beforeAll(async () => {
    await f.setup();
    conn = await amqp.connect(amqpUrl(f.vhost));
    ch = await conn.createChannel();
    await ch.assertQueue(FULL_QUEUE, { durable: true, arguments: { 'x-max-length': 3, 'x-overflow': 'reject-publish' } });
    await ch.bindQueue(FULL_QUEUE, 'contact.events', 'contact.created.loans');
  }, 60_000);
  afterAll(async () => {
    await conn?.close().catch(() => undefined);
    await f.teardown();
  });

  async function metric(name: string, entrance: string): Promise<number> {
    const text = (await httpRequest(`${f.svc.baseUrl}/metrics`)).body.toString();
    const m = new RegExp(`^${name}\\{entrance="${entrance}"\\} (\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  }

  it('parks what the broker refuses, keeps other entrances flowing, retries slowly, and routes each item once there is room', async () => {
    const loans: string[] = [];
    const support: string[] = [];
    for (let i = 0; i < 8; i++) {
      const l = newExternalId(`FULL${i}`);
      const s = newExternalId(`OTHER${i}`);
      loans.push(l);
      support.push(s);
      await f.client.publishWorkItem(workItemXml({ externalId: l, entrance: 'loans' }), { replyTo: true });
      await f.client.publishWorkItem(workItemXml({ externalId: s, entrance: 'support' }), { replyTo: true });
    }
    // Every message gets its receipt at once: 3 loans fit, 5 are refused and parked; support is untouched.
    const receipts = await f.client.waitForReceipts(16, 15_000, (r) => [...loans, ...support].includes(r.externalId ?? ''));
    const statusOf = (ids: string[]) => receipts.filter((r) => ids.includes(r.externalId ?? '')).map((r) => r.status);
    expect(statusOf(support)).toEqual(Array(8).fill('accepted'));
    expect(statusOf(loans).sort()).toEqual([...Array(3).fill('accepted'), ...Array(5).fill('buffered')]);
    await f.client.waitForEvents(8, 10_000, (e) => support.includes(e.event.externalId));
    expect(await metric('workitem_refused_events_total', 'loans')).toBeGreaterThanOrEqual(5);
    expect(await metric('workitem_unroutable_events_total', 'loans')).toBe(0);
    expect((await f.entrance('loans')).parked).toBe(5);

    // Nothing loops: the inbound queue is empty, nothing on the error queue, no consumer paused, and while the queue
    // stays full the parked items are tried about once per park TTL (2 s), not in a hot loop.
    expect((await f.client.checkQueue('workitem.inbound'))?.messageCount).toBe(0);
    const refusedBefore = await metric('workitem_refused_events_total', 'loans');
    await sleep(6000);
    const retries = (await metric('workitem_refused_events_total', 'loans')) - refusedBefore;
    expect(retries).toBeLessThanOrEqual(5 * 4);
    expect(f.client.errors).toHaveLength(0);
    expect(f.svc.logs.filter((l) => l.includes('consumer paused'))).toEqual([]);
    expect(
      f.svc.logs.filter((l) => l.includes('replacing the publish channel') || l.includes('publish channel is replaced')).length,
    ).toBeLessThanOrEqual(2);
    const refusedReceipt = receipts.find((r) => r.status === 'buffered')!;
    const history = await f.api<ItemHistoryView>(`/api/items/${refusedReceipt.contactId}/history`);
    expect(history.steps.map((s) => [s.step, s.reason])).toContainEqual([
      'buffered',
      "the broker refused the event (the contact center's queue is full)",
    ]);

    // Room again: the contact center takes what is in its queue; each parked item arrives once, within a few TTLs.
    const seen: string[] = [];
    const roomAt = Date.now();
    await ch.consume(FULL_QUEUE, (m) => {
      if (!m) return;
      seen.push((JSON.parse(m.content.toString()) as { contactId: string }).contactId);
      ch.ack(m);
    });
    const ids = receipts.filter((r) => loans.includes(r.externalId ?? '')).map((r) => r.contactId ?? '');
    await waitUntil(() => ids.every((id) => seen.includes(id)), { timeoutMs: 20_000, describe: 'every loans item delivered' });
    console.log(
      `full queue: 5 of 8 refused and parked, ${retries} refusal(s) in 6 s while full (park retry 2 s); all delivered ${Date.now() - roomAt} ms after the queue had room`,
    );
    await waitUntil(async () => (await f.entrance('loans')).parked === 0, { timeoutMs: 5000, describe: 'loans parked 0' });
    await sleep(1000);
    expect([...new Set(seen)].sort()).toEqual([...ids].sort());
    expect(seen.length).toBe(ids.length);
    expect(f.client.errors).toHaveLength(0);
  }, 90_000);
});
