import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { RedisStateStore } from '../../src/adapters/redis/redis-state-store';
import { amqpUrl } from '../helpers/broker';
import type { CollectedEvent, CollectedReceipt } from '../helpers/amqp-client';
import { Fixture } from '../helpers/fixture';
import { DEFAULT_REDIS_URL, keysByPrefix, testRedisClient } from '../helpers/redis';
import { REPO_ROOT, type ServiceHandle } from '../helpers/service';
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
    const [expired] = await f.client.waitForEvents(
      1,
      WAIT_MS,
      (e) => e.event.contactId === contactId && e.event.type === 'contact.expired',
    );
    expect(expired.routingKey).toBe('contact.expired.loans');
    expect(expired.event).toMatchObject({ contactId, externalId, reason: 'expires-at', entrance: 'loans', taskType: 'test-task' });
    expect(lateness(expired, expiresAt)).toBeGreaterThanOrEqual(0);
    expect(lateness(expired, expiresAt)).toBeLessThan(ON_TIME_MS);

    const [receipt] = await f.client
      .waitForReceipts(2, WAIT_MS, (r) => r.properties.correlationId === correlationId)
      .then((rs) => rs.filter((r) => r.status === 'rejected'));
    expect(receipt).toMatchObject({
      status: 'rejected',
      contactId,
      externalId,
      source: 'bank-support',
      error: { code: 'EXPIRED', path: '/workItem/expiresAt' },
    });
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
    const [expired] = await f.client.waitForEvents(
      1,
      WAIT_MS,
      (e) => e.event.contactId === r.contactId && e.event.type === 'contact.expired',
    );
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
    const [expired] = await f.client.waitForEvents(
      1,
      WAIT_MS,
      (e) => e.event.contactId === r.contactId && e.event.type === 'contact.expired',
    );
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

interface ApiItem {
  contactId: string;
  state: string;
  activateAt?: string;
  expiresAt?: string;
  subject: string;
  priority: number;
}

async function apiItems(query = ''): Promise<ApiItem[]> {
  return (await f.api<{ items: ApiItem[] }>(`/api/items?limit=500${query}`)).items;
}

/** `workitem items …` (the built CLI) against this test's vhost and prefix. */
async function cliItems(args: string[]): Promise<{ items: { contactId: string; state: string; activateAt: string | null }[] }> {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, 'dist/cli/main.js'), 'items', ...args, '--json'], {
    cwd: REPO_ROOT,
    timeout: 30_000,
    env: {
      ...process.env,
      AMQP_URL: amqpUrl(f.vhost),
      REDIS_URL: DEFAULT_REDIS_URL,
      REDIS_KEY_PREFIX: f.prefix,
      WORKITEM_CONFIG: f.svc.configFile,
    },
  });
  return JSON.parse(stdout) as never;
}

