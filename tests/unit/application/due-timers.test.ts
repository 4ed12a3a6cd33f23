import { CLAIM_LEASE_MS, fireDueTimers } from '../../../src/application/due-timers';
import { ENTRANCE, testbed } from './fakes/testbed';
import { cidOf, closeEntrance, item, send } from './fakes/messages';

/** Contract 1.1 timers: `<expiresAt>` and `<activateAt>`, claimed from the store and fired once. */

describe('due timers', () => {
  it('an expiresAt that passes expires the item: contact.expired (expires-at), EXPIRED to its sender, error copy', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1, { expiresAt: tb.clock.iso(60_000) }))).outcome);
    expect(await fireDueTimers(tb.d)).toEqual({
      expired: 0,
      activated: 0,
      overdue: 0,
      resumed: 0,
      escalated: 0,
      failed: 0,
      nextDueMs: tb.clock.now() + 60_000,
    });
    tb.clock.advance(60_000);
    expect(await fireDueTimers(tb.d)).toMatchObject({ expired: 1, failed: 0, nextDueMs: null });
    expect(tb.messaging.events[1]).toMatchObject({ type: 'contact.expired', contactId: cid, reason: 'expires-at' });
    expect(tb.messaging.receipts.at(-1)).toMatchObject({
      target: { replyTo: 'sender-replies', correlationId: 'corr-1' },
      receipt: { status: 'rejected', contactId: cid, error: { code: 'EXPIRED', path: '/workItem/expiresAt' } },
    });
    expect(tb.messaging.errorCopies.map((c) => c.error.code)).toEqual(['EXPIRED']);
    expect(tb.store.tombstones.get(cid)).toBe('expired');
  });

  it('an activateAt in the future gives receipt scheduled and no event, until the timer routes the item', async () => {
    const tb = testbed();
    const { outcome } = await send(tb, item(1, { activateAt: tb.clock.iso(5_000) }));
    expect(outcome.kind).toBe('scheduled');
    expect(tb.messaging.events).toEqual([]);
    tb.clock.advance(5_000);
    expect(await fireDueTimers(tb.d)).toMatchObject({ activated: 1 });
    expect(tb.messaging.events).toMatchObject([{ type: 'contact.created', contactId: cidOf(outcome), replayed: false }]);
    expect(tb.messaging.receiptStatuses()).toEqual(['scheduled']);
  });

  it('an activation at a closed entrance parks the item (its record as the parked message)', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1, { activateAt: tb.clock.iso(5_000) }))).outcome);
    await closeEntrance(tb);
    tb.clock.advance(5_000);
    await fireDueTimers(tb.d);
    expect(tb.store.parkedIds(ENTRANCE)).toEqual([cid]);
    expect(tb.messaging.parkQueue(ENTRANCE)).toEqual([cid]);
    expect(tb.messaging.events).toEqual([]);
  });

  it('an expiry whose event is not confirmed stays claimed and is fired once, after its lease, by the next round', async () => {
    const tb = testbed();
    await send(tb, item(1, { expiresAt: tb.clock.iso(1_000) }));
    tb.clock.advance(1_000);
    tb.messaging.failing.add('publishEvent');
    expect(await fireDueTimers(tb.d)).toMatchObject({ expired: 0, failed: 1 });
    tb.messaging.failing.clear();
    expect(await fireDueTimers(tb.d)).toMatchObject({ expired: 0, failed: 0 }); // still leased
    tb.clock.advance(CLAIM_LEASE_MS);
    expect(await fireDueTimers(tb.d)).toMatchObject({ expired: 1 });
    expect(await fireDueTimers(tb.d)).toMatchObject({ expired: 0 });
    expect(tb.messaging.eventTypes()).toEqual(['contact.created', 'contact.expired']);
  });
});
