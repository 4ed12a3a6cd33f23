import type { Deps } from '../../src/application/deps';
import { updateWorkItem } from '../../src/application/update-item';
import { RedisStateStore } from '../../src/adapters/redis/redis-state-store';
import { toContactRecord, type ContactEvent } from '../../src/domain/contact-event';
import type { UpdateRequest } from '../../src/domain/work-item';
import type { InboundMessage } from '../../src/ports/messaging';
import type { CollectedEvent, CollectedReceipt } from '../helpers/amqp-client';
import { Fixture } from '../helpers/fixture';
import { deleteByPrefix, DEFAULT_REDIS_URL, randomPrefix, testRedisClient } from '../helpers/redis';
import type { ServiceHandle } from '../helpers/service';
import { sleep, waitUntil } from '../helpers/wait';
import { newExternalId, updateXml, workItemXml } from '../helpers/work-items';
import { MemoryItemHistory } from '../helpers/memory-history';

/** Issue 16 part 2: <updateWorkItem> against the real broker and Redis. */

const WAIT_MS = 20_000;
const f = new Fixture();
let second: ServiceHandle | undefined;

beforeAll(() => f.setup(), 60_000);
afterAll(async () => {
  await second?.stop();
  await f.teardown();
});

let seq = 0;

async function send(xml: string, opts: { messageId?: string; source?: string } = {}): Promise<CollectedReceipt> {
  const correlationId = `upd-${++seq}`;
  await f.client.publishWorkItem(xml, { replyTo: true, correlationId, ...opts });
  const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.properties.correlationId === correlationId);
  return r;
}

async function create(entrance = 'loans', extra: Record<string, string> = {}): Promise<{ externalId: string; contactId: string }> {
  const externalId = newExternalId('UPD');
  const r = await send(
    workItemXml({ externalId, entrance, contactData: { CaseUrl: 'https://bank.example/cases/1', Obsolete: 'x', ...extra } }),
  );
  expect(['accepted', 'buffered']).toContain(r.status);
  return { externalId, contactId: r.contactId! };
}

const updatedEvents = (contactId: string): CollectedEvent[] =>
  f.client.events.filter((e) => e.event.contactId === contactId && e.event.type === 'contact.updated');

async function storedItem(
  contactId: string,
): Promise<Record<string, unknown> & { contactData: Record<string, string>; priority: number; subject: string; state: string }> {
  const { items } = await f.api<{ items: (Record<string, unknown> & { contactId: string })[] }>('/api/items?limit=500');
  const it = items.find((i) => i.contactId === contactId);
  if (!it) throw new Error(`${contactId} not in /api/items`);
  return it as never;
}

