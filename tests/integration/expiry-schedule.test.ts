import { RedisStateStore } from '../../src/adapters/redis/redis-state-store';
import type { CollectedEvent, CollectedReceipt } from '../helpers/amqp-client';
import { Fixture } from '../helpers/fixture';
import { keysByPrefix, testRedisClient } from '../helpers/redis';
import type { ServiceHandle } from '../helpers/service';
import { sleep, waitUntil } from '../helpers/wait';
import { cancelXml, newExternalId, updateXml, workItemXml } from '../helpers/work-items';

/**
 * Issue 16 parts 3 and 4 against the real broker and Redis: <expiresAt> and <activateAt> fire on time (the contract
 * says within 5 s), once with several instances, and across restarts.
 */

const WAIT_MS = 20_000;
/** The contract's bound on lateness. */
const ON_TIME_MS = 5_000;
const f = new Fixture({ config: { park: { retrySeconds: 1 } } });
let second: ServiceHandle | undefined;

beforeAll(() => f.setup(), 60_000);
afterAll(async () => {
  await second?.stop();
  await f.teardown();
});

const at = (msFromNow: number): string => new Date(Date.now() + msFromNow).toISOString();
let seq = 0;

async function send(xml: string): Promise<CollectedReceipt> {
  const correlationId = `exp-${++seq}`;
  await f.client.publishWorkItem(xml, { replyTo: true, correlationId });
  const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.properties.correlationId === correlationId);
  return r;
}

const eventsOf = (contactId: string, type?: string): CollectedEvent[] =>
  f.client.events.filter((e) => e.event.contactId === contactId && (type === undefined || e.event.type === type));

async function unfinishedIds(): Promise<string[]> {
  const { items } = await f.api<{ items: { contactId: string }[] }>('/api/items?limit=500');
  return items.map((i) => i.contactId);
}

/** Lateness of an event's publish (its createdAt) behind a due time. */
const lateness = (e: CollectedEvent, due: string): number => Date.parse(String(e.event.createdAt)) - Date.parse(due);

describe('<expiresAt>', () => {
  it('a routed item: contact.expired (reason expires-at) on time, EXPIRED to the original reply_to and correlation id, error copy, state gone', async () => {
    const externalId = newExternalId('EXP');
    const expiresAt = at(2_500);
    const correlationId = `exp-routed-${externalId}`;
    await f.client.publishWorkItem(workItemXml({ externalId, expiresAt }), { replyTo: true, correlationId });
    const [accepted] = await f.client.waitForReceipts(1, WAIT_MS, (r) => r.properties.correlationId === correlationId);
    expect(accepted.status).toBe('accepted');
    const contactId = accepted.contactId!;
    const [expired] = await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === contactId && e.event.type === 'contact.expired');
    expect(expired.routingKey).toBe('contact.expired.loans');
    expect(expired.event).toMatchObject({ contactId, externalId, reason: 'expires-at', entrance: 'loans', taskType: 'test-task' });
    expect(lateness(expired, expiresAt)).toBeGreaterThanOrEqual(0);
    expect(lateness(expired, expiresAt)).toBeLessThan(ON_TIME_MS);

    const [receipt] = await f.client.waitForReceipts(2, WAIT_MS, (r) => r.properties.correlationId === correlationId).then((rs) => rs.filter((r) => r.status === 'rejected'));
    expect(receipt).toMatchObject({ status: 'rejected', contactId, externalId, source: 'bank-support', error: { code: 'EXPIRED', path: '/workItem/expiresAt' } });
    expect(receipt.error?.message).toMatch(/expiresAt .* passed before the item was finished; it was routed/);
    const [copy] = await f.client.waitForReceiptCopies(1, WAIT_MS, (r) => r.contactId === contactId && r.status === 'rejected');
    expect(copy.routingKey).toBe('rejected.bank-support');
    expect(copy.properties.correlationId).toBe(correlationId);
    const [errorCopy] = await f.client.waitForErrors(1, WAIT_MS, (e) => e.code === 'EXPIRED' && e.body.toString().includes(contactId));
    expect(errorCopy.headers['x-error-path']).toBe('/workItem/expiresAt');

    expect(await unfinishedIds()).not.toContain(contactId);
    const upd = await send(updateXml({ externalId, inner: '<priority>8</priority>' }));
    expect(upd.error?.code).toBe('NOT_FOUND');
    await sleep(1_500);
    expect(eventsOf(contactId, 'contact.expired')).toHaveLength(1);
  });

  it('a parked item expires while parked: contact.expired, and reopening routes nothing', async () => {
    await f.setEntrance('support', false);
    const expiresAt = at(2_000);
    const r = await send(workItemXml({ entrance: 'support', expiresAt }));
    expect(r.status).toBe('buffered');
    const [expired] = await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === r.contactId && e.event.type === 'contact.expired');
    expect(expired.event.reason).toBe('expires-at');
    expect(lateness(expired, expiresAt)).toBeLessThan(ON_TIME_MS);
    const [rejected] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.contactId === r.contactId && x.status === 'rejected');
    expect(rejected.error?.message).toMatch(/it was parked/);
    expect((await f.entrance('support')).parked).toBe(0);
    await f.setEntrance('support', true);
    await sleep(2_500); // the parked message's TTL retry (1 s) comes back and finds a tombstone
    expect(eventsOf(r.contactId!, 'contact.created')).toHaveLength(0);
  });

  it('an update moves the expiry: it fires at the new time, not the old one', async () => {
    const externalId = newExternalId('EXPUPD');
    const r = await send(workItemXml({ externalId, expiresAt: at(2_000) }));
    const later = at(5_000);
    const u = await send(updateXml({ externalId, inner: `<expiresAt>${later}</expiresAt>` }));
    expect(u.status).toBe('updated');
    const [upd] = await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === r.contactId && e.event.type === 'contact.updated');
    expect(upd.event.changed).toEqual(['expiresAt']);
    const [expired] = await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === r.contactId && e.event.type === 'contact.expired');
    expect(lateness(expired, later)).toBeGreaterThanOrEqual(0);
    expect(lateness(expired, later)).toBeLessThan(ON_TIME_MS);
  });

  it('cancel and End remove the timer: nothing expires later', async () => {
    const cancelled = newExternalId('EXPCAN');
    const c = await send(workItemXml({ externalId: cancelled, expiresAt: at(2_000) }));
    expect((await send(cancelXml({ externalId: cancelled }))).status).toBe('cancelled');
    const ended = await send(workItemXml({ expiresAt: at(2_000) }));
    await f.client.publishControl('contact.ended', { contactId: ended.contactId });
    await waitUntil(async () => !(await unfinishedIds()).includes(ended.contactId!), { timeoutMs: WAIT_MS, describe: 'ended item gone' });
    await sleep(3_500);
    expect(eventsOf(c.contactId!, 'contact.expired')).toHaveLength(0);
    expect(eventsOf(ended.contactId!, 'contact.expired')).toHaveLength(0);
    const redis = testRedisClient();
    await redis.connect();
    try {
      for (const key of ['due:expire', 'due:expire:claimed']) {
        const members = await redis.zrange(`${f.prefix}${key}`, 0, -1);
        expect(members).not.toContain(c.contactId);
        expect(members).not.toContain(ended.contactId);
      }
    } finally {
      await redis.quit();
    }
  });
});

