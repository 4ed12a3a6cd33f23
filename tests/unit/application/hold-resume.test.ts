import { fireDueTimers } from '../../../src/application/due-timers';
import { operatorCancel, operatorHold, operatorResume } from '../../../src/application/operator-actions';
import { replayUnfinished } from '../../../src/application/replay-unfinished';
import type { ContactEvent } from '../../../src/domain/contact-event';
import { ENTRANCE, MAX_PARK_SECONDS, RETRY_SECONDS, testbed, type Testbed } from './fakes/testbed';
import {
  cancel,
  cidOf,
  closeEntrance,
  deliver,
  delivery,
  hold,
  item,
  openEntrance,
  parkItems,
  redelivery,
  resume,
  send,
  update,
} from './fakes/messages';

/** Contract 1.2 "Hold and resume" over the in-memory store: a sender's and an operator's hold and resume, and the until. */

const withdrawn = (tb: Testbed, contactId: string): ContactEvent[] =>
  tb.messaging.events.filter((e) => e.type === 'contact.withdrawn' && e.contactId === contactId);
const created = (tb: Testbed, contactId: string): ContactEvent[] =>
  tb.messaging.events.filter((e) => e.type === 'contact.created' && e.contactId === contactId);
const lastReceipt = (tb: Testbed) => tb.messaging.receipts.at(-1)?.receipt;

async function routed(tb: Testbed, n = 1, over = {}): Promise<string> {
  return cidOf((await send(tb, item(n, over))).outcome);
}