describe('<updateWorkItem> (contract 1.1)', () => {
  it('a routed item: receipt updated, contact.updated.<entrance> with the whole contact, changed and revision', async () => {
    const { externalId, contactId } = await create();
    await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === contactId);
    const r = await send(
      updateXml({
        externalId,
        revision: 3,
        inner:
          '<priority>8</priority><contactData><item key="CaseUrl">https://bank.example/cases/1/v2</item><item key="Obsolete"/></contactData>',
      }),
    );
    expect(r).toMatchObject({ status: 'updated', contactId, externalId, source: 'bank-support', entrance: 'loans' });
    expect(r.error).toBeUndefined();
    const [ev] = await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === contactId && e.event.type === 'contact.updated');
    expect(ev.routingKey).toBe('contact.updated.loans');
    expect(ev.properties.type).toBe('contact.updated');
    expect(ev.event).toMatchObject({
      type: 'contact.updated',
      contactId,
      externalId,
      priority: 8,
      subject: 'Test work item',
      taskType: 'test-task',
      replayed: false,
      changed: ['priority', 'contactData.CaseUrl', 'contactData.Obsolete'],
      revision: 3,
    });
    expect(ev.event.contactData).toEqual({ WorkItemTask: 'test-task', CaseUrl: 'https://bank.example/cases/1/v2' });
    const stored = await storedItem(contactId);
    expect(stored).toMatchObject({ state: 'routed', priority: 8 });
    expect(stored.contactData).toEqual({ WorkItemTask: 'test-task', CaseUrl: 'https://bank.example/cases/1/v2' });
  });

  it('revision: not greater than the last applied → rejected STALE_UPDATE (error copy), nothing changes', async () => {
    const { externalId, contactId } = await create();
    expect((await send(updateXml({ externalId, revision: 5, inner: '<subject>Five</subject>' }))).status).toBe('updated');
    for (const revision of [5, 4]) {
      const stale = await send(updateXml({ externalId, revision, inner: `<subject>Stale ${revision}</subject>` }));
      expect(stale).toMatchObject({ status: 'rejected', error: { code: 'STALE_UPDATE', path: '/updateWorkItem/@revision' } });
      expect(stale.error?.message).toMatch(/not greater than 5/);
      const [copy] = await f.client.waitForErrors(1, WAIT_MS, (e) => e.properties.correlationId === stale.properties.correlationId);
      expect(copy.code).toBe('STALE_UPDATE');
    }
    expect((await storedItem(contactId)).subject).toBe('Five');
    // without a revision: applies in arrival order, and the last revision stays 5
    expect((await send(updateXml({ externalId, inner: '<subject>No revision</subject>' }))).status).toBe('updated');
    expect((await send(updateXml({ externalId, revision: 5, inner: '<subject>x</subject>' }))).error?.code).toBe('STALE_UPDATE');
    expect((await send(updateXml({ externalId, revision: 6, inner: '<subject>Six</subject>' }))).status).toBe('updated');
    expect((await storedItem(contactId)).subject).toBe('Six');
    await f.client.waitForEvents(3, WAIT_MS, (e) => e.event.contactId === contactId && e.event.type === 'contact.updated');
    expect(updatedEvents(contactId).map((e) => e.event.subject)).toEqual(['Five', 'No revision', 'Six']);
  });

  it('the same update published twice (same message_id): applied once, both get receipt updated', async () => {
    const { externalId, contactId } = await create();
    const xml = updateXml({ externalId, revision: 7, inner: '<priority>2</priority>' });
    const first = await send(xml, { messageId: `dup-${externalId}` });
    const again = await send(xml, { messageId: `dup-${externalId}` });
    expect(first.status).toBe('updated');
    expect(again).toMatchObject({ status: 'updated', contactId });
    await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === contactId && e.event.type === 'contact.updated');
    await sleep(500);
    expect(updatedEvents(contactId)).toHaveLength(1);
  });

  it('a value sent again unchanged publishes no event; the receipt still says updated', async () => {
    const { externalId, contactId } = await create();
    expect((await send(updateXml({ externalId, inner: '<priority>5</priority><subject>Test work item</subject>' }))).status).toBe(
      'updated',
    );
    await sleep(500);
    expect(updatedEvents(contactId)).toHaveLength(0);
  });

  it('NOT_FOUND for an unknown item, an item of another source, and an ended item; SENDER_NOT_ALLOWED for a foreign routing key', async () => {
    const unknown = await send(updateXml({ externalId: newExternalId('NOPE'), inner: '<priority>8</priority>' }));
    expect(unknown).toMatchObject({ status: 'rejected', error: { code: 'NOT_FOUND', path: '/updateWorkItem/externalId' } });
    const { externalId, contactId } = await create();
    const other = await send(updateXml({ externalId, source: 'other-bank', inner: '<priority>8</priority>' }));
    expect(other.error?.code).toBe('NOT_FOUND');
    const foreign = await send(updateXml({ externalId, inner: '<priority>8</priority>' }), { source: 'other-bank' });
    expect(foreign.error?.code).toBe('SENDER_NOT_ALLOWED');
    await f.client.publishControl('contact.ended', { contactId });
    await waitUntil(async () => (await send(updateXml({ externalId, inner: '<priority>9</priority>' }))).error?.code === 'NOT_FOUND', {
      timeoutMs: WAIT_MS,
      describe: 'update of an ended item is NOT_FOUND',
    });
    expect(updatedEvents(contactId)).toHaveLength(0);
  });

  it('limits after the merge: 51 contact-data items → INVALID_FIELD; removing the task key → NOT_A_WORKITEM', async () => {
    const extra: Record<string, string> = {};
    for (let i = 0; i < 40; i++) extra[`a${i}`] = 'v';
    const { externalId, contactId } = await create('loans', extra);
    const more = Array.from({ length: 10 }, (_, i) => `<item key="b${i}">v</item>`).join('');
    const tooMany = await send(updateXml({ externalId, inner: `<contactData>${more}</contactData>` }));
    expect(tooMany).toMatchObject({ status: 'rejected', error: { code: 'INVALID_FIELD', path: '/updateWorkItem/contactData' } });
    const noTask = await send(updateXml({ externalId, inner: '<contactData><item key="WorkItemTask"/></contactData>' }));
    expect(noTask.error?.code).toBe('NOT_A_WORKITEM');
    const entrance = await send(updateXml({ externalId, inner: '<entrance>support</entrance>' }));
    expect(entrance).toMatchObject({ status: 'rejected', error: { code: 'INVALID_FIELD', path: '/updateWorkItem/entrance' } });
    expect(Object.keys((await storedItem(contactId)).contactData)).toHaveLength(43);
  });

  it('a parked item: the stored record changes, no event; the contact.created on reopen carries the new values', async () => {
    await f.setEntrance('support', false);
    const { externalId, contactId } = await create('support');
    const r = await send(updateXml({ externalId, inner: '<subject>Changed while parked</subject><priority>9</priority>' }));
    expect(r).toMatchObject({ status: 'updated', contactId });
    await sleep(500);
    expect(f.client.events.filter((e) => e.event.contactId === contactId)).toHaveLength(0);
    expect(await storedItem(contactId)).toMatchObject({ state: 'buffered', subject: 'Changed while parked', priority: 9 });
    await f.setEntrance('support', true);
    const [created] = await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === contactId);
    expect(created.event).toMatchObject({ type: 'contact.created', subject: 'Changed while parked', priority: 9 });
  });
});