describe('timers with several instances and across restarts', () => {
  it('two instances: 30 items expiring together each expire exactly once', async () => {
    second = await f.start();
    const expiresAt = at(3_000);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await send(workItemXml({ expiresAt }))).contactId!);
    await f.client.waitForEvents(30, WAIT_MS, (e) => ids.includes(e.event.contactId) && e.event.type === 'contact.expired');
    await sleep(2_500);
    const expired = f.client.events.filter((e) => ids.includes(e.event.contactId) && e.event.type === 'contact.expired');
    expect(expired).toHaveLength(30);
    expect(new Set(expired.map((e) => e.event.contactId)).size).toBe(30);
    for (const e of expired) expect(lateness(e, expiresAt)).toBeLessThan(ON_TIME_MS);
    await second.stop();
    second = undefined;
  }, 60_000);

  it('an expiry that falls due while no instance runs fires once after the start', async () => {
    const r = await send(workItemXml({ expiresAt: at(1_500) }));
    await f.svc.stop();
    await sleep(2_500);
    expect(eventsOf(r.contactId!, 'contact.expired')).toHaveLength(0);
    f.svc = await f.start({ httpPort: f.svc.port });
    await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === r.contactId && e.event.type === 'contact.expired');
    await sleep(1_500);
    expect(eventsOf(r.contactId!, 'contact.expired')).toHaveLength(1);
  }, 60_000);

  it('an instance that claimed an expiry and died before publishing: the claim is taken over after its lease', async () => {
    const r = await send(workItemXml({ expiresAt: at(1_000) }));
    await f.svc.stop();
    await sleep(1_500);
    // Claim it as an instance would, with a 2 s lease, and "die" (never publish nor finish).
    const redis = testRedisClient();
    await redis.connect();
    try {
      const store = new RedisStateStore(redis, f.prefix, 3600);
      const { claims } = await store.claimDueExpiries(Date.now(), 10, 2_000);
      expect(claims.map((c) => c.contactId)).toEqual([r.contactId]);
      expect(await redis.exists(`${f.prefix}item:${r.contactId}`)).toBe(0);
      f.svc = await f.start({ httpPort: f.svc.port });
      const [ev] = await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === r.contactId && e.event.type === 'contact.expired');
      expect(ev.event.reason).toBe('expires-at');
      await f.client.waitForReceipts(1, WAIT_MS, (x) => x.contactId === r.contactId && x.error?.code === 'EXPIRED');
      await waitUntil(async () => (await keysByPrefix(redis, `${f.prefix}expiring:`)).length === 0, { timeoutMs: WAIT_MS, describe: 'outbox entry finished' });
      expect(await redis.zcard(`${f.prefix}due:expire:claimed`)).toBe(0);
    } finally {
      await redis.quit();
    }
  }, 60_000);
});
