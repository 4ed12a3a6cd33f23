import type { Deps } from '../../../src/application/deps';
import { flushEntrance, flushLock, retryParked, unroutableMarker } from '../../../src/application/parked-items';
import type { ContactCreatedEvent, ContactRecord } from '../../../src/domain/contact-event';
import type { InboundMessage } from '../../../src/ports/messaging';
import type { RouteParkedResult } from '../../../src/ports/state-store';
import { MemoryItemHistory } from '../../helpers/memory-history';

/**
 * Items that wait because nobody listens for their entrance: a flush probes with the oldest item alone, stops at
 * an event nobody takes and leaves the park queue (the waiting items' TTL retries) alone; a TTL retry that meets a
 * flush in progress keeps its message. An in-memory stand-in for the Redis store, the same rules as the Lua.
 */

const ENTRANCE = 'support';
const cid = (i: number) => `wi-00000000-0000-4000-8000-00000000000${i}`;

function record(i: number): ContactRecord {
  return {
    contactId: cid(i),
    externalId: `CASE-${i}`,
    source: 'voicemail',
    entrance: ENTRANCE,
    channel: 'email',
    workItem: true,
    taskType: 'voicemail',
    priority: 5,
    subject: 's',
    contactData: { WorkItemTask: 'voicemail' },
    presentation: { icon: 'workitem', preview: '', reply: false, didNotArrive: false },
    receivedAt: '2026-12-01T10:00:00.000Z',
  };
}

class World {
  /** contactId → state; insertion order is the parked order (oldest first). */
  readonly items = new Map<string, { state: 'buffered' | 'routed'; rec: ContactRecord }>();
  readonly locks = new Map<string, string>();
  readonly markers = new Set<string>();
  readonly events: ContactCreatedEvent[] = [];
  readonly parked: string[] = [];
  /** The park queue's messages (contactIds); drainParked takes from the front. */
  queue: string[] = [];
  drains = 0;
  listening = false;

  constructor(n: number) {
    for (let i = 1; i <= n; i++) {
      this.items.set(cid(i), { state: 'buffered', rec: record(i) });
      this.queue.push(cid(i));
    }
  }

  msg(contactId: string): InboundMessage {
    return {
      body: Buffer.from('<workItem/>'),
      exchange: '',
      routingKey: 'workitem.inbound',
      senderRoutingKey: 'workitem.voicemail',
      senderExchange: 'workitem.in',
      redelivered: false,
      parked: { contactId, entrance: ENTRANCE },
      properties: { headers: {}, raw: {} },
    };
  }

  deps(): Deps {
    const log = {
      error: () => undefined,
      warn: () => undefined,
      info: () => undefined,
      debug: () => undefined,
      isDebugEnabled: () => false,
      child: () => log,
    };
    const check = (id: string, lock?: string): RouteParkedResult => {
      const it = this.items.get(id);
      if (!it) return { outcome: 'gone', contactId: id, tombstone: true };
      if (it.state !== 'buffered') return { outcome: 'not_buffered', record: it.rec, flushing: lock !== undefined && this.locks.has(lock) };
      return { outcome: 'open', contactId: id };
    };
    const store = {
      checkParked: async (id: string, _now: number, _max: number, lock?: string) => check(id, lock),
      routeParkedBatch: async (_e: string, _now: number, _max: number, limit: number): Promise<RouteParkedResult[]> =>
        [...this.items.values()]
          .filter((it) => it.state === 'buffered')
          .slice(0, limit)
          .map((it) => ((it.state = 'routed'), { outcome: 'routed' as const, record: it.rec })),
      parkRouted: async (id: string) => {
        const it = this.items.get(id)!;
        if (it.state !== 'routed') return { outcome: 'not_routed' as const };
        it.state = 'buffered';
        return { outcome: 'parked' as const, record: it.rec };
      },
      acquireLock: async (name: string, owner: string) =>
        this.locks.has(name) && this.locks.get(name) !== owner ? null : (this.locks.set(name, owner), 1),
      renewLock: async (name: string, owner: string) => this.locks.get(name) === owner,
      releaseLock: async (name: string, owner: string) => void (this.locks.get(name) === owner && this.locks.delete(name)),
      setMarker: async (name: string) => void this.markers.add(name),
      hasMarker: async (name: string) => this.markers.has(name),
    };
    const messaging = {
      publishEvent: async (e: ContactCreatedEvent) => (this.events.push(e), this.listening ? 'confirmed' : 'returned'),
      park: async (_e: string, id: string) => {
        this.parked.push(id);
        this.queue.push(id);
      },
      drainParked: async (_e: string, max: number, fn: (m: InboundMessage) => Promise<'next' | 'stop'>) => {
        this.drains++;
        const limit = Math.min(max, this.queue.length);
        let n = 0;
        while (n < limit) {
          const id = this.queue.shift()!;
          n++;
          if ((await fn(this.msg(id))) === 'stop') break;
        }
        return n;
      },
    };
    return {
      cfg: { entrances: { [ENTRANCE]: { maxParkSeconds: 3600, maxParked: 100 } }, park: { retrySeconds: 1 } },
      store,
      messaging,
      metrics: { unroutable: () => undefined, item: () => undefined },
      attachmentLinks: { signed: () => '', location: () => '' },
      log,
      now: () => Date.now(),
      newId: () => 'id',
      history: new MemoryItemHistory(),
      instanceId: 'test',
    } as unknown as Deps;
  }
}