describe('two instances taking concurrent updates of one item', () => {
  beforeAll(async () => {
    second = await f.start();
  }, 60_000);

  it('40 updates without revision, each adding a key, split over two instances: none is lost, the last event has them all', async () => {
    const { externalId, contactId } = await create();
    await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === contactId);
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const correlationId = `flood-${externalId}-${i}`;
        ids.push(correlationId);
        return f.client.publishWorkItem(updateXml({ externalId, inner: `<contactData><item key="k${i}">v${i}</item></contactData>` }), {
          replyTo: true,
          correlationId,
        });
      }),
    );
    const receipts = await f.client.waitForReceipts(40, 60_000, (r) => ids.includes(r.properties.correlationId ?? ''));
    expect(receipts.every((r) => r.status === 'updated' && r.contactId === contactId)).toBe(true);
    const stored = await storedItem(contactId);
    for (let i = 0; i < 40; i++) expect(stored.contactData[`k${i}`]).toBe(`v${i}`);
    const events = await f.client.waitForEvents(40, 60_000, (e) => e.event.contactId === contactId && e.event.type === 'contact.updated');
    expect(new Set(events.map((e) => (e.event.changed as string[]).join(','))).size).toBe(40);
    const last = events[events.length - 1].event.contactData!;
    for (let i = 0; i < 40; i++) expect(last[`k${i}`]).toBe(`v${i}`);
    // both instances did some of the work
    const handledBy = [f.svc, second!].map(
      (s) => s.jsonLogs().filter((l) => l.message === 'work item updated' && l.contactId === contactId).length,
    );
    expect(handledBy[0] + handledBy[1]).toBe(40);
    expect(Math.min(...handledBy)).toBeGreaterThan(0);
  }, 120_000);

  it('60 updates with revisions 1..60 in random order over two instances: the highest wins, the others are applied or STALE_UPDATE', async () => {
    const { externalId, contactId } = await create();
    const revisions = Array.from({ length: 60 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
    await Promise.all(
      revisions.map((rev) =>
        f.client.publishWorkItem(
          updateXml({ externalId, revision: rev, inner: `<contactData><item key="Rev">${rev}</item></contactData>` }),
          {
            replyTo: true,
            correlationId: `rev-${externalId}-${rev}`,
          },
        ),
      ),
    );
    const receipts = await f.client.waitForReceipts(60, 60_000, (r) => (r.properties.correlationId ?? '').startsWith(`rev-${externalId}-`));
    const applied = receipts.filter((r) => r.status === 'updated').map((r) => Number(r.properties.correlationId!.split('-').pop()));
    const stale = receipts.filter((r) => r.error?.code === 'STALE_UPDATE');
    expect(applied.length + stale.length).toBe(60);
    expect(applied).toContain(60);
    expect((await storedItem(contactId)).contactData.Rev).toBe('60');
    // applied revisions only ever went up
    const events = await f.client.waitForEvents(
      applied.length,
      60_000,
      (e) => e.event.contactId === contactId && e.event.type === 'contact.updated',
    );
    expect(events[events.length - 1].event.contactData!.Rev).toBe('60');
    const revs = events.map((e) => e.event.revision as number);
    expect([...revs].sort((a, b) => a - b)).toEqual([...applied].sort((a, b) => a - b));
  }, 120_000);
});

