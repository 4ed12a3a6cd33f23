import { flushLock, unroutableMarker } from '../../../src/application/parked-items';
import { ParkedWatch } from '../../../src/application/parked-watch';
import { ENTRANCE, RETRY_SECONDS, testbed } from './fakes/testbed';
import { parkItems } from './fakes/messages';

/** Issue 22 part 2: parked items of an open entrance that nothing else would come for are routed by the watch. */
describe('ParkedWatch', () => {
  const INTERVAL = 10_000;
  const created = (tb: ReturnType<typeof testbed>) => tb.messaging.events.map((e) => e.contactId);

  /** Items parked, the entrance opened with no flush, and their park messages gone (a flush lost after the drain). */
  async function stranded(n: number) {
    const tb = testbed();
    const ids = await parkItems(tb, n);
    await tb.store.setEntrance(ENTRANCE, true, 'ops', tb.clock.now());
    while (tb.messaging.parkQueue(ENTRANCE).length > 0) tb.messaging.takeParked(ENTRANCE);
    const watch = new ParkedWatch(tb.d, () => true, INTERVAL);
    return { tb, ids, watch };
  }

  it('routes them oldest first once they have waited a park retry and a look, with nothing else coming', async () => {
    const { tb, ids, watch } = await stranded(3);
    await watch.look();
    expect(created(tb)).toEqual([]);
    tb.clock.advance(RETRY_SECONDS * 1000 + INTERVAL);
    await watch.look();
    expect(created(tb)).toEqual(ids);
    expect(tb.store.parkedIds(ENTRANCE)).toEqual([]);
    expect(tb.log.lines.some((l) => l.message.includes('routed by the parked watch'))).toBe(true);
  });

  it('leaves them to a running flush (its lease) and to the unroutable marker', async () => {
    const { tb, watch } = await stranded(2);
    await tb.store.acquireLock(flushLock(ENTRANCE), 'another-flush', 600_000);
    await watch.look();
    tb.clock.advance(RETRY_SECONDS * 1000 + INTERVAL);
    await watch.look();
    expect(created(tb)).toEqual([]);
    await tb.store.releaseLock(flushLock(ENTRANCE), 'another-flush');
    await tb.store.setMarker(unroutableMarker(ENTRANCE), 600_000);
    tb.clock.advance(RETRY_SECONDS * 1000 + INTERVAL);
    await watch.look();
    expect(created(tb)).toEqual([]);
    expect(tb.store.parkedIds(ENTRANCE)).toHaveLength(2);
  });

  it('does nothing for a closed entrance', async () => {
    const tb = testbed();
    await parkItems(tb, 2);
    const watch = new ParkedWatch(tb.d, () => true, INTERVAL);
    await watch.look();
    tb.clock.advance(RETRY_SECONDS * 1000 + INTERVAL);
    await watch.look();
    expect(created(tb)).toEqual([]);
  });
});