describe('parked items nobody listens for', () => {
  it('a flush nobody takes publishes one event (the oldest), marks the entrance, and leaves the park queue alone', async () => {
    const w = new World(3);
    const res = await flushEntrance(w.deps(), ENTRANCE, 'me');
    expect(res).toEqual({ routed: 0, expired: 0, stopped: 'unroutable' });
    expect(w.events.map((e) => e.contactId)).toEqual([cid(1)]);
    expect(w.markers.has(unroutableMarker(ENTRANCE))).toBe(true);
    expect(w.drains).toBe(0);
    expect(w.parked).toEqual([]); // the item's parked message is still in the park queue, keeping its TTL
    expect([...w.items.values()].every((it) => it.state === 'buffered')).toBe(true);
    expect(w.queue).toEqual([cid(1), cid(2), cid(3)]);
  });

  it('a TTL retry that finds its item marked routed by a running flush keeps its message', async () => {
    const w = new World(2);
    // Another instance's flush holds the lease and has marked item 2 routed, its publish not yet answered.
    w.locks.set(flushLock(ENTRANCE), 'other');
    w.items.get(cid(2))!.state = 'routed';
    const out = await retryParked(w.deps(), w.msg(cid(2)), { contactId: cid(2), entrance: ENTRANCE });
    expect(out).toEqual({ kind: 'reparked', contactId: cid(2) });
    expect(w.parked).toEqual([cid(2)]);
  });

  it('a retry of an item routed for good (no flush running) drops its stale message', async () => {
    const w = new World(1);
    w.items.get(cid(1))!.state = 'routed';
    const out = await retryParked(w.deps(), w.msg(cid(1)), { contactId: cid(1), entrance: ENTRANCE });
    expect(out.kind).toBe('dropped');
    expect(w.parked).toEqual([]);
  });

  it('once someone listens, a flush routes all oldest first and drains the stale messages, once each', async () => {
    const w = new World(3);
    w.listening = true;
    const res = await flushEntrance(w.deps(), ENTRANCE, 'me');
    expect(res).toEqual({ routed: 3, expired: 0, stopped: 'done' });
    expect(w.events.map((e) => e.contactId)).toEqual([cid(1), cid(2), cid(3)]);
    expect(w.drains).toBe(1);
    expect(w.queue).toEqual([]);
    expect(w.parked).toEqual([]);
  });

  it('the drain after a flush stops at the first item still waiting instead of taking its re-parked message again', async () => {
    const w = new World(1);
    w.listening = true;
    const d = w.deps();
    // Item 9 waits (its entrance was closed again meanwhile): its message is first in the queue.
    w.queue.unshift(cid(9));
    const check = d.store.checkParked.bind(d.store);
    d.store.checkParked = async (id, ...rest) => (id === cid(9) ? { outcome: 'closed', contactId: id } : check(id, ...rest));
    await flushEntrance(d, ENTRANCE, 'me');
    expect(w.parked).toEqual([cid(9)]); // re-parked once, not in a loop
    expect(w.queue).toEqual([cid(1), cid(9)]); // item 1's stale message is dropped at its TTL retry
  });
});