describe('a redelivered update (the application against the real Redis)', () => {
  const prefix = randomPrefix();
  const redis = testRedisClient();
  afterAll(async () => {
    await redis.quit().catch(() => undefined);
    await deleteByPrefix(DEFAULT_REDIS_URL, prefix);
  });

  it('changes nothing twice, publishes the latest update’s event again and repeats the receipt', async () => {
    await redis.connect();
    const store = new RedisStateStore(redis, prefix, 3600);
    const events: ContactEvent[] = [];
    const receipts: string[] = [];
    let n = 0;
    const d = {
      cfg: { taskKey: 'WorkItemTask', social: {} },
      store,
      attachmentLinks: { signed: () => '', location: () => '' },
      messaging: {
        publishEvent: async (e: ContactEvent) => (events.push(e), 'confirmed'),
        sendReceipt: async (_t: unknown, r: { status: string }) => void receipts.push(r.status),
        publishErrorCopy: async () => undefined,
      },
      metrics: { item: () => undefined },
      log: { child: () => d.log, info: () => undefined, warn: () => undefined, debug: () => undefined, isDebugEnabled: () => false },
      now: Date.now,
      newId: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
      history: new MemoryItemHistory(),
      instanceId: 'test',
    } as unknown as Deps;
    const data: Record<string, string> = Object.create(null);
    data.WorkItemTask = 't';
    const record = toContactRecord(
      { externalId: 'E-1', source: 's', entrance: 'loans', priority: 5, subject: 's', contactData: data, taskType: 't' },
      'wi-00000000-0000-4000-8000-000000000001',
      new Date().toISOString(),
    );
    expect((await store.accept({ record, maxParked: 10, nowMs: Date.now() })).outcome).toBe('accepted');
    const upd: UpdateRequest = { externalId: 'E-1', source: 's', revision: 4, priority: 9 };
    const msg = (redelivered: boolean): InboundMessage => ({
      body: Buffer.from('<updateWorkItem revision="4">…</updateWorkItem>'),
      exchange: 'workitem.inbound',
      routingKey: 'workitem.s',
      senderRoutingKey: 'workitem.s',
      senderExchange: 'workitem.inbound',
      redelivered,
      properties: { messageId: 'm-1', headers: {}, other: {} },
    });
    expect(await updateWorkItem(d, msg(false), upd)).toEqual({ kind: 'updated', contactId: record.contactId });
    expect(await updateWorkItem(d, msg(true), upd)).toEqual({ kind: 'updated', contactId: record.contactId });
    expect(receipts).toEqual(['updated', 'updated']);
    expect(events.map((e) => [e.type, (e as { changed: string[] }).changed, (e as { revision: number }).revision])).toEqual([
      ['contact.updated', ['priority'], 4],
      ['contact.updated', ['priority'], 4],
    ]);
    const snap = await store.readForUpdate('s', 'E-1');
    expect(snap).toMatchObject({ version: 1, revision: 4, record: { priority: 9 } });
    // another update after it: a late redelivery of the first changes nothing and publishes nothing
    expect(
      await updateWorkItem(
        d,
        { ...msg(false), properties: { messageId: 'm-2', headers: {}, other: {} } },
        { ...upd, revision: 5, priority: 3 },
      ),
    ).toMatchObject({
      kind: 'updated',
    });
    expect(await updateWorkItem(d, msg(true), upd)).toMatchObject({ kind: 'updated' });
    expect(events).toHaveLength(3);
    expect(await store.readForUpdate('s', 'E-1')).toMatchObject({ version: 2, revision: 5, record: { priority: 3 } });
  });
});