describe('holding a work item', () => {
  it('routed: contact.withdrawn (reason held), state held, receipt held, a history step; not counted as received', async () => {
    const tb = testbed();
    const cid = await routed(tb);
    const counted = tb.metrics.outcomes().length;
    const until = tb.clock.iso(3_600_000);
    const { outcome } = await send(tb, hold(1, { until, reason: 'waiting for documents' }));
    expect(outcome).toEqual({ kind: 'held', contactId: cid });
    expect(withdrawn(tb, cid)).toEqual([expect.objectContaining({ reason: 'held', entrance: ENTRANCE, externalId: 'CASE-1' })]);
    expect(tb.store.stateOf(cid)).toBe('held');
    expect(tb.store.marksOf(cid)).toMatchObject({ withdrawing: false });
    expect(lastReceipt(tb)).toMatchObject({ status: 'held', contactId: cid, externalId: 'CASE-1', entrance: ENTRANCE });
    expect(tb.history.items.get(cid)?.steps.at(-1)).toMatchObject({
      step: 'held',
      reason: 'waiting for documents',
      until,
      by: 'sender',
      state: 'routed',
    });
    expect(tb.metrics.outcomes().slice(counted)).toEqual([]);
    expect(tb.metrics.holds).toEqual([{ entrance: ENTRANCE, taskType: 'callback', by: 'sender' }]);
    expect((await tb.store.getItem(cid))?.held).toEqual({ from: 'routed', atMs: tb.clock.now(), until, reason: 'waiting for documents' });
  });

  it('parked: leaves the parked order; its parked message is settled quietly, never routed nor expired as parked too long', async () => {
    const tb = testbed();
    const [c1, c2] = await parkItems(tb, 2);
    await send(tb, hold(1));
    expect(tb.messaging.events).toEqual([]);
    expect(tb.store.parkedIds(ENTRANCE)).toEqual([c2]);
    expect(lastReceipt(tb)).toMatchObject({ status: 'held', contactId: c1 });
    tb.clock.advance((MAX_PARK_SECONDS + 1) * 1000);
    expect(await deliver(tb, tb.messaging.takeParked(ENTRANCE))).toEqual({ kind: 'dropped', reason: 'held' });
    expect(tb.store.stateOf(c1)).toBe('held');
    await openEntrance(tb);
    expect(created(tb, c1)).toEqual([]);
    expect(tb.store.stateOf(c1)).toBe('held');
  });

  it('scheduled: its activateAt passes with nothing routed; resumed before it, it is scheduled again', async () => {
    const tb = testbed();
    const early = cidOf((await send(tb, item(1, { activateAt: tb.clock.iso(60_000) }))).outcome);
    const late = cidOf((await send(tb, item(2, { activateAt: tb.clock.iso(600_000) }))).outcome);
    await send(tb, hold(1));
    await send(tb, hold(2));
    tb.clock.advance(120_000);
    expect(await fireDueTimers(tb.d)).toMatchObject({ activated: 0, resumed: 0 });
    expect(tb.messaging.events).toEqual([]);
    await send(tb, resume(1));
    expect(created(tb, early)).toEqual([expect.objectContaining({ resumed: true, replayed: false })]);
    await send(tb, resume(2));
    expect(tb.store.stateOf(late)).toBe('scheduled');
    expect(lastReceipt(tb)).toMatchObject({ status: 'resumed', contactId: late });
    tb.clock.advance(600_000);
    expect(await fireDueTimers(tb.d)).toMatchObject({ activated: 1 });
    expect(created(tb, late)).toEqual([expect.objectContaining({ resumed: true })]);
  });

  it('of a held item changes its until and reason only: no second contact.withdrawn, receipt held', async () => {
    const tb = testbed();
    const cid = await routed(tb);
    await send(tb, hold(1, { until: tb.clock.iso(60_000), reason: 'first' }));
    const { outcome } = await send(tb, hold(1, { reason: 'second' }));
    expect(outcome).toEqual({ kind: 'held', contactId: cid });
    expect(withdrawn(tb, cid)).toHaveLength(1);
    expect((await tb.store.getItem(cid))?.held).toMatchObject({ from: 'routed', reason: 'second' });
    expect((await tb.store.getItem(cid))?.held?.until).toBeUndefined();
    expect(tb.metrics.holds).toHaveLength(1);
    tb.clock.advance(120_000);
    expect(await fireDueTimers(tb.d)).toMatchObject({ resumed: 0 });
  });

  it('of an unknown or finished item is rejected NOT_FOUND with an error copy; counted received and rejected', async () => {
    const tb = testbed();
    await routed(tb);
    await send(tb, cancel(1));
    const { msg, outcome } = await send(tb, hold(1));
    expect(outcome).toEqual({ kind: 'rejected', code: 'NOT_FOUND' });
    expect(tb.messaging.errorCopies.at(-1)).toMatchObject({ msg, error: { code: 'NOT_FOUND', path: '/holdWorkItem/externalId' } });
    expect(tb.metrics.outcomes().slice(-2)).toEqual(['received', 'rejected']);
    expect((await send(tb, hold(9))).outcome).toEqual({ kind: 'rejected', code: 'NOT_FOUND' });
  });

  it('as another source: SENDER_NOT_ALLOWED', async () => {
    const tb = testbed();
    await routed(tb);
    const { outcome } = await send(tb, hold(1), { routingKey: 'workitem.other' });
    expect(outcome).toEqual({ kind: 'rejected', code: 'SENDER_NOT_ALLOWED' });
    expect(tb.messaging.errorCopies.at(-1)?.error.path).toBe('/holdWorkItem/source');
  });

  it('whose contact.withdrawn is not confirmed: retried; the redelivered hold publishes it (at least once), nothing else twice', async () => {
    const tb = testbed();
    const cid = await routed(tb);
    tb.messaging.failing.add('publishEvent');
    const first = delivery(tb.parser, hold(1));
    expect((await deliver(tb, first)).kind).toBe('retry');
    expect(tb.store.stateOf(cid)).toBe('held');
    expect(tb.store.marksOf(cid).withdrawing).toBe(true);
    tb.messaging.failing.clear();
    expect(await deliver(tb, redelivery(first))).toEqual({ kind: 'held', contactId: cid });
    expect(withdrawn(tb, cid)).toHaveLength(1);
    expect(tb.store.marksOf(cid).withdrawing).toBe(false);
    expect(tb.history.names(cid).filter((s) => s === 'held')).toHaveLength(1);
  });

  it('redelivered after a resume (its first handling died before the ack): nothing is held again', async () => {
    const tb = testbed();
    const cid = await routed(tb);
    const first = delivery(tb.parser, hold(1));
    await deliver(tb, first);
    await send(tb, resume(1));
    expect(await deliver(tb, redelivery(first))).toEqual({ kind: 'held', contactId: cid });
    expect(tb.store.stateOf(cid)).toBe('routed');
    expect(lastReceipt(tb)).toMatchObject({ status: 'held' });
  });
});

