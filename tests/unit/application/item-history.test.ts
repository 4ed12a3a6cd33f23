import { itemGone } from '../../../src/application/attachment-lifecycle';
import type { Deps } from '../../../src/application/deps';
import { handleControlEvent } from '../../../src/application/handle-control-event';
import { retryParked } from '../../../src/application/parked-items';
import { arrivalSteps, HISTORY_TIMEOUT_MS, recordStep, UNROUTABLE_REASON } from '../../../src/application/record-step';
import { finishedItemPage, historySection } from '../../../src/adapters/http/dashboard/pages';
import { stepDetails } from '../../../src/cli/commands/history';
import type { ContactRecord } from '../../../src/domain/contact-event';
import type { ItemHistory } from '../../../src/ports/item-history';
import type { InboundMessage } from '../../../src/ports/messaging';
import { MemoryItemHistory } from '../../helpers/memory-history';

/** Issue 18 part 5: the application records an item's steps through the ItemHistory port. */

const CID = 'wi-123e4567-e89b-12d3-a456-426614174000';
const T0 = Date.parse('2026-03-01T10:00:00.000Z');

function world(history: ItemHistory = new MemoryItemHistory(), over: Record<string, unknown> = {}) {
  const warnings: { msg: string; meta: Record<string, unknown> }[] = [];
  const log = {
    warn: (msg: string, meta: Record<string, unknown>) => warnings.push({ msg, meta }),
    info: () => undefined,
    debug: () => undefined,
    error: () => undefined,
    child: () => log,
    isDebugEnabled: () => false,
  };
  let now = T0;
  const d = {
    cfg: { attachmentTimeoutMs: 200, entrances: { loans: { maxParkSeconds: 3600, maxParked: 10 } }, park: { retrySeconds: 60 } },
    history,
    instanceId: 'host-1-abcd',
    log,
    now: () => (now += 1000),
    newId: () => 'id',
    metrics: { item: () => undefined, unroutable: () => undefined, ended: () => undefined },
    ...over,
  } as unknown as Deps;
  return { d, warnings };
}

const record = { contactId: CID, entrance: 'loans', taskType: 't' } as unknown as ContactRecord;