describe('<activateAt>', () => {
  it('in the future: receipt scheduled, state scheduled (API, CLI), no event; at the time contact.created, once, no second receipt', async () => {
    const externalId = newExternalId('SCHED');
    const activateAt = at(3_000);
    const correlationId = `sched-${externalId}`;
    await f.client.publishWorkItem(workItemXml({ externalId, activateAt }), { replyTo: true, correlationId });
    const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.properties.correlationId === correlationId);
    expect(r).toMatchObject({ status: 'scheduled', externalId, entrance: 'loans' });
    const contactId = r.contactId!;
    expect(contactId).toMatch(/^wi-/);
    const listed = (await apiItems('&state=scheduled')).find((i) => i.contactId === contactId);
    expect(listed).toMatchObject({ state: 'scheduled', activateAt });
    expect((await apiItems('&state=routed')).map((i) => i.contactId)).not.toContain(contactId);
    const cli = await cliItems(['--state', 'scheduled']);
    expect(cli.items.find((i) => i.contactId === contactId)).toMatchObject({ state: 'scheduled', activateAt });
    expect(eventsOf(contactId)).toHaveLength(0);

    const [created] = await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === contactId);
    expect(created.routingKey).toBe('contact.created.loans');
    expect(created.event).toMatchObject({ type: 'contact.created', contactId, externalId, replayed: false });
    expect(lateness(created, activateAt)).toBeGreaterThanOrEqual(0);
    expect(lateness(created, activateAt)).toBeLessThan(ON_TIME_MS);
    expect((await apiItems()).find((i) => i.contactId === contactId)).toMatchObject({ state: 'routed' });
    await sleep(1_500);
    expect(eventsOf(contactId)).toHaveLength(1);
    expect(f.client.receipts.filter((x) => x.contactId === contactId)).toHaveLength(1);
  });

  it('now or in the past: routed at once as usual (receipt accepted)', async () => {
    const r = await send(workItemXml({ activateAt: at(-60_000) }));
    expect(r.status).toBe('accepted');
    await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === r.contactId);
  });

  it('more than schedule.maxDays (30) ahead → INVALID_FIELD', async () => {
    const r = await send(workItemXml({ activateAt: at(31 * 86_400_000) }));
    expect(r).toMatchObject({ status: 'rejected', error: { code: 'INVALID_FIELD', path: '/workItem/activateAt' } });
  });

  it('activating into a closed entrance parks it (no receipt, no event); reopening routes it', async () => {
    const r = await send(workItemXml({ entrance: 'support', activateAt: at(2_500) }));
    expect(r.status).toBe('scheduled');
    await f.setEntrance('support', false);
    await waitUntil(async () => (await apiItems()).find((i) => i.contactId === r.contactId)?.state === 'buffered', {
      timeoutMs: WAIT_MS,
      describe: 'activated into parking',
    });
    expect((await f.entrance('support')).parked).toBe(1);
    expect(eventsOf(r.contactId!)).toHaveLength(0);
    await f.setEntrance('support', true);
    const [created] = await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === r.contactId);
    expect(created.event.type).toBe('contact.created');
    await sleep(1_500); // the parked message's retry finds it routed and drops it
    expect(eventsOf(r.contactId!)).toHaveLength(1);
    expect(f.client.receipts.filter((x) => x.contactId === r.contactId)).toHaveLength(1);
  });

  it('update and cancel work on a scheduled item; an expiresAt before the activateAt expires it unrouted', async () => {
    const updated = newExternalId('SCHUPD');
    const u = await send(workItemXml({ externalId: updated, activateAt: at(3_000) }));
    const ur = await send(updateXml({ externalId: updated, inner: '<subject>Changed while scheduled</subject><priority>2</priority>' }));
    expect(ur).toMatchObject({ status: 'updated', contactId: u.contactId });
    expect((await apiItems('&state=scheduled')).find((i) => i.contactId === u.contactId)).toMatchObject({
      subject: 'Changed while scheduled',
      priority: 2,
    });

    const cancelled = newExternalId('SCHCAN');
    const c = await send(workItemXml({ externalId: cancelled, activateAt: at(2_000) }));
    expect((await send(cancelXml({ externalId: cancelled }))).status).toBe('cancelled');

    const e = await send(workItemXml({ activateAt: at(4_000), expiresAt: at(1_500) }));
    expect(e.status).toBe('scheduled');
    const [expired] = await f.client.waitForEvents(
      1,
      WAIT_MS,
      (x) => x.event.contactId === e.contactId && x.event.type === 'contact.expired',
    );
    expect(expired.event.reason).toBe('expires-at');
    const [rej] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.contactId === e.contactId && x.status === 'rejected');
    expect(rej.error?.message).toMatch(/it was scheduled/);

    const [created] = await f.client.waitForEvents(
      1,
      WAIT_MS,
      (x) => x.event.contactId === u.contactId && x.event.type === 'contact.created',
    );
    expect(created.event).toMatchObject({ subject: 'Changed while scheduled', priority: 2 });
    expect(eventsOf(u.contactId!, 'contact.updated')).toHaveLength(0);
    await sleep(2_500);
    expect(eventsOf(c.contactId!, 'contact.created')).toHaveLength(0);
    expect(eventsOf(e.contactId!, 'contact.created')).toHaveLength(0);
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

  it('two instances: 30 items scheduled for the same moment are each routed exactly once', async () => {
    second = await f.start();
    const activateAt = at(3_000);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await send(workItemXml({ activateAt }))).contactId!);
    await f.client.waitForEvents(30, WAIT_MS, (e) => ids.includes(e.event.contactId) && e.event.type === 'contact.created');
    await sleep(2_500);
    const created = f.client.events.filter(
      (e) => ids.includes(e.event.contactId) && e.event.type === 'contact.created' && !e.event.replayed,
    );
    expect(created).toHaveLength(30);
    expect(new Set(created.map((e) => e.event.contactId)).size).toBe(30);
    for (const e of created) expect(lateness(e, activateAt)).toBeLessThan(ON_TIME_MS);
    const byInstance = [f.svc, second].map(
      (s) => s.jsonLogs().filter((l) => l.message === 'scheduled item activated' && ids.includes(String(l.contactId))).length,
    );
    expect(byInstance[0] + byInstance[1]).toBe(30);
    await second.stop();
    second = undefined;
  }, 60_000);

  it('an activation due while no instance runs is routed once after the start', async () => {
    const r = await send(workItemXml({ activateAt: at(1_500) }));
    expect(r.status).toBe('scheduled');
    await f.svc.stop();
    await sleep(2_500);
    f.svc = await f.start({ httpPort: f.svc.port });
    await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === r.contactId && e.event.type === 'contact.created');
    await sleep(1_500);
    // the start-up replay may re-publish it (replayed: true); the activation itself happened once
    expect(eventsOf(r.contactId!, 'contact.created').filter((e) => !e.event.replayed)).toHaveLength(1);
  }, 60_000);

  it('an instance that claimed an activation and died before publishing: taken over after its lease', async () => {
    const r = await send(workItemXml({ activateAt: at(1_000) }));
    await f.svc.stop();
    await sleep(1_500);
    const redis = testRedisClient();
    await redis.connect();
    try {
      const store = new RedisStateStore(redis, f.prefix, 3600);
      const { claims } = await store.claimDueActivations(Date.now(), 10, 2_000);
      expect(claims.map((c) => [c.contactId, c.state])).toEqual([[r.contactId, 'routed']]);
      // Routed in Redis but never published. The start-up replay publishes it as replayed: true; the activation's
      // own contact.created (replayed: false) comes from the poller taking the claim over once its lease ran out.
      f.svc = await f.start({ httpPort: f.svc.port });
      await f.client.waitForEvents(
        1,
        WAIT_MS,
        (e) => e.event.contactId === r.contactId && e.event.type === 'contact.created' && !e.event.replayed,
      );
      await waitUntil(async () => (await redis.zcard(`${f.prefix}due:activate:claimed`)) === 0, {
        timeoutMs: WAIT_MS,
        describe: 'claim finished',
      });
    } finally {
      await redis.quit();
    }
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
      await waitUntil(async () => (await keysByPrefix(redis, `${f.prefix}expiring:`)).length === 0, {
        timeoutMs: WAIT_MS,
        describe: 'outbox entry finished',
      });
      expect(await redis.zcard(`${f.prefix}due:expire:claimed`)).toBe(0);
    } finally {
      await redis.quit();
    }
  }, 60_000);
});