describe('resuming a held item', () => {
  it('routed again as a new arrival: contact.created with resumed: true and the same contactId; receipt resumed', async () => {
    const tb = testbed();
    const cid = await routed(tb);
    const seq = (await tb.store.getItem(cid))?.seq ?? 0;
    await send(tb, hold(1));
    const { outcome } = await send(tb, resume(1));
    expect(outcome).toEqual({ kind: 'resumed', contactId: cid });
    expect(created(tb, cid)).toEqual([
      expect.objectContaining({ replayed: false }),
      expect.objectContaining({ resumed: true, replayed: false, contactId: cid }),
    ]);
    expect(created(tb, cid)[0]).not.toHaveProperty('resumed');
    expect(tb.store.stateOf(cid)).toBe('routed');
    expect((await tb.store.getItem(cid))?.seq).toBeGreaterThan(seq);
    expect(tb.store.marksOf(cid)).toEqual({ withdrawing: false, resumed: false, placing: false });
    expect(lastReceipt(tb)).toMatchObject({ status: 'resumed', contactId: cid });
    expect(tb.history.items.get(cid)?.steps.at(-1)).toMatchObject({ step: 'resumed', by: 'sender', state: 'routed' });
    expect(tb.metrics.resumes).toEqual([{ entrance: ENTRANCE, taskType: 'callback', by: 'sender' }]);
  });

  it('at a closed entrance: parked (a parked message), then routed with resumed: true when it opens', async () => {
    const tb = testbed();
    const cid = await routed(tb);
    await send(tb, hold(1));
    await closeEntrance(tb);
    await send(tb, resume(1));
    expect(tb.store.stateOf(cid)).toBe('parked');
    expect(tb.messaging.parkQueue(ENTRANCE)).toEqual([cid]);
    expect(lastReceipt(tb)).toMatchObject({ status: 'resumed' });
    await openEntrance(tb);
    expect(created(tb, cid).at(-1)).toMatchObject({ resumed: true });
    expect(tb.store.marksOf(cid)).toMatchObject({ resumed: false, placing: false });
  });

  it('of an item that is not held: rejected NOT_HELD (unknown: NOT_FOUND), nothing changes', async () => {
    const tb = testbed();
    const cid = await routed(tb);
    const { outcome } = await send(tb, resume(1));
    expect(outcome).toEqual({ kind: 'rejected', code: 'NOT_HELD' });
    const copy = tb.messaging.errorCopies.at(-1);
    expect(copy?.error).toMatchObject({ code: 'NOT_HELD', path: '/resumeWorkItem/externalId' });
    expect(copy?.error.message).toMatch(/is not held \(it is routed\)/);
    expect(lastReceipt(tb)).toMatchObject({ status: 'rejected', contactId: cid });
    expect(created(tb, cid)).toHaveLength(1);
    expect((await send(tb, resume(7))).outcome).toEqual({ kind: 'rejected', code: 'NOT_FOUND' });
  });

  it('whose contact.created is not confirmed: the redelivered resume publishes it again, same contactId', async () => {
    const tb = testbed();
    const cid = await routed(tb);
    await send(tb, hold(1));
    tb.messaging.failing.add('publishEvent');
    const first = delivery(tb.parser, resume(1));
    expect((await deliver(tb, first)).kind).toBe('retry');
    expect(tb.store.stateOf(cid)).toBe('routed');
    expect(tb.store.marksOf(cid)).toMatchObject({ resumed: true, placing: true });
    tb.messaging.failing.clear();
    expect(await deliver(tb, redelivery(first))).toEqual({ kind: 'resumed', contactId: cid });
    expect(created(tb, cid).at(-1)).toMatchObject({ resumed: true, contactId: cid });
    expect(tb.store.marksOf(cid)).toMatchObject({ resumed: false, placing: false });
    // Once placed, another resume is NOT_HELD; this one again (redelivered after its ack was lost) still `resumed`.
    expect(await deliver(tb, redelivery(first))).toEqual({ kind: 'resumed', contactId: cid });
    expect((await send(tb, resume(1))).outcome).toEqual({ kind: 'rejected', code: 'NOT_HELD' });
  });

  it('by its until: within the poller round, once; a claim whose instance died is taken over and publishes again', async () => {
    const tb = testbed();
    const cid = await routed(tb);
    await send(tb, hold(1, { until: tb.clock.iso(30_000) }));
    expect(await fireDueTimers(tb.d)).toMatchObject({ resumed: 0, nextDueMs: tb.clock.now() + 30_000 });
    tb.clock.advance(30_000);
    tb.messaging.failing.add('publishEvent');
    expect(await fireDueTimers(tb.d)).toMatchObject({ resumed: 0, failed: 1 });
    tb.messaging.failing.clear();
    expect(await fireDueTimers(tb.d)).toMatchObject({ resumed: 0, failed: 0 });
    tb.clock.advance(60_000);
    expect(await fireDueTimers(tb.d)).toMatchObject({ resumed: 1 });
    expect(created(tb, cid).at(-1)).toMatchObject({ resumed: true });
    expect(tb.history.items.get(cid)?.steps.at(-1)).toMatchObject({ step: 'resumed', by: 'until', state: 'routed' });
    tb.clock.advance(120_000);
    expect(await fireDueTimers(tb.d)).toMatchObject({ resumed: 0 });
    expect(created(tb, cid)).toHaveLength(2);
  });
});