describe('recordStep', () => {
  it('stamps time and instance, keeps details small', async () => {
    const h = new MemoryItemHistory();
    const { d } = world(h);
    const changed = Array.from({ length: 40 }, (_, i) => `contactData.K${i}`);
    await recordStep(d, CID, [
      { step: 'received', at: T0, entrance: 'loans' },
      { step: 'updated', reason: 'x'.repeat(500), changed, revision: 2 ** 53 - 1 },
    ]);
    const { steps } = (await h.read(CID))!;
    expect(steps[0]).toEqual({ step: 'received', at: '2026-03-01T10:00:00.000Z', instance: 'host-1-abcd', entrance: 'loans' });
    expect(steps[1]).toMatchObject({ step: 'updated', at: '2026-03-01T10:00:01.000Z', instance: 'host-1-abcd', revision: 2 ** 53 - 1 });
    expect(steps[1].reason).toHaveLength(201);
    expect(steps[1].changed).toHaveLength(33);
    expect(steps[1].changed![32]).toBe('… 8 more');
  });

  it('a failing history is logged and never fails the item', async () => {
    const { d, warnings } = world({
      append: async () => {
        throw new Error('Redis down');
      },
      read: async () => null,
    });
    await expect(recordStep(d, CID, { step: 'ended' })).resolves.toBeUndefined();
    expect(warnings).toEqual([
      { msg: 'item history not recorded; the item goes on', meta: { contactId: CID, steps: 'ended', error: 'Redis down' } },
    ]);
  });

  it('a history write that never answers is given up after HISTORY_TIMEOUT_MS', async () => {
    jest.useFakeTimers();
    try {
      const { d, warnings } = world({ append: () => new Promise<void>(() => undefined), read: async () => null });
      let done = false;
      const p = recordStep(d, CID, { step: 'routed' }).then(() => (done = true));
      await jest.advanceTimersByTimeAsync(HISTORY_TIMEOUT_MS - 10);
      expect(done).toBe(false);
      await jest.advanceTimersByTimeAsync(20);
      await p;
      expect(done).toBe(true);
      expect(String(warnings[0].meta.error)).toMatch(/timed out after 2000 ms/);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('arrivalSteps', () => {
  it.each([
    ['accepted', 'routed', ['received', 'accepted'], undefined],
    ['parked', 'parked', ['received', 'buffered'], 'entrance closed'],
    ['accepted', 'parked', ['received', 'buffered'], UNROUTABLE_REASON],
    ['scheduled', 'scheduled', ['received', 'scheduled'], 'activateAt 2030-01-01T00:00:00Z'],
  ] as const)('new item stored %s, placed %s → %j', (stored, placed, names, reason) => {
    const steps = arrivalSteps(stored, placed, T0, { entrance: 'loans', activateAt: '2030-01-01T00:00:00Z' }, false);
    expect(steps.map((s) => s.step)).toEqual(names);
    expect(steps[0]).toEqual({ step: 'received', at: T0, entrance: 'loans' });
    expect(steps[1].reason).toBe(reason);
  });

  it('the same item again is one duplicate step; a redelivery says what was done again', () => {
    expect(arrivalSteps('duplicate', null, T0, { entrance: 'loans' }, false)).toEqual([
      { step: 'duplicate', reason: 'the same item again (source, externalId)' },
    ]);
    expect(arrivalSteps('duplicate', 'routed', T0, { entrance: 'loans' }, true)).toEqual([
      { step: 'duplicate', reason: 'redelivered: accepted again' },
    ]);
  });
});

describe('use cases record their steps', () => {
  it('itemGone records the end (with or without an attachment), the last step', async () => {
    const h = new MemoryItemHistory();
    const { d } = world(h);
    await itemGone(d, { contactId: CID, hadAttachment: false, why: 'expired', reason: 'expires-at' });
    expect((await h.read(CID))!.steps).toEqual([
      { step: 'expired', reason: 'expires-at', at: '2026-03-01T10:00:01.000Z', instance: 'host-1-abcd' },
    ]);
    expect(h.items.get(CID)!.final).toBe(true);
  });

  it('contact.rejected: rejected (its reason) then parked; contact.ended: ended', async () => {
    const h = new MemoryItemHistory();
    const parkedMsgs: string[] = [];
    const { d } = world(h, {
      store: {
        parkRouted: async () => ({ outcome: 'parked', record }),
        end: async () => ({ outcome: 'ended', entrance: 'loans', taskType: 't', handledMs: 5, hadAttachment: false }),
      },
      messaging: {
        park: async (_e: string, id: string) => void parkedMsgs.push(id),
        parkRecord: async (_e: string, id: string) => void parkedMsgs.push(id),
      },
    });
    await handleControlEvent(d, { type: 'contact.rejected', contactId: CID, reason: 'agent-unavailable' }, 'me');
    await handleControlEvent(d, { type: 'contact.ended', contactId: CID }, 'me');
    const { steps } = (await h.read(CID))!;
    expect(steps.map((s) => [s.step, s.reason])).toEqual([
      ['rejected', 'agent-unavailable'],
      ['parked', 'rejected by the contact center'],
      ['ended', undefined],
    ]);
    expect(parkedMsgs).toEqual([CID]);
  });

  it('park retries of a closed entrance collapse into one parked step that counts them', async () => {
    const h = new MemoryItemHistory();
    const { d } = world(h, {
      store: { checkParked: async () => ({ outcome: 'closed', contactId: CID }) },
      messaging: { park: async () => undefined, parkRecord: async () => undefined },
    });
    await recordStep(d, CID, [{ step: 'received' }, { step: 'buffered' }]);
    const msg = { redelivered: false, properties: {}, body: Buffer.alloc(0) } as unknown as InboundMessage;
    const appends = jest.spyOn(h, 'append');
    for (let i = 0; i < 50; i++) expect((await retryParked(d, msg, { contactId: CID, entrance: 'loans' })).kind).toBe('reparked');
    const { steps } = (await h.read(CID))!;
    expect(steps.map((s) => s.step)).toEqual(['received', 'buffered', 'parked']);
    // The fake clock moves 1 s per reading: 50 retries span a few REPEAT_WRITE_MS windows, each written once.
    const writes = appends.mock.calls.length;
    expect(writes).toBeGreaterThanOrEqual(2);
    expect(writes).toBeLessThanOrEqual(5);
    expect(steps[2]).toMatchObject({ reason: 'park retry: entrance closed', times: writes });
    expect(Date.parse(steps[2].firstAt!)).toBeLessThan(Date.parse(steps[2].at));
    expect(Date.parse(steps[2].firstAt!)).toBeGreaterThan(Date.parse(steps[1].at));
  });
});

describe('MemoryItemHistory (the fake keeps the adapter’s bound)', () => {
  it('a flood keeps the first step and the latest ones, and counts what it dropped', async () => {
    const h = new MemoryItemHistory(200);
    const { d } = world(h);
    await recordStep(d, CID, { step: 'received' });
    for (let i = 1; i <= 1000; i++) await recordStep(d, CID, { step: 'updated', revision: i });
    const view = (await h.read(CID))!;
    expect(view.steps).toHaveLength(200);
    expect(view.steps[0].step).toBe('received');
    expect(view.steps[1].revision).toBe(802);
    expect(view.steps[199].revision).toBe(1000);
    expect(view.dropped).toBe(801);
  });
});

describe('how the history is shown', () => {
  const view = {
    contactId: CID,
    dropped: 3,
    keptUntil: '2026-03-08T10:00:00.000Z',
    steps: [
      { step: 'received' as const, at: '2026-03-01T10:00:00.000Z', instance: 'h-1', entrance: 'loans' },
      { step: 'updated' as const, at: '2026-03-01T10:01:00.000Z', instance: 'h-2', revision: 4, changed: ['priority'], reason: '<b>x</b>' },
      {
        step: 'parked' as const,
        at: '2026-03-01T10:05:00.000Z',
        instance: 'h-2',
        reason: 'park retry',
        times: 3,
        firstAt: '2026-03-01T10:03:00.000Z',
      },
      { step: 'ended' as const, at: '2026-03-01T11:00:00.000Z', instance: 'h-1' },
    ],
  };

  it('dashboard: a History table, values escaped, the dropped steps named after the first', () => {
    const out = historySection(view).value;
    expect(out).toContain('<h2>History</h2>');
    expect(out).toContain('&lt;b&gt;x&lt;/b&gt;');
    expect(out).not.toContain('<b>x</b>');
    expect(out.indexOf('data-step="received"')).toBeLessThan(out.indexOf('3 earlier steps dropped'));
    expect(out.indexOf('3 earlier steps dropped')).toBeLessThan(out.indexOf('data-step="updated"'));
    expect(out).toContain('×3');
    expect(out).toContain('h-2');
    const page = finishedItemPage(view, { user: null, canAct: false } as never);
    expect(page).toContain('Finished item');
    expect(page).toContain('last step <b>ended</b>');
  });

  it('CLI: one line of details per step', () => {
    expect(view.steps.map(stepDetails)).toEqual([
      'entrance=loans',
      '<b>x</b>; revision=4; changed=priority',
      'park retry; ×3 since 2026-03-01T10:03:00.000Z',
      '',
    ]);
  });
});
