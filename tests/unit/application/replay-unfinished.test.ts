import { replayUnfinished } from '../../../src/application/replay-unfinished';
import { ENTRANCE, testbed } from './fakes/testbed';
import { cidOf, closeEntrance, item, send } from './fakes/messages';

/** Replay: every routed unfinished item again as contact.created with replayed: true, its original contactId. */

describe('replay of unfinished items', () => {
  it('publishes every routed item with replayed: true, leaves parked and scheduled ones alone', async () => {
    const tb = testbed();
    const routed = [cidOf((await send(tb, item(1))).outcome), cidOf((await send(tb, item(2))).outcome)];
    await send(tb, item(3, { activateAt: tb.clock.iso(60_000) }));
    await closeEntrance(tb);
    await send(tb, item(4));
    const before = tb.messaging.events.length;
    const res = await replayUnfinished(tb.d, 'server.started', 'me');
    expect(res).toMatchObject({ skipped: false, replayed: 2, scanned: 4 });
    expect(tb.messaging.events.slice(before)).toMatchObject(
      routed.map((contactId) => ({ type: 'contact.created', contactId, replayed: true })),
    );
    expect(tb.metrics.replays).toEqual([{ reason: 'server.started', count: 2 }]);
  });

  it('at service start right after another instance replayed is skipped; server.started replays anyway', async () => {
    const tb = testbed();
    await send(tb, item(1));
    await replayUnfinished(tb.d, 'service.start', 'instance-a');
    expect(await replayUnfinished(tb.d, 'service.start', 'instance-b')).toMatchObject({ skipped: true });
    expect(await replayUnfinished(tb.d, 'server.started', 'instance-b')).toMatchObject({ skipped: false, replayed: 1 });
  });

  it('at service start while another instance holds the replay lease is skipped', async () => {
    const tb = testbed();
    await send(tb, item(1));
    await tb.store.acquireLock('replay', 'instance-a', 60_000);
    expect(await replayUnfinished(tb.d, 'service.start', 'instance-b')).toMatchObject({ skipped: true, replayed: 0 });
  });

  it('a replayed event nobody takes parks the item', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1))).outcome);
    tb.messaging.noListener.add(ENTRANCE);
    await replayUnfinished(tb.d, 'server.started', 'me');
    expect(tb.store.stateOf(cid)).toBe('parked');
    expect(tb.messaging.parks).toMatchObject([{ contactId: cid }]);
  });

  it('replays what was unfinished when it began: items accepted meanwhile (the consumer runs alongside) are not sent again', async () => {
    const tb = testbed();
    const early = [cidOf((await send(tb, item(1))).outcome), cidOf((await send(tb, item(2))).outcome)];
    // The first page is read after two more items arrived (the consumer runs while a start-up replay pages).
    const page = tb.store.pageUnfinished.bind(tb.store);
    let first = true;
    tb.store.pageUnfinished = async (after, limit, until) => {
      if (first) {
        first = false;
        await send(tb, item(3));
        await send(tb, item(4));
      }
      return page(after, limit, until);
    };
    const before = tb.messaging.events.length;
    const res = await replayUnfinished(tb.d, 'service.start', 'me');
    expect(res).toMatchObject({ replayed: 2, scanned: 2 });
    const replayed = tb.messaging.events.slice(before).filter((e) => e.type === 'contact.created' && e.replayed);
    expect(replayed.map((e) => e.contactId)).toEqual(early);
  });
});
