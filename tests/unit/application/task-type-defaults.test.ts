import { fireDueTimers } from '../../../src/application/due-timers';
import type { TaskTypeRule } from '../../../src/domain/task-types';
import { testbed } from './fakes/testbed';
import { cidOf, item, send } from './fakes/messages';

/** A task type's dueIn/expiresIn give an item without its own dueAt/expiresAt one, counted from the stored receivedAt. */
const H = 3_600_000;
const rule: TaskTypeRule = {
  dueIn: { text: 'PT4H', ms: 4 * H },
  expiresIn: { text: 'PT6H', ms: 6 * H },
  requiredContactData: [],
  escalation: [],
};

function withTaskTypes() {
  const tb = testbed();
  tb.d = { ...tb.d, cfg: { ...tb.d.cfg, taskTypes: { callback: rule } } };
  return tb;
}

describe('task type time defaults', () => {
  it('dueAt = receivedAt + dueIn in the event; expiresAt = receivedAt + expiresIn expires the item like a sent one', async () => {
    const tb = withTaskTypes();
    const { outcome } = await send(tb, item(1));
    const cid = cidOf(outcome);
    const created = tb.messaging.events[0];
    expect(created).toMatchObject({ type: 'contact.created', dueAt: tb.clock.iso(4 * H) });
    expect(created).toMatchObject({ receivedAt: tb.clock.iso() });
    // The default dueAt is a timer too: the item is overdue after 4 h, expires after 6 h.
    expect(await fireDueTimers(tb.d)).toMatchObject({ expired: 0, overdue: 0, nextDueMs: tb.clock.now() + 4 * H });
    tb.clock.advance(4 * H);
    expect(await fireDueTimers(tb.d)).toMatchObject({ expired: 0, overdue: 1, nextDueMs: tb.clock.now() + 2 * H });
    tb.clock.advance(2 * H);
    expect(await fireDueTimers(tb.d)).toMatchObject({ expired: 1 });
    expect(tb.messaging.events[1]).toMatchObject({ type: 'contact.expired', contactId: cid, reason: 'expires-at' });
  });

  it("keeps the sender's own dueAt and expiresAt", async () => {
    const tb = withTaskTypes();
    await send(tb, item(1, { dueAt: '2030-01-01T00:00:00Z', expiresAt: tb.clock.iso(60_000) }));
    expect(tb.messaging.events[0]).toMatchObject({ dueAt: '2030-01-01T00:00:00Z' });
    expect(await fireDueTimers(tb.d)).toMatchObject({ nextDueMs: tb.clock.now() + 60_000 });
  });

  it('other task types get nothing', async () => {
    const tb = withTaskTypes();
    await send(tb, item(1, { taskType: 'other', contactData: { WorkItemTask: 'other' } }));
    expect(tb.messaging.events[0]).not.toHaveProperty('dueAt');
    expect(await fireDueTimers(tb.d)).toMatchObject({ nextDueMs: null });
  });
});
