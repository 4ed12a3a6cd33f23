import { Fixture } from '../helpers/fixture';
import { httpRequest } from '../helpers/http';
import { newExternalId, workItemXml } from '../helpers/work-items';
import { sleep, waitUntil } from '../helpers/wait';

/**
 * Contract: an event no queue takes is an error, not a success — the item is parked like one for a closed
 * entrance and retried after the park TTL, never acked as delivered, never spun in a hot requeue loop.
 * Here the stand-in contact center listens for `loans` only.
 */
describe('events nobody listens for', () => {
  const f = new Fixture({ config: { entrances: { loans: {}, support: {}, social: {} }, park: { retrySeconds: 1 } } }, 'contact.*.loans');
  beforeAll(() => f.setup(), 60_000);
  afterAll(() => f.teardown());

  async function unroutableCount(entrance: string): Promise<number> {
    const text = (await httpRequest(`${f.svc.baseUrl}/metrics`)).body.toString();
    const m = new RegExp(`^workitem_unroutable_events_total\\{entrance="${entrance}"\\} (\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  }

  it('parks the item (receipt buffered), retries it slowly, and routes it once a listener binds', async () => {
    const ext = newExternalId('NOLISTEN');
    await f.client.publishWorkItem(workItemXml({ externalId: ext, entrance: 'support' }), { replyTo: true });
    const [receipt] = await f.client.waitForReceipts(1, 10_000, (r) => r.externalId === ext);
    expect(receipt.status).toBe('buffered');
    await waitUntil(async () => (await f.entrance('support')).parked === 1, { timeoutMs: 5000, describe: 'support parked 1' });
    expect((await f.client.checkQueue('workitem.inbound'))?.messageCount).toBe(0);

    // Retried about once per park TTL (1 s here), not in a hot loop.
    const before = await unroutableCount('support');
    await sleep(3000);
    const tries = (await unroutableCount('support')) - before;
    expect(tries).toBeLessThanOrEqual(6);

    await f.client.bindEvents('contact.*.support');
    const [event] = await f.client.waitForEvents(1, 10_000, (e) => e.event.externalId === ext);
    expect(event.event.contactId).toBe(receipt.contactId);
    expect(event.routingKey).toBe('contact.created.support');
    await waitUntil(async () => (await f.entrance('support')).parked === 0, { timeoutMs: 5000, describe: 'support parked 0' });
  });

  it('a reopen with nobody listening does not spin; items leave oldest first once someone listens', async () => {
    await f.setEntrance('social', false);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const ext = newExternalId(`SOC${String(i).padStart(2, '0')}`);
      ids.push(ext);
      await f.client.publishWorkItem(workItemXml({ externalId: ext, entrance: 'social' }), { replyTo: true });
    }
    await f.client.waitForReceipts(20, 10_000, (r) => ids.includes(r.externalId ?? '') && r.status === 'buffered');
    const before = await unroutableCount('social');
    await f.setEntrance('social', true);
    await sleep(3000);
    // One flush attempt plus about one retry round per TTL for 20 items: bounded, not a hot loop.
    expect((await unroutableCount('social')) - before).toBeLessThan(20 * 6);
    expect((await f.entrance('social')).parked).toBe(20);

    await f.client.bindEvents('contact.*.social');
    const events = await f.client.waitForEvents(20, 15_000, (e) => ids.includes(e.event.externalId));
    expect(events.map((e) => e.event.externalId)).toEqual(ids);
    await waitUntil(async () => (await f.entrance('social')).parked === 0, { timeoutMs: 5000, describe: 'social parked 0' });
  });
});
