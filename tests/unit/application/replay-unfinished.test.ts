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
});
