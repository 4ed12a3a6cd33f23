import { CLAIM_LEASE_MS, fireDueTimers } from '../../../src/application/due-timers';
import { handleControlEvent } from '../../../src/application/handle-control-event';
import type { ContactEvent } from '../../../src/domain/contact-event';
import type { TaskTypeRule } from '../../../src/domain/task-types';
import { ENTRANCE, testbed, type Testbed } from './fakes/testbed';
import { cidOf, closeEntrance, hold, item, openEntrance, resume, send, update } from './fakes/messages';

const data = (task: string): Record<string, string> => Object.assign(Object.create(null) as Record<string, string>, { WorkItemTask: task });

/** Contract 1.2 "Task types" escalation over the in-memory store: rules relative to dueAt raise the priority at their time. */

const M = 60_000;
const H = 60 * M;
const rule: TaskTypeRule = {
  requiredContactData: [],
  escalation: [
    { offsetMs: -H, text: 'before PT1H', priority: 7 },
    { offsetMs: 0, text: 'after PT0S', priority: 9 },
  ],
};

function withRules(r: TaskTypeRule = rule): Testbed {
  const tb = testbed();
  tb.d = { ...tb.d, cfg: { ...tb.d.cfg, taskTypes: { callback: r } } };
  return tb;
}

const updated = (tb: Testbed, cid: string): ContactEvent[] =>
  tb.messaging.events.filter((e) => e.type === 'contact.updated' && e.contactId === cid);
const created = (tb: Testbed, cid: string): ContactEvent[] =>
  tb.messaging.events.filter((e) => e.type === 'contact.created' && e.contactId === cid);
const escalatedSteps = (tb: Testbed, cid: string) => (tb.history.items.get(cid)?.steps ?? []).filter((s) => s.step === 'escalated');

async function routedItem(tb: Testbed, n: number, over: Parameters<typeof item>[1] = {}): Promise<string> {
  return cidOf((await send(tb, item(n, over))).outcome);
}