describe('a held item otherwise', () => {
  it('is updated (stored, no event), cancelled (contact.withdrawn cancelled-by-sender) and expires (contact.expired)', async () => {
    const tb = testbed();
    const c1 = await routed(tb, 1);
    const c2 = await routed(tb, 2);
    const c3 = await routed(tb, 3, { expiresAt: tb.clock.iso(60_000) });
    for (const n of [1, 2, 3]) await send(tb, hold(n));
    expect((await send(tb, update(1, { priority: 9 }))).outcome).toEqual({ kind: 'updated', contactId: c1 });
    expect(tb.messaging.events.filter((e) => e.type === 'contact.updated')).toEqual([]);
    expect(tb.history.items.get(c1)?.steps.at(-1)).toMatchObject({ step: 'updated', state: 'held', reason: 'stored (held), no event' });
    await send(tb, resume(1));
    expect(created(tb, c1).at(-1)).toMatchObject({ priority: 9, resumed: true });
    expect((await send(tb, cancel(2))).outcome).toEqual({ kind: 'cancelled', contactId: c2 });
    expect(withdrawn(tb, c2).map((e) => (e as { reason: string }).reason)).toEqual(['held', 'cancelled-by-sender']);
    tb.clock.advance(60_000);
    expect(await fireDueTimers(tb.d)).toMatchObject({ expired: 1 });
    expect(tb.messaging.events.at(-1)).toMatchObject({ type: 'contact.expired', contactId: c3 });
    expect(tb.messaging.receipts.at(-1)?.receipt.error?.message).toMatch(/it was held/);
  });

  it('is not replayed on start or server.started, and is not flushed on reopen', async () => {
    const tb = testbed();
    const c1 = await routed(tb, 1);
    const c2 = await routed(tb, 2);
    await send(tb, hold(1));
    const r = await replayUnfinished(tb.d, 'server.started', 'me');
    expect(r.replayed).toBe(1);
    expect(
      tb.messaging.events.filter((e) => e.type === 'contact.created' && (e as { replayed: boolean }).replayed).map((e) => e.contactId),
    ).toEqual([c2]);
    expect(tb.store.stateOf(c1)).toBe('held');
  });

  it('a parked message of a held item coming back long after is settled quietly, even when it is a redelivery', async () => {
    const tb = testbed();
    const [c1] = await parkItems(tb, 1);
    await send(tb, hold(1));
    const parked = redelivery(tb.messaging.takeParked(ENTRANCE));
    tb.clock.advance(RETRY_SECONDS * 1000);
    expect(await deliver(tb, parked)).toEqual({ kind: 'dropped', reason: 'held' });
    expect(tb.messaging.events).toEqual([]);
    expect(tb.store.stateOf(c1)).toBe('held');
  });
});

