import { fireDueTimers } from '../../../src/application/due-timers';
import { handleControlEvent } from '../../../src/application/handle-control-event';
import { testbed, type Testbed } from './fakes/testbed';
import { cancel, cidOf, item, send } from './fakes/messages';

/** Contract 1.2 "Duplicates after the end, and restart", over the in-memory store. */

const end = (tb: Testbed, contactId: string) => handleControlEvent(tb.d, { type: 'contact.ended', contactId }, 'test-owner');
const created = (tb: Testbed) => tb.messaging.events.filter((e) => e.type === 'contact.created').map((e) => e.contactId);
const lastReceipt = (tb: Testbed) => tb.messaging.receipts.at(-1)?.receipt;

describe('the same (source, externalId) after its item finished', () => {
  it.each([
    ['ended', (tb: Testbed, cid: string) => end(tb, cid)],
    ['cancelled', async (tb: Testbed) => void (await send(tb, cancel(1)))],
    [
      'expired',
      async (tb: Testbed) => {
        tb.clock.advance(61_000);
        await fireDueTimers(tb.d);
      },
    ],
  ] as const)('%s, then sent again: duplicate with the old contactId and state, no contact', async (state, finish) => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1, state === 'expired' ? { expiresAt: tb.clock.iso(60_000) } : {}))).outcome);
    await finish(tb, cid);
    expect(tb.store.tombstones.get(cid)).toBe(state);
    tb.clock.advance(3600_000);
    expect((await send(tb, item(1))).outcome).toEqual({ kind: 'duplicate', contactId: cid });
    expect(lastReceipt(tb)).toMatchObject({ status: 'duplicate', contactId: cid, externalId: 'CASE-1', state });
    expect(created(tb)).toEqual([cid]);
    expect(tb.metrics.outcomes().at(-1)).toBe('duplicate');
    const steps = (await tb.history.read(cid))?.steps ?? [];
    expect(steps.at(-1)).toMatchObject({ step: 'duplicate' });
  });

  it('after dedupe.afterEndSeconds it is a new item', async () => {
    const tb = testbed({ afterEndSeconds: 60 });
    const cid = cidOf((await send(tb, item(1))).outcome);
    await end(tb, cid);
    tb.clock.advance(59_000);
    expect((await send(tb, item(1))).outcome).toEqual({ kind: 'duplicate', contactId: cid });
    tb.clock.advance(1_000);
    const again = await send(tb, item(1));
    expect(again.outcome.kind).toBe('accepted');
    expect(cidOf(again.outcome)).not.toBe(cid);
  });

  it('restart="true" with no unfinished item: a new contact (new contactId), receipt as for a new item', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1))).outcome);
    await end(tb, cid);
    const restarted = await send(tb, item(1, { restart: true }));
    expect(restarted.outcome.kind).toBe('accepted');
    const cid2 = cidOf(restarted.outcome);
    expect(cid2).not.toBe(cid);
    expect(lastReceipt(tb)).toMatchObject({ status: 'accepted', contactId: cid2 });
    expect(lastReceipt(tb)).not.toHaveProperty('state');
    expect(created(tb)).toEqual([cid, cid2]);
    // While the restarted item is unfinished, a resend is a plain duplicate of it (restart or not).
    expect((await send(tb, item(1))).outcome).toEqual({ kind: 'duplicate', contactId: cid2 });
    expect((await send(tb, item(1, { restart: true }))).outcome).toEqual({ kind: 'duplicate', contactId: cid2 });
    expect(lastReceipt(tb)).not.toHaveProperty('state');
    // Its end replaces the finished entry: the next resend names the restarted item.
    await end(tb, cid2);
    expect((await send(tb, item(1))).outcome).toEqual({ kind: 'duplicate', contactId: cid2 });
    expect(created(tb)).toEqual([cid, cid2]);
  });

  it('restart="true" while the item is unfinished is a plain duplicate (no state)', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1))).outcome);
    expect((await send(tb, item(1, { restart: true }))).outcome).toEqual({ kind: 'duplicate', contactId: cid });
    expect(lastReceipt(tb)).toMatchObject({ status: 'duplicate', contactId: cid });
    expect(lastReceipt(tb)).not.toHaveProperty('state');
    expect(created(tb)).toEqual([cid]);
  });

  it('dedupe.afterEndSeconds 0: the 1.0 behaviour, a resend after the end is a new contact', async () => {
    const tb = testbed({ afterEndSeconds: 0 });
    const cid = cidOf((await send(tb, item(1))).outcome);
    await end(tb, cid);
    const again = await send(tb, item(1));
    expect(again.outcome.kind).toBe('accepted');
    expect(cidOf(again.outcome)).not.toBe(cid);
  });
});