describe('escalation', () => {
  it('each rule at its time: contact.updated (changed priority, reason escalation, no revision), a history step, the metric', async () => {
    const tb = withRules();
    const cid = await routedItem(tb, 1, { dueAt: tb.clock.iso(2 * H) });
    expect(created(tb, cid)[0]).toMatchObject({ priority: 5 });
    expect(tb.store.escalationOf(cid)).toEqual({ done: 0, dueMs: tb.clock.now() + H, priority: 5 });

    tb.clock.advance(H - 1);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 0, nextDueMs: tb.clock.now() + 1 });
    tb.clock.advance(1);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 1, failed: 0, nextDueMs: tb.clock.now() + H });
    const [first] = updated(tb, cid);
    expect(first).toMatchObject({ type: 'contact.updated', priority: 7, changed: ['priority'], reason: 'escalation' });
    expect(first).not.toHaveProperty('revision');
    expect(escalatedSteps(tb, cid)).toEqual([
      expect.objectContaining({
        state: 'routed',
        changed: ['priority'],
        reason: 'priority 5 → 7 (before PT1H); contact.updated published',
      }),
    ]);
    expect(tb.metrics.escalations).toEqual([{ entrance: ENTRANCE, taskType: 'callback' }]);

    tb.clock.advance(H);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 1, overdue: 1, nextDueMs: null });
    expect(updated(tb, cid).map((e) => e.type === 'contact.updated' && [e.priority, e.reason])).toEqual([
      [7, 'escalation'],
      [9, 'escalation'],
    ]);
    expect(tb.store.escalationOf(cid)).toEqual({ done: 2, priority: 9 });
    tb.clock.advance(24 * H);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 0 });
    expect(updated(tb, cid)).toHaveLength(2);
  });

  it('rules whose time passed before the arrival apply on arrival: contact.created carries the priority, no contact.updated', async () => {
    const tb = withRules();
    const cid = await routedItem(tb, 1, { dueAt: tb.clock.iso(30 * M) });
    expect(created(tb, cid)[0]).toMatchObject({ priority: 7 });
    expect(tb.store.escalationOf(cid)).toEqual({ done: 1, dueMs: tb.clock.now() + 30 * M, priority: 7 });
    const steps = (tb.history.items.get(cid)?.steps ?? []).map((s) => s.step);
    expect(steps).toEqual(['received', 'escalated', 'accepted']);
    expect(escalatedSteps(tb, cid)[0].reason).toMatch(/^on arrival: priority 5 → 7 \(before PT1H; dueAt /);
    expect(tb.metrics.escalations).toHaveLength(1);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 0 });
    expect(updated(tb, cid)).toEqual([]);
    // Overdue on arrival: both rules fold into one raise.
    const late = await routedItem(tb, 2, { dueAt: tb.clock.iso(-M) });
    expect(created(tb, late)[0]).toMatchObject({ priority: 9 });
    expect(tb.store.escalationOf(late)).toEqual({ done: 2, priority: 9 });
  });

  it('priority only rises by rule: a priority not lower is left alone (no event, no step), the rule counts as fired', async () => {
    const tb = withRules();
    const cid = await routedItem(tb, 1, { dueAt: tb.clock.iso(2 * H), priority: 8 });
    tb.clock.advance(H);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 0, nextDueMs: tb.clock.now() + H });
    expect(tb.store.escalationOf(cid)).toEqual({ done: 1, dueMs: tb.clock.now() + H, priority: 8 });
    tb.clock.advance(H);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 1 });
    expect(updated(tb, cid).map((e) => e.type === 'contact.updated' && e.priority)).toEqual([9]);
  });

  it('rules passed together (a downtime) are one raise to the highest and one event', async () => {
    const tb = withRules();
    const cid = await routedItem(tb, 1, { dueAt: tb.clock.iso(2 * H) });
    tb.clock.advance(3 * H);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 1 });
    expect(updated(tb, cid)).toEqual([expect.objectContaining({ priority: 9, changed: ['priority'], reason: 'escalation' })]);
    expect(escalatedSteps(tb, cid)[0].reason).toBe('priority 5 → 9 (before PT1H, after PT0S); contact.updated published');
  });

  it('a parked item: its stored priority rises without an event; its contact.created carries it', async () => {
    const tb = withRules();
    await closeEntrance(tb);
    const cid = await routedItem(tb, 1, { dueAt: tb.clock.iso(2 * H) });
    tb.clock.advance(H);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 1 });
    expect(updated(tb, cid)).toEqual([]);
    expect(escalatedSteps(tb, cid)).toEqual([
      expect.objectContaining({ state: 'buffered', reason: 'priority 5 → 7 (before PT1H); buffered: no event' }),
    ]);
    expect((await tb.store.getItem(cid))?.record.priority).toBe(7);
    await openEntrance(tb);
    expect(created(tb, cid)).toEqual([expect.objectContaining({ priority: 7 })]);
  });

  it('a held item: the rule still applies (stored, no event); its resumed contact.created carries the priority', async () => {
    const tb = withRules();
    const cid = await routedItem(tb, 1, { dueAt: tb.clock.iso(2 * H) });
    await send(tb, hold(1));
    tb.clock.advance(H);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 1 });
    expect(updated(tb, cid)).toEqual([]);
    expect(escalatedSteps(tb, cid)[0]).toMatchObject({ state: 'held' });
    await send(tb, resume(1));
    expect(created(tb, cid).at(-1)).toMatchObject({ priority: 7, resumed: true });
    // Its next rule keeps its time across the hold.
    expect(tb.store.escalationOf(cid)).toMatchObject({ done: 1, dueMs: tb.clock.now() + H });
  });

  it("a routed item's escalation waits until its contact.created is confirmed (never overtakes it)", async () => {
    const tb = withRules();
    const store = tb.store;
    await closeEntrance(tb);
    const cid = await routedItem(tb, 1, { dueAt: tb.clock.iso(2 * H) });
    tb.clock.advance(H);
    // Routed by a flush whose event is not confirmed yet (the store's placing mark).
    await store.setEntrance(ENTRANCE, true, 'test', tb.clock.now());
    expect((await store.routeParkedBatch(ENTRANCE, tb.clock.now(), 2 * H, 10)).map((r) => r.outcome)).toEqual(['routed']);
    expect(store.placingOf(cid)).toBeDefined();
    expect((await store.claimDueEscalations(tb.clock.now(), 10, CLAIM_LEASE_MS)).claims).toEqual([]);
    expect(store.escalationOf(cid)).toEqual({ done: 0, dueMs: tb.clock.now() + 500, priority: 5 });
    await store.confirmPlaced([cid], tb.clock.now());
    tb.clock.advance(500);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 1 });
    expect(updated(tb, cid)).toEqual([expect.objectContaining({ priority: 7 })]);
  });

  it('an item that just arrived waits for its contact.created to be confirmed (2 s) before its first escalation', async () => {
    const tb = withRules({ requiredContactData: [], escalation: [{ offsetMs: 0, text: 'after PT0S', priority: 9 }] });
    const cid = await routedItem(tb, 1, { dueAt: tb.clock.iso(1_000) });
    tb.clock.advance(1_000);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 0, nextDueMs: tb.clock.now() + 500 });
    tb.clock.advance(1_000);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 1 });
    expect(updated(tb, cid)).toEqual([expect.objectContaining({ priority: 9 })]);
  });

  it("a sender's update may lower the priority: fired rules stay fired, later rules still raise", async () => {
    const tb = withRules();
    const cid = await routedItem(tb, 1, { dueAt: tb.clock.iso(2 * H) });
    tb.clock.advance(H);
    await fireDueTimers(tb.d);
    await send(tb, update(1, { priority: 3 }), { messageId: 'u1' });
    expect(updated(tb, cid).at(-1)).toMatchObject({ priority: 3, changed: ['priority'] });
    expect(updated(tb, cid).at(-1)).not.toHaveProperty('reason');
    tb.clock.advance(30 * M);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 0 });
    tb.clock.advance(30 * M);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 1 });
    expect(updated(tb, cid).at(-1)).toMatchObject({ priority: 9, reason: 'escalation' });
    expect(escalatedSteps(tb, cid).at(-1)?.reason).toBe('priority 3 → 9 (after PT0S); contact.updated published');
  });

  it('an update moving dueAt later re-arms the rules whose new time is ahead; one moving it earlier fires the passed ones at once', async () => {
    const tb = withRules();
    const cid = await routedItem(tb, 1, { dueAt: tb.clock.iso(2 * H) });
    tb.clock.advance(H);
    await fireDueTimers(tb.d);
    expect(tb.store.escalationOf(cid)).toMatchObject({ done: 1, priority: 7 });
    // dueAt 3 h later and priority 4: `before PT1H` is ahead again (in 2 h), and raises again then.
    await send(tb, update(1, { dueAt: tb.clock.iso(3 * H), priority: 4 }), { messageId: 'u1' });
    expect(tb.store.escalationOf(cid)).toEqual({ done: 0, dueMs: tb.clock.now() + 2 * H, priority: 4 });
    tb.clock.advance(2 * H);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 1 });
    expect(updated(tb, cid).at(-1)).toMatchObject({ priority: 7, reason: 'escalation' });
    // dueAt moved to the past: `after PT0S` (not fired) is due at once.
    await send(tb, update(1, { dueAt: tb.clock.iso(-M) }), { messageId: 'u2' });
    expect(tb.store.escalationOf(cid)).toEqual({ done: 1, dueMs: tb.clock.now() - M, priority: 7 });
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 1 });
    expect(updated(tb, cid).at(-1)).toMatchObject({ priority: 9, reason: 'escalation' });
    // Moved to another time already past: nothing fires twice.
    await send(tb, update(1, { dueAt: tb.clock.iso(-2 * M) }), { messageId: 'u3' });
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 0 });
    expect(escalatedSteps(tb, cid)).toHaveLength(3);
  });

  it("a sender's update read before an escalation merges again: the raise is not written back", async () => {
    const tb = withRules();
    const cid = await routedItem(tb, 1, { dueAt: tb.clock.iso(2 * H) });
    const snap = await tb.store.readForUpdate('voicemail', 'CASE-1');
    tb.clock.advance(H);
    await fireDueTimers(tb.d);
    const r = await tb.store.applyUpdate({
      contactId: cid,
      expectVersion: snap!.version,
      updateId: 'x',
      dedupeDepth: 1,
      record: { ...snap!.record, subject: 'changed' },
      changed: ['subject'],
      nowMs: tb.clock.now(),
    });
    expect(r).toEqual({ outcome: 'conflict' });
    await send(tb, update(1, { subject: 'changed' }), { messageId: 'u1' });
    expect(updated(tb, cid).at(-1)).toMatchObject({ priority: 7, subject: 'changed', changed: ['subject'] });
  });

  it('two pollers over one store raise each item once', async () => {
    const tb = withRules();
    const ids: string[] = [];
    for (let n = 1; n <= 5; n++) ids.push(await routedItem(tb, n, { dueAt: tb.clock.iso(2 * H) }));
    tb.clock.advance(H);
    const other = { ...tb.d, instanceId: 'other-instance' };
    const [a, b] = await Promise.all([fireDueTimers(tb.d), fireDueTimers(other)]);
    expect(a.escalated + b.escalated).toBe(5);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 0 });
    for (const cid of ids) expect(updated(tb, cid)).toHaveLength(1);
  });

  it('a claim not finished (its instance died) is taken over after the lease: the event again, the raise stored once', async () => {
    const tb = withRules();
    const cid = await routedItem(tb, 1, { dueAt: tb.clock.iso(2 * H) });
    tb.clock.advance(H);
    expect((await tb.store.claimDueEscalations(tb.clock.now(), 10, CLAIM_LEASE_MS)).claims).toEqual([
      expect.objectContaining({ contactId: cid, from: 5, to: 7, rules: ['before PT1H'], retaken: false }),
    ]);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 0 });
    tb.clock.advance(CLAIM_LEASE_MS);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 1 });
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 0 });
    expect(updated(tb, cid)).toEqual([expect.objectContaining({ priority: 7, reason: 'escalation' })]);
    expect(escalatedSteps(tb, cid)[0].reason).toBe('priority 5 → 7 (before PT1H; taken over); contact.updated published');
  });

  it('a finished item leaves the escalation timer', async () => {
    const tb = withRules();
    const cid = await routedItem(tb, 1, { dueAt: tb.clock.iso(2 * H) });
    await handleControlEvent(tb.d, { type: 'contact.ended', contactId: cid }, 'test-owner');
    tb.clock.advance(3 * H);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 0, nextDueMs: null });
  });

  it('an update changing the task type starts over with its rules (the passed ones at once); none: the plan goes', async () => {
    const tb = withRules();
    tb.d = {
      ...tb.d,
      cfg: {
        ...tb.d.cfg,
        taskTypes: {
          callback: rule,
          urgent: { requiredContactData: [], escalation: [{ offsetMs: -3 * H, text: 'before PT3H', priority: 8 }] },
          plain: { requiredContactData: [], escalation: [] },
        },
      },
    };
    const cid = await routedItem(tb, 1, { dueAt: tb.clock.iso(2 * H) });
    await send(tb, update(1, { contactData: data('urgent') }), { messageId: 'u1' });
    expect(tb.store.escalationOf(cid)).toEqual({ done: 0, dueMs: tb.clock.now() - H, priority: 5 });
    tb.clock.advance(2_000);
    expect(await fireDueTimers(tb.d)).toMatchObject({ escalated: 1 });
    expect(updated(tb, cid).at(-1)).toMatchObject({ priority: 8, reason: 'escalation', taskType: 'urgent' });
    await send(tb, update(1, { contactData: data('plain') }), { messageId: 'u2' });
    expect(tb.store.escalationOf(cid)).toBeUndefined();
  });
});
