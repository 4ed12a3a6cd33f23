import { flushLock, unroutableMarker } from '../../../src/application/parked-items';
import { TransientError } from '../../../src/ports/messaging';
import { ENTRANCE, MAX_PARK_SECONDS, RETRY_SECONDS, testbed } from './fakes/testbed';
import { cidOf, closeEntrance, deliver, item, openEntrance, parkItems, send } from './fakes/messages';

/**
 * Parked items: TTL retries, the in-order reopen flush (a probe with the oldest item alone, stopping at an event
 * nobody takes or at a close), the unroutable marker, expiry after maxParkSeconds.
 */

const created = (tb: ReturnType<typeof testbed>) => tb.messaging.events.filter((e) => e.type === 'contact.created').map((e) => e.contactId);

describe('parked items', () => {
  it('a TTL retry while the entrance is closed parks the message again', async () => {
    const tb = testbed();
    const [c1] = await parkItems(tb, 1);
    tb.clock.advance(RETRY_SECONDS * 1000);
    expect(await deliver(tb, tb.messaging.takeParked(ENTRANCE))).toEqual({ kind: 'reparked', contactId: c1 });
    expect(tb.messaging.parkQueue(ENTRANCE)).toEqual([c1]);
    expect(tb.store.stateOf(c1)).toBe('parked');
    expect(tb.messaging.events).toEqual([]);
  });

  it('a TTL retry that finds the entrance open routes all its parked items oldest first; a later retry drops its stale message', async () => {
    const tb = testbed();
    const [c1, c2] = await parkItems(tb, 2);
    await tb.store.setEntrance(ENTRANCE, true, 'ops', tb.clock.now()); // opened; its control event not seen here
    const m1 = tb.messaging.takeParked(ENTRANCE);
    const m2 = tb.messaging.takeParked(ENTRANCE);
    expect(await deliver(tb, m2)).toEqual({ kind: 'routed', contactId: c2 });
    expect(created(tb)).toEqual([c1, c2]);
    expect(await deliver(tb, m1)).toEqual({ kind: 'dropped', reason: 'already routed' });
    expect(created(tb)).toEqual([c1, c2]);
    expect(tb.messaging.parkQueue(ENTRANCE)).toEqual([]);
  });

  it('reopening routes every parked item oldest first and empties the park queue', async () => {
    const tb = testbed();
    const ids = await parkItems(tb, 3);
    await openEntrance(tb);
    expect(created(tb)).toEqual(ids);
    expect(ids.map((c) => tb.store.stateOf(c))).toEqual(['routed', 'routed', 'routed']);
    expect(tb.messaging.parkQueue(ENTRANCE)).toEqual([]);
  });

  it('a reopen nobody listens for yet probes with the oldest item only: marked, counted, all stay parked, messages kept', async () => {
    const tb = testbed();
    const ids = await parkItems(tb, 3);
    tb.messaging.noListener.add(ENTRANCE);
    await openEntrance(tb);
    expect(tb.messaging.returned.map((e) => e.contactId)).toEqual([ids[0]]);
    expect(await tb.store.hasMarker(unroutableMarker(ENTRANCE))).toBe(true);
    expect(tb.metrics.unroutables).toEqual([ENTRANCE]);
    expect(tb.store.parkedIds(ENTRANCE)).toEqual(ids);
    expect(tb.messaging.parkQueue(ENTRANCE)).toEqual(ids); // no new park message: each keeps its TTL
  });

  it('while marked unroutable a TTL retry re-parks without a new probe; once the mark is gone a retry routes them', async () => {
    const tb = testbed();
    const [c1, c2] = await parkItems(tb, 2);
    tb.messaging.noListener.add(ENTRANCE);
    await openEntrance(tb);
    expect(await deliver(tb, tb.messaging.takeParked(ENTRANCE))).toEqual({ kind: 'reparked', contactId: c1 });
    expect(tb.messaging.returned).toHaveLength(1);
    tb.messaging.noListener.clear();
    tb.clock.advance(RETRY_SECONDS * 1000);
    expect(await deliver(tb, tb.messaging.takeParked(ENTRANCE))).toEqual({ kind: 'routed', contactId: c2 });
    expect(created(tb)).toEqual([c1, c2]);
  });

  it('a flush stops when the entrance closes again meanwhile; the rest stay parked with their messages', async () => {
    const tb = testbed();
    const ids = await parkItems(tb, 3);
    tb.messaging.afterEvent = async () => {
      tb.messaging.afterEvent = null;
      await closeEntrance(tb);
    };
    await openEntrance(tb);
    expect(created(tb)).toEqual([ids[0]]);
    expect(tb.store.parkedIds(ENTRANCE)).toEqual(ids.slice(1));
    expect(tb.messaging.parkQueue(ENTRANCE)).toEqual(ids);
  });

  it('the drain after a flush stops at the first item still waiting instead of taking the rest', async () => {
    const tb = testbed();
    const [c1] = await parkItems(tb, 1);
    // Between the flush and its drain the entrance closes again and two more items are parked.
    const drain = tb.messaging.drainParked.bind(tb.messaging);
    tb.messaging.drainParked = async (...args) => {
      await closeEntrance(tb);
      await send(tb, item(2));
      await send(tb, item(3));
      return drain(...args);
    };
    await openEntrance(tb);
    const [c2, c3] = tb.store.parkedIds(ENTRANCE);
    expect(created(tb)).toEqual([c1]);
    // c1's stale message dropped, c2's re-parked once, then the drain stopped: c3's message not taken.
    expect(tb.messaging.parkQueue(ENTRANCE)).toEqual([c3, c2]);
  });

  it('a TTL retry that meets a running flush holding its item (marked routed, not yet confirmed) keeps its message', async () => {
    const tb = testbed();
    const [, c2] = await parkItems(tb, 2);
    await tb.store.setEntrance(ENTRANCE, true, 'ops', tb.clock.now());
    // Another instance's flush holds the lease and has marked both routed; its publishes are not answered yet.
    await tb.store.acquireLock(flushLock(ENTRANCE), 'other-instance', 60_000);
    await tb.store.routeParkedBatch(ENTRANCE, tb.clock.now(), MAX_PARK_SECONDS * 1000, 10);
    tb.messaging.takeParked(ENTRANCE);
    expect(await deliver(tb, tb.messaging.takeParked(ENTRANCE))).toEqual({ kind: 'reparked', contactId: c2 });
    expect(tb.messaging.parkQueue(ENTRANCE)).toEqual([c2]);
    expect(tb.messaging.events).toEqual([]);
  });

  it('a flush confirms its events: their marks go', async () => {
    const tb = testbed();
    const ids = await parkItems(tb, 2);
    await openEntrance(tb);
    expect(ids.map((c) => tb.store.placingOf(c))).toEqual([undefined, undefined]);
    expect(created(tb)).toEqual(ids);
  });

  it('a flush that died or froze after marking its batch routed, before confirming: once its lease is over, each parked message publishes its own event', async () => {
    const tb = testbed();
    const [c1, c2] = await parkItems(tb, 2);
    await tb.store.setEntrance(ENTRANCE, true, 'ops', tb.clock.now());
    // Another instance's flush took the lease, marked both routed, and then stopped answering (kill -9, SIGSTOP).
    await tb.store.acquireLock(flushLock(ENTRANCE), 'dead-instance', 30_000);
    await tb.store.routeParkedBatch(ENTRANCE, tb.clock.now(), MAX_PARK_SECONDS * 1000, 10);
    expect(tb.store.placingOf(c1)).toBe(tb.clock.now());
    // Within the lease the messages wait (the flush may still confirm); past it they publish.
    expect(await deliver(tb, tb.messaging.takeParked(ENTRANCE))).toEqual({ kind: 'reparked', contactId: c1 });
    tb.clock.advance(31_000);
    expect(await deliver(tb, tb.messaging.takeParked(ENTRANCE))).toEqual({ kind: 'routed', contactId: c2 });
    expect(await deliver(tb, tb.messaging.takeParked(ENTRANCE))).toEqual({ kind: 'routed', contactId: c1 });
    expect(created(tb).sort()).toEqual([c1, c2].sort());
    expect([c1, c2].map((c) => tb.store.placingOf(c))).toEqual([undefined, undefined]);
    expect(tb.messaging.parkQueue(ENTRANCE)).toEqual([]);
  });

  it('an event not confirmed during a flush puts its item back and throws TransientError (the control event is requeued)', async () => {
    const tb = testbed();
    const [c1] = await parkItems(tb, 1);
    tb.messaging.failing.add('publishEvent');
    await expect(openEntrance(tb)).rejects.toThrow(TransientError);
    expect(tb.store.stateOf(c1)).toBe('parked');
    expect(await tb.store.acquireLock(flushLock(ENTRANCE), 'next-flush', 1000)).not.toBeNull();
  });

  it('a parked item older than maxParkSeconds expires at its TTL retry: contact.expired, EXPIRED to its sender, error copy', async () => {
    const tb = testbed();
    const [c1] = await parkItems(tb, 1);
    tb.clock.advance(MAX_PARK_SECONDS * 1000 + 1);
    const msg = tb.messaging.takeParked(ENTRANCE);
    expect(await deliver(tb, msg)).toEqual({ kind: 'expired', contactId: c1 });
    expect(tb.messaging.events).toMatchObject([{ type: 'contact.expired', contactId: c1, reason: 'parked-too-long' }]);
    expect(tb.messaging.receipts.at(-1)).toMatchObject({
      target: { replyTo: 'sender-replies', correlationId: 'corr-1' },
      receipt: { status: 'rejected', contactId: c1, error: { code: 'EXPIRED', path: '/workItem/entrance' } },
    });
    expect(tb.messaging.errorCopies).toEqual([{ body: msg.body, msg, error: expect.objectContaining({ code: 'EXPIRED' }) }]);
    expect(tb.store.tombstones.get(c1)).toBe('expired');
    expect(tb.messaging.parkQueue(ENTRANCE)).toEqual([]);
  });

  it('a reopen after maxParkSeconds expires the parked items instead of routing them', async () => {
    const tb = testbed();
    const ids = await parkItems(tb, 2);
    tb.clock.advance(MAX_PARK_SECONDS * 1000 + 1);
    await openEntrance(tb);
    expect(tb.messaging.events.map((e) => [e.type, e.contactId])).toEqual(ids.map((c) => ['contact.expired', c]));
    expect(tb.messaging.errorCopies.map((c) => c.error.code)).toEqual(['EXPIRED', 'EXPIRED']);
    expect(await tb.store.countUnfinished()).toBe(0);
  });

  it('a parked message whose item Redis lost is processed again under its old contactId', async () => {
    const tb = testbed();
    const [c1] = await parkItems(tb, 1);
    tb.store.forgetEverything();
    const out = await deliver(tb, tb.messaging.takeParked(ENTRANCE));
    expect(out).toEqual({ kind: 'accepted', contactId: c1 });
    expect(created(tb)).toEqual([c1]);
  });

  it('the parked message of an item cancelled meanwhile is dropped (its tombstone), never routed', async () => {
    const tb = testbed();
    const [c1] = await parkItems(tb, 1);
    await tb.store.cancel('voicemail', 'CASE-1', tb.clock.now());
    await openEntrance(tb);
    expect(tb.messaging.parkQueue(ENTRANCE)).toEqual([]);
    expect(created(tb)).toEqual([]);
    expect(tb.store.tombstones.get(c1)).toBe('cancelled');
    // The same externalId again is a duplicate of the cancelled item (contract 1.2); restart="true" makes a new item.
    expect((await send(tb, item(1))).outcome).toEqual({ kind: 'duplicate', contactId: c1 });
    expect(cidOf((await send(tb, item(1, { restart: true }))).outcome)).not.toBe(c1);
  });
});
