import { Fixture } from '../helpers/fixture';
import { cancelXml, newExternalId, example, workItemXml } from '../helpers/work-items';
import { sleep, waitUntil } from '../helpers/wait';
import { testRedisClient } from '../helpers/redis';

/** Issue 5: End, cancel, replay after restarts, several instances. */
describe('work-item lifecycle', () => {
  const f = new Fixture();
  beforeAll(() => f.setup(), 60_000);
  afterAll(() => f.teardown());

  async function send(n: number, tag: string, entrance = 'loans'): Promise<Map<string, string>> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const ext = newExternalId(`${tag}${i}`);
      ids.push(ext);
      await f.client.publishWorkItem(workItemXml({ externalId: ext, entrance }), { replyTo: true });
    }
    const set = new Set(ids);
    const receipts = await f.client.waitForReceipts(n, 60_000, (r) => set.has(r.externalId ?? ''));
    return new Map(receipts.map((r) => [r.externalId as string, r.contactId as string]));
  }

  it('contact.ended removes the item and counts it completed; unknown or repeated End is harmless', async () => {
    const ids = await send(1, 'END');
    const [cid] = [...ids.values()];
    await f.client.publishControl('contact.ended', { contactId: cid });
    await waitUntil(async () => (await f.api<{ items: { contactId: string }[] }>('/api/items')).items.every((i) => i.contactId !== cid), {
      timeoutMs: 5000,
    });
    await f.client.publishControl('contact.ended', { contactId: cid });
    await f.client.publishControl('contact.ended', { contactId: 'wi-00000000-0000-0000-0000-000000000000' });
    await f.client.publishControl('contact.ended', { nonsense: true });
    await sleep(300);
    const metrics = (await (await fetch(`${f.svc.baseUrl}/metrics`)).text()) as string;
    expect(metrics).toMatch(/workitem_items_total\{outcome="completed",entrance="loans",task_type="test-task",channel="email",code=""\} 1/);
    expect((await fetch(`${f.svc.baseUrl}/readyz`)).status).toBe(200);
  });

  it('cancel.xml withdraws an unfinished item; unknown → NOT_FOUND; another source cannot cancel it', async () => {
    await f.client.publishWorkItem(example('loan-review.xml'), { replyTo: true, correlationId: 'lr' });
    const [acc] = await f.client.waitForReceipts(1, 10_000, (r) => r.properties.correlationId === 'lr');
    expect(acc.status).toBe('accepted');
    // Another source naming the same externalId only finds its own (none).
    await f.client.publishWorkItem(cancelXml({ externalId: 'CASE-2026-000123', source: 'voicemail' }), {
      replyTo: true,
      correlationId: 'c-other',
    });
    const [other] = await f.client.waitForReceipts(1, 10_000, (r) => r.properties.correlationId === 'c-other');
    expect(other.status).toBe('rejected');
    expect(other.error?.code).toBe('NOT_FOUND');
    // The owner cancels.
    await f.client.publishWorkItem(example('cancel.xml'), { replyTo: true, correlationId: 'c-own' });
    const [own] = await f.client.waitForReceipts(1, 10_000, (r) => r.properties.correlationId === 'c-own');
    expect(own.status).toBe('cancelled');
    expect(own.contactId).toBe(acc.contactId);
    const [w] = await f.client.waitForEvents(1, 10_000, (e) => e.event.type === 'contact.withdrawn' && e.event.contactId === acc.contactId);
    expect(w.routingKey).toBe('contact.withdrawn.loans');
    // Again: nothing left to cancel.
    await f.client.publishWorkItem(example('cancel.xml'), { replyTo: true, correlationId: 'c-again' });
    const [again] = await f.client.waitForReceipts(1, 10_000, (r) => r.properties.correlationId === 'c-again');
    expect(again.error?.code).toBe('NOT_FOUND');
    await f.client.waitForErrors(1, 10_000, (e) => e.properties.correlationId === 'c-again');
  });

  it('2 000 items, half ended, restart → exactly the other half replayed; server.started → the same', async () => {
    const ids = await send(2000, 'RPL');
    const all = [...ids.entries()];
    const ended = new Set(all.filter((_, i) => i % 2 === 0).map(([, cid]) => cid));
    for (const cid of ended) await f.client.publishControl('contact.ended', { contactId: cid });
    const redis = testRedisClient();
    await waitUntil(
      async () => {
        const left = await Promise.all([...ended].slice(-20).map((cid) => redis.exists(`${f.prefix}item:${cid}`)));
        return left.every((x) => x === 0);
      },
      { timeoutMs: 20_000 },
    );
    await redis.quit();
    const expected = new Set(all.filter(([, cid]) => !ended.has(cid)).map(([, cid]) => cid));
    // Nothing else is unfinished in this test's prefix except these and items of earlier tests.
    const before = f.client.events.length;
    await f.restart();
    await waitUntil(() => f.client.events.slice(before).filter((e) => e.event.replayed && expected.has(e.event.contactId)).length >= 1000, {
      timeoutMs: 30_000,
    });
    await sleep(500);
    const replayed = f.client.events.slice(before).filter((e) => e.event.replayed);
    const mine = replayed.filter((e) => ids.has(e.event.externalId));
    expect(mine).toHaveLength(1000);
    expect(new Set(mine.map((e) => e.event.contactId))).toEqual(expected);
    for (const e of mine) expect(e.event.contactId).toBe(ids.get(e.event.externalId));

    const before2 = f.client.events.length;
    await f.client.publishControl('server.started', {});
    await waitUntil(() => f.client.events.slice(before2).filter((e) => e.event.replayed && ids.has(e.event.externalId)).length >= 1000, {
      timeoutMs: 30_000,
    });
    await sleep(500);
    const again = f.client.events.slice(before2).filter((e) => e.event.replayed && ids.has(e.event.externalId));
    expect(again).toHaveLength(1000);
    expect(new Set(again.map((e) => e.event.contactId))).toEqual(expected);
  }, 180_000);

  it('buffered items stay parked on replay', async () => {
    await f.setEntrance('support', false);
    const ids = await send(3, 'BUFR', 'support');
    const before = f.client.events.length;
    await f.client.publishControl('server.started', {});
    await sleep(1500);
    expect(f.client.events.slice(before).filter((e) => ids.has(e.event.externalId))).toHaveLength(0);
    const items = await f.api<{ items: { externalId: string; state: string }[] }>('/api/items?state=buffered&entrance=support');
    expect(items.items.map((i) => i.externalId).sort()).toEqual([...ids.keys()].sort());
    await f.setEntrance('support', true);
    await f.client.waitForEvents(3, 5_000, (e) => ids.has(e.event.externalId));
  });

  it('two instances share duplicates and entrance state; a restart of one replays once', async () => {
    const second = await f.start();
    try {
      const xml = workItemXml({ externalId: newExternalId('TWO') });
      // The same item twice at once: the two instances may each take one; still one contact.
      await Promise.all([
        f.client.publishWorkItem(xml, { replyTo: true, correlationId: 'two-a' }),
        f.client.publishWorkItem(xml, { replyTo: true, correlationId: 'two-b' }),
      ]);
      const rs = await f.client.waitForReceipts(2, 10_000, (r) => r.properties.correlationId?.startsWith('two-') ?? false);
      expect(new Set(rs.map((r) => r.contactId)).size).toBe(1);
      expect(rs.map((r) => r.status).sort()).toEqual(['accepted', 'duplicate']);

      await f.setEntrance('social', false);
      const parkedIds = await send(20, 'TWOP', 'social');
      expect((await f.entrance('social')).parked).toBe(20);
      await f.setEntrance('social', true);
      await f.client.waitForEvents(20, 5_000, (e) => parkedIds.has(e.event.externalId));

      const unfinished = (await f.api<{ total: number }>('/api/items?limit=1')).total;
      // Outside the few seconds in which instances starting together share one replay.
      await sleep(3500);
      const before = f.client.events.length;
      await f.restart();
      await waitUntil(() => f.client.events.slice(before).filter((e) => e.event.replayed).length >= unfinished, { timeoutMs: 30_000 });
      await sleep(1000);
      const replayed = f.client.events.slice(before).filter((e) => e.event.replayed);
      // Each unfinished item once: the other instance did not replay on top.
      expect(replayed.length).toBe(unfinished);
      expect(new Set(replayed.map((e) => e.event.contactId)).size).toBe(unfinished);

      // Both starting at the same moment: the replay lease lets exactly one of them replay.
      await Promise.all([f.svc.stop(), second.stop()]);
      await sleep(3500);
      const before2 = f.client.events.length;
      const [a, b] = await Promise.all([f.start(), f.start()]);
      f.svc = a;
      try {
        await waitUntil(() => f.client.events.slice(before2).filter((e) => e.event.replayed).length >= unfinished, { timeoutMs: 30_000 });
        await sleep(1000);
        expect(f.client.events.slice(before2).filter((e) => e.event.replayed)).toHaveLength(unfinished);
        // The other one either found the lease taken or (if it came up a moment later) the replay just finished.
        const skipped = [...a.logs, ...b.logs].filter(
          (l) => l.includes('replay already running on another instance') || l.includes('replay finished moments ago on another instance'),
        );
        const done = [...a.logs, ...b.logs].filter((l) => l.includes('replay of unfinished items done'));
        expect(skipped.length + done.length).toBe(2);
      } finally {
        await b.stop();
      }
    } finally {
      await second.stop();
    }
  }, 120_000);
});