describe('an operator (the dashboard)', () => {
  it('holds and resumes an item by its contactId; the history names the operator; no receipt', async () => {
    const tb = testbed();
    const cid = await routed(tb);
    const receipts = tb.messaging.receipts.length;
    expect(await operatorHold(tb.d, cid, 'alice', { until: tb.clock.iso(60_000), reason: 'customer asked' })).toEqual({
      ok: true,
      contactId: cid,
      state: 'held',
      message: `held (was routed) until ${tb.clock.iso(60_000)}`,
    });
    expect(withdrawn(tb, cid)).toHaveLength(1);
    expect(tb.history.items.get(cid)?.steps.at(-1)).toMatchObject({ step: 'held', by: 'dashboard:alice', reason: 'customer asked' });
    expect(await operatorResume(tb.d, cid, 'bob')).toMatchObject({ ok: true, state: 'routed' });
    expect(created(tb, cid).at(-1)).toMatchObject({ resumed: true });
    expect(tb.history.items.get(cid)?.steps.at(-1)).toMatchObject({ step: 'resumed', by: 'dashboard:bob' });
    expect(tb.messaging.receipts).toHaveLength(receipts);
    expect(tb.metrics.holds.map((h) => h.by)).toEqual(['operator']);
    expect(tb.metrics.resumes.map((h) => h.by)).toEqual(['operator']);
    expect(await operatorResume(tb.d, cid, 'bob')).toEqual({ ok: false, status: 409, error: 'not held (it is routed): nothing to resume' });
  });

  it('checks the hold terms as for a sender, and answers 404 for an item that is not unfinished', async () => {
    const tb = testbed();
    const cid = await routed(tb);
    expect(await operatorHold(tb.d, cid, 'alice', { until: 'tomorrow' })).toMatchObject({ ok: false, status: 400 });
    expect(await operatorHold(tb.d, cid, 'alice', { reason: 'x'.repeat(257) })).toMatchObject({ ok: false, status: 400 });
    expect(tb.store.stateOf(cid)).toBe('routed');
    const unknown = 'wi-00000000-0000-4000-8000-0000000000ff';
    expect(await operatorHold(tb.d, unknown, 'alice', {})).toMatchObject({ ok: false, status: 404 });
    expect(await operatorResume(tb.d, unknown, 'alice')).toMatchObject({ ok: false, status: 404 });
    expect(await operatorCancel(tb.d, unknown, 'alice')).toMatchObject({ ok: false, status: 404 });
  });

  it('cancels: contact.withdrawn cancelled-by-operator, finished as cancelled (a resend is a duplicate), not a withdrawn message', async () => {
    const tb = testbed();
    const cid = await routed(tb);
    await send(tb, hold(1));
    const counted = tb.metrics.outcomes().length;
    expect(await operatorCancel(tb.d, cid, 'alice')).toEqual({ ok: true, contactId: cid, state: 'cancelled', message: 'cancelled' });
    expect(withdrawn(tb, cid).at(-1)).toMatchObject({ reason: 'cancelled-by-operator' });
    expect(tb.store.tombstones.get(cid)).toBe('cancelled');
    expect(tb.store.operatorCancels).toEqual([cid]);
    expect(tb.history.items.get(cid)?.steps.at(-1)).toMatchObject({
      step: 'cancelled',
      reason: 'cancelled-by-operator',
      by: 'dashboard:alice',
    });
    expect(tb.metrics.outcomes().slice(counted)).toEqual([]);
    expect(tb.metrics.operatorCancels).toEqual([{ entrance: ENTRANCE, taskType: 'callback' }]);
    expect((await send(tb, item(1))).outcome).toEqual({ kind: 'duplicate', contactId: cid });
    expect(lastReceipt(tb)).toMatchObject({ status: 'duplicate', state: 'cancelled' });
  });

  it('whose contact.withdrawn the broker keeps refusing: tried three times, then a TransientError (503); the item stays cancelled', async () => {
    const tb = testbed();
    const cid = await routed(tb);
    tb.messaging.fullQueue.add(ENTRANCE);
    await expect(operatorCancel(tb.d, cid, 'alice')).rejects.toThrow(/cancelled, but its contact.withdrawn was not confirmed/);
    expect(tb.metrics.refusals).toEqual([ENTRANCE, ENTRANCE, ENTRANCE]);
    expect(tb.store.tombstones.get(cid)).toBe('cancelled');
    expect(tb.log.lines.some((l) => l.level === 'error' && /operator cancel/.test(l.message))).toBe(true);
  });

  it("whose hold's contact.withdrawn is refused: 503 for the operator; holding again publishes it", async () => {
    const tb = testbed();
    const cid = await routed(tb);
    tb.messaging.fullQueue.add(ENTRANCE);
    await expect(operatorHold(tb.d, cid, 'alice', {})).rejects.toThrow(/refused/);
    expect(tb.store.stateOf(cid)).toBe('held');
    tb.messaging.fullQueue.clear();
    expect(await operatorHold(tb.d, cid, 'alice', {})).toMatchObject({ ok: true, message: 'hold changed' });
    expect(withdrawn(tb, cid)).toEqual([expect.objectContaining({ reason: 'held' })]);
  });
});
