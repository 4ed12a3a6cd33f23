import { CLAIM_LEASE_MS, fireDueTimers } from '../../../src/application/due-timers';
import { handleControlEvent } from '../../../src/application/handle-control-event';
import { ENTRANCE, testbed, type Testbed } from './fakes/testbed';
import { cidOf, closeEntrance, item, send, update } from './fakes/messages';

/** Task types part 3: an unfinished item's dueAt passing makes it overdue once (history, metric, gauge). */

const steps = (tb: Testbed, cid: string) => (tb.history.items.get(cid)?.steps ?? []).map((s) => s.step);
const overdueNow = async (tb: Testbed) => (await tb.store.countOverdue([ENTRANCE]))[ENTRANCE];
const end = (tb: Testbed, contactId: string) => handleControlEvent(tb.d, { type: 'contact.ended', contactId }, 'test-owner');

describe('overdue', () => {
  it('fires once at dueAt: an `overdue` step, workitem_overdue_total, the overdue gauge; End takes it off the gauge', async () => {
    const tb = testbed();
    const dueAt = tb.clock.iso(60_000);
    const cid = cidOf((await send(tb, item(1, { dueAt }))).outcome);
    tb.clock.advance(59_999);
    expect(await fireDueTimers(tb.d)).toMatchObject({ overdue: 0, nextDueMs: tb.clock.now() + 1 });
    expect(await overdueNow(tb)).toBe(0);
    tb.clock.advance(1);
    expect(await fireDueTimers(tb.d)).toMatchObject({ overdue: 1, failed: 0, nextDueMs: null });
    expect(tb.history.items.get(cid)?.steps.at(-1)).toMatchObject({ step: 'overdue', reason: `dueAt ${dueAt} passed` });
    expect(tb.metrics.overdues).toEqual([{ entrance: ENTRANCE, taskType: 'callback' }]);
    expect(await overdueNow(tb)).toBe(1);
    tb.clock.advance(3_600_000);
    expect(await fireDueTimers(tb.d)).toMatchObject({ overdue: 0 });
    expect(steps(tb, cid).filter((s) => s === 'overdue')).toHaveLength(1);
    await end(tb, cid);
    expect(await overdueNow(tb)).toBe(0);
  });

  it('not for an item finished before its dueAt', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1, { dueAt: tb.clock.iso(1_000) }))).outcome);
    await end(tb, cid);
    tb.clock.advance(2_000);
    expect(await fireDueTimers(tb.d)).toMatchObject({ overdue: 0, nextDueMs: null });
    expect(tb.metrics.overdues).toEqual([]);
  });

  it('parked and scheduled items become overdue too (they are unfinished)', async () => {
    const tb = testbed();
    await send(tb, item(1, { dueAt: tb.clock.iso(1_000), activateAt: tb.clock.iso(10_000) }));
    await closeEntrance(tb);
    await send(tb, item(2, { dueAt: tb.clock.iso(1_000) }));
    tb.clock.advance(1_000);
    expect(await fireDueTimers(tb.d)).toMatchObject({ overdue: 2 });
    expect(await overdueNow(tb)).toBe(2);
  });

  it('a dueAt already past on arrival is overdue at the first poll', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1, { dueAt: tb.clock.iso(-5_000) }))).outcome);
    expect(await fireDueTimers(tb.d)).toMatchObject({ overdue: 1 });
    expect(steps(tb, cid)).toContain('overdue');
  });

  it('an update moving dueAt later re-arms it: not overdue until the new dueAt, then once more', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1, { dueAt: tb.clock.iso(1_000) }))).outcome);
    // Moved later before it passed: nothing at the old time.
    await send(tb, update(1, { dueAt: tb.clock.iso(5_000) }), { messageId: 'u1' });
    tb.clock.advance(1_000);
    expect(await fireDueTimers(tb.d)).toMatchObject({ overdue: 0, nextDueMs: tb.clock.now() + 4_000 });
    tb.clock.advance(4_000);
    expect(await fireDueTimers(tb.d)).toMatchObject({ overdue: 1 });
    // Overdue, then moved later again: off the gauge until the new dueAt passes.
    await send(tb, update(1, { dueAt: tb.clock.iso(10_000) }), { messageId: 'u2' });
    expect(await overdueNow(tb)).toBe(0);
    tb.clock.advance(10_000);
    expect(await fireDueTimers(tb.d)).toMatchObject({ overdue: 1 });
    expect(await overdueNow(tb)).toBe(1);
    // Overdue, and moved to another time already past: stays overdue, not counted again.
    await send(tb, update(1, { dueAt: tb.clock.iso(-1_000) }), { messageId: 'u3' });
    expect(await fireDueTimers(tb.d)).toMatchObject({ overdue: 0 });
    expect(await overdueNow(tb)).toBe(1);
    expect(steps(tb, cid).filter((s) => s === 'overdue')).toHaveLength(2);
    expect(tb.metrics.overdues).toHaveLength(2);
  });

  it('two pollers over one store fire each item once', async () => {
    const tb = testbed();
    for (let n = 1; n <= 5; n++) await send(tb, item(n, { dueAt: tb.clock.iso(1_000) }));
    tb.clock.advance(1_000);
    const other = { ...tb.d, instanceId: 'other-instance' };
    const [a, b] = await Promise.all([fireDueTimers(tb.d), fireDueTimers(other)]);
    expect(a.overdue + b.overdue).toBe(5);
    expect(await fireDueTimers(tb.d)).toMatchObject({ overdue: 0 });
    expect(tb.metrics.overdues).toHaveLength(5);
  });

  it('a claim not finished (its instance died) is taken over after the lease, once', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1, { dueAt: tb.clock.iso(1_000) }))).outcome);
    tb.clock.advance(1_000);
    // The instance claimed it and died before its steps.
    expect((await tb.store.claimDueOverdue(tb.clock.now(), 10, CLAIM_LEASE_MS)).claims).toHaveLength(1);
    expect(await fireDueTimers(tb.d)).toMatchObject({ overdue: 0 });
    expect(await overdueNow(tb)).toBe(1);
    tb.clock.advance(CLAIM_LEASE_MS);
    expect(await fireDueTimers(tb.d)).toMatchObject({ overdue: 1 });
    expect(await fireDueTimers(tb.d)).toMatchObject({ overdue: 0 });
    expect(steps(tb, cid).filter((s) => s === 'overdue')).toHaveLength(1);
  });

  it('End counts the service level: time to end and whether it ended at or before its dueAt', async () => {
    const tb = testbed();
    const early = cidOf((await send(tb, item(1, { dueAt: tb.clock.iso(10_000) }))).outcome);
    const onTime = cidOf((await send(tb, item(2, { dueAt: tb.clock.iso(10_000) }))).outcome);
    const late = cidOf((await send(tb, item(3, { dueAt: tb.clock.iso(10_000) }))).outcome);
    const none = cidOf((await send(tb, item(4))).outcome);
    tb.clock.advance(4_000);
    await end(tb, early);
    tb.clock.advance(6_000);
    await end(tb, onTime);
    await fireDueTimers(tb.d);
    tb.clock.advance(1);
    await fireDueTimers(tb.d);
    expect(await tb.store.countOverdueByTaskType()).toEqual([{ taskType: 'callback', entrance: ENTRANCE, count: 1 }]);
    await end(tb, late);
    await end(tb, none);
    expect(await tb.store.countOverdueByTaskType()).toEqual([]);
    expect(tb.metrics.ends).toEqual([
      { entrance: ENTRANCE, taskType: 'callback', timeToEndMs: 4_000, due: 'before' },
      { entrance: ENTRANCE, taskType: 'callback', timeToEndMs: 10_000, due: 'before' },
      { entrance: ENTRANCE, taskType: 'callback', timeToEndMs: 10_001, due: 'after' },
      { entrance: ENTRANCE, taskType: 'callback', timeToEndMs: 10_001, due: 'none' },
    ]);
    // The history's received and ended steps are the time the store counted.
    const h = tb.history.items.get(early)?.steps ?? [];
    const at = (step: string) => Date.parse(h.find((x) => x.step === step)!.at);
    expect(at('ended') - at('received')).toBe(4_000);
  });
});
