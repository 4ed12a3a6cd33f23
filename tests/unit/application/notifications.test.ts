import { handleControlEvent, type ControlEvent } from '../../../src/application/handle-control-event';
import { relayNotifications } from '../../../src/application/notification-relay';
import { cidOf, closeEntrance, item, openEntrance, send } from './fakes/messages';
import { testbed, type Testbed } from './fakes/testbed';

/** Contract 1.2 lifecycle notifications over the in-memory fakes: what each transition writes, and the relay. */

const control = (tb: Testbed, ev: ControlEvent) => handleControlEvent(tb.d, ev, 'test-owner');
const relay = (tb: Testbed) => relayNotifications(tb.d);
const events = (tb: Testbed, cid: string) => tb.messaging.notifications.filter((n) => n.contactId === cid).map((n) => n.event);

describe('lifecycle notifications', () => {
  it('an item accepted at once: only `ended`, with the disposition; the outbox is empty after the relay', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1))).outcome);
    await control(tb, { type: 'contact.ended', contactId: cid, disposition: { code: 'resolved', text: 'done' } });
    expect(await relay(tb)).toMatchObject({ published: 1, failed: 0 });
    expect(tb.messaging.notifications).toEqual([
      expect.objectContaining({ id: `${cid}.1.ended`, event: 'ended', contactId: cid, disposition: { code: 'resolved', text: 'done' } }),
    ]);
    expect(tb.metrics.notifications).toEqual(['ended']);
    expect(await tb.store.countNotifications()).toBe(0);
  });

  it('parked, then routed by the reopen: `routed` only once its event is confirmed; contact.rejected: `buffered`', async () => {
    const tb = testbed();
    await closeEntrance(tb);
    const cid = cidOf((await send(tb, item(1))).outcome);
    await relay(tb);
    expect(events(tb, cid)).toEqual([]); // the receipt said buffered
    await openEntrance(tb);
    await relay(tb);
    expect(events(tb, cid)).toEqual(['routed']);
    await control(tb, { type: 'contact.rejected', contactId: cid, reason: 'no agent' });
    await relay(tb);
    expect(tb.messaging.notifications.at(-1)).toMatchObject({ event: 'buffered', reason: 'rejected' });
  });

  it('a routing whose event nobody takes withdraws its armed `routed`: the sender hears nothing', async () => {
    const tb = testbed();
    await closeEntrance(tb);
    const cid = cidOf((await send(tb, item(1))).outcome);
    tb.messaging.noListener.add('support');
    tb.messaging.noListener.add('loans');
    await openEntrance(tb);
    tb.clock.advance(120_000);
    await relay(tb);
    expect(events(tb, cid)).toEqual([]);
    expect(await tb.store.countNotifications()).toBe(0);
  });

  it('a publish the broker does not confirm stays in the outbox and goes out after the lease, with the same id', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1))).outcome);
    await control(tb, { type: 'contact.ended', contactId: cid });
    tb.messaging.failing.add('publishNotification');
    expect((await relay(tb)).failed).toBe(1);
    tb.messaging.failing.delete('publishNotification');
    expect((await relay(tb)).published).toBe(0); // still leased
    tb.clock.advance(tb.d.cfg.notifications.leaseSeconds * 1000);
    expect((await relay(tb)).published).toBe(1);
    expect(tb.messaging.notifications.map((n) => n.id)).toEqual([`${cid}.1.ended`]);
  });
});
