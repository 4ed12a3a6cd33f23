import { parseItemInfo } from '../../src/adapters/xml/render-item-info';
import type { CollectedEvent, CollectedReceipt } from '../helpers/amqp-client';
import { amqpUrl } from '../helpers/broker';
import { runCli } from '../helpers/cli';
import { httpRequest } from '../helpers/http';
import { DEFAULT_REDIS_URL, testRedisClient } from '../helpers/redis';
import type { ServiceHandle } from '../helpers/service';
import { sleep, waitUntil } from '../helpers/wait';
import { processState } from '../helpers/process-state';
import { cancelXml, getXml, holdXml, newExternalId, resumeXml, updateXml, workItemXml } from '../helpers/work-items';
import { DASHBOARD_USER, DashboardFixture, DashboardSession, dashboardEnv } from '../ui/support/dashboard-fixture';

/**
 * Contract 1.2 "Hold and resume" against the real broker, Redis and service (built dist/): a sender's hold and
 * resume, the until timer with two instances and across a stop, held items and the other rules, the operator's
 * dashboard actions and the CLI. Latencies and the until's lateness are printed (docs/reliability.md quotes them).
 */

jest.setTimeout(120_000);
const WAIT_MS = 20_000;
/** The contract's bound on a timer's lateness. */
const ON_TIME_MS = 5_000;

const f = new DashboardFixture({ env: dashboardEnv(), config: { park: { retrySeconds: 1 } } });
let second: ServiceHandle | undefined;
let s: DashboardSession;
const figures: Record<string, number[]> = {};
const measure = (name: string, ms: number): void => void (figures[name] ??= []).push(ms);

beforeAll(async () => {
  await f.setup();
  await f.client.bindNotifications('#');
  s = await DashboardSession.login(f.svc.baseUrl);
}, 60_000);
afterAll(async () => {
  await second?.stop().catch(() => undefined);
  await f.teardown();
  const line = Object.entries(figures)
    .map(([k, v]) => `${k}: ${v.map((x) => Math.round(x)).join(', ')} ms`)
    .join('; ');
  console.log(`hold/resume figures: ${line}`);
}, 60_000);

const at = (msFromNow: number): string => new Date(Date.now() + msFromNow).toISOString();
let seq = 0;

/** Publishes as bank-support (or the XML's source) with a reply queue; resolves with its receipt. */
async function send(xml: string, opts: { source?: string } = {}): Promise<CollectedReceipt> {
  const correlationId = `hr-${++seq}`;
  await f.client.publishWorkItem(xml, { replyTo: true, correlationId, ...opts });
  const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.properties.correlationId === correlationId);
  return r;
}

/** A routed item: its receipt and first contact.created seen. */
async function routedItem(fields: Parameters<typeof workItemXml>[0] = {}): Promise<{ externalId: string; contactId: string }> {
  const externalId = newExternalId('HOLD');
  const r = await send(workItemXml({ externalId, ...fields }));
  expect(r.status).toBe('accepted');
  await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === r.contactId && e.event.type === 'contact.created');
  return { externalId, contactId: r.contactId! };
}

const eventsOf = (contactId: string, type?: string): CollectedEvent[] =>
  f.client.events.filter((e) => e.event.contactId === contactId && (type === undefined || e.event.type === type));
const resumedCreated = (contactId: string): CollectedEvent[] =>
  eventsOf(contactId, 'contact.created').filter((e) => e.event.resumed === true);

function waitForEvent(contactId: string, type: string, pred: (e: CollectedEvent) => boolean = () => true): Promise<CollectedEvent> {
  return f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === contactId && e.event.type === type && pred(e)).then(([e]) => e);
}

interface ApiItem {
  contactId: string;
  state: string;
  heldFrom?: string;
  heldAt?: string;
  heldUntil?: string;
  heldReason?: string;
  priority: number;
}

async function apiItems(query = ''): Promise<ApiItem[]> {
  return (await f.api<{ items: ApiItem[] }>(`/api/items?limit=500${query}`)).items;
}

const lateness = (e: CollectedEvent, due: string): number => Date.parse(String(e.event.createdAt)) - Date.parse(due);

describe('a sender holds and resumes', () => {
  it('a routed item: contact.withdrawn (reason held), receipt held, state held (API, status query); resumed: contact.created resumed:true, same contactId', async () => {
    const { externalId, contactId } = await routedItem();
    const until = at(3_600_000);
    const t0 = Date.now();
    const held = await send(holdXml({ externalId, until, reason: 'waiting for documents' }));
    expect(held).toMatchObject({ status: 'held', externalId, source: 'bank-support', contactId, entrance: 'loans' });
    const withdrawn = await waitForEvent(contactId, 'contact.withdrawn');
    measure('hold→withdrawn', Date.now() - t0);
    expect(withdrawn.routingKey).toBe('contact.withdrawn.loans');
    expect(withdrawn.event).toMatchObject({ contactId, externalId, reason: 'held' });
    const [copy] = await f.client.waitForReceiptCopies(1, WAIT_MS, (r) => r.contactId === contactId && r.status === 'held');
    expect(copy.routingKey).toBe('held.bank-support');

    expect((await apiItems('&state=held')).find((i) => i.contactId === contactId)).toMatchObject({
      state: 'held',
      heldFrom: 'routed',
      heldUntil: until,
      heldReason: 'waiting for documents',
    });
    expect((await apiItems('&state=routed')).map((i) => i.contactId)).not.toContain(contactId);
    const info = parseItemInfo((await send(getXml({ externalId }))).raw);
    expect(info).toMatchObject({ contactId, state: 'held', heldUntil: until });
    expect(info.steps.map((x) => x.name)).toEqual(['received', 'accepted', 'held']);

    const t1 = Date.now();
    const resumed = await send(resumeXml({ externalId }));
    expect(resumed).toMatchObject({ status: 'resumed', contactId, externalId });
    const created = await waitForEvent(contactId, 'contact.created', (e) => e.event.resumed === true);
    measure('resume→created', Date.now() - t1);
    expect(created.routingKey).toBe('contact.created.loans');
    expect(created.event).toMatchObject({ contactId, externalId, replayed: false, resumed: true });
    expect((await apiItems()).find((i) => i.contactId === contactId)).toMatchObject({ state: 'routed' });
    const history = await f.api<{ steps: { step: string; by?: string; until?: string; reason?: string; state?: string }[] }>(
      `/api/items/${contactId}/history`,
    );
    expect(history.steps.slice(-2)).toEqual([
      expect.objectContaining({ step: 'held', by: 'sender', until, reason: 'waiting for documents', state: 'routed' }),
      expect.objectContaining({ step: 'resumed', by: 'sender', state: 'routed' }),
    ]);
    await sleep(1_000);
    expect(eventsOf(contactId, 'contact.withdrawn')).toHaveLength(1);
    expect(resumedCreated(contactId)).toHaveLength(1);
  });

  it('a parked item: nothing is routed while it is held (its entrance reopened, its parked message back); resumed at a closed entrance it is parked, then routed on reopen', async () => {
    await f.setEntrance('support', false);
    const externalId = newExternalId('HOLDPARK');
    const r = await send(workItemXml({ externalId, entrance: 'support' }));
    expect(r.status).toBe('buffered');
    const contactId = r.contactId!;
    expect((await send(holdXml({ externalId }))).status).toBe('held');
    expect((await f.entrance('support')).parked).toBe(0);
    await f.setEntrance('support', true);
    await sleep(2_500); // the reopen flush and the parked message's TTL retry (1 s) come and go
    expect(eventsOf(contactId)).toEqual([]);
    expect((await apiItems('&state=held')).map((i) => i.contactId)).toContain(contactId);

    await f.setEntrance('support', false);
    expect((await send(resumeXml({ externalId }))).status).toBe('resumed');
    expect((await apiItems()).find((i) => i.contactId === contactId)?.state).toBe('buffered');
    expect((await f.entrance('support')).parked).toBe(1);
    await sleep(1_500);
    expect(eventsOf(contactId)).toEqual([]);
    await f.setEntrance('support', true);
    const created = await waitForEvent(contactId, 'contact.created');
    expect(created.event).toMatchObject({ resumed: true, replayed: false });
    await sleep(1_500);
    expect(eventsOf(contactId, 'contact.created')).toHaveLength(1);
  });

  it('a scheduled item: its activateAt passes with nothing routed; resumed after it, routed (resumed: true)', async () => {
    const externalId = newExternalId('HOLDSCHED');
    const r = await send(workItemXml({ externalId, activateAt: at(2_000) }));
    expect(r.status).toBe('scheduled');
    expect((await send(holdXml({ externalId }))).status).toBe('held');
    await sleep(4_000);
    expect(eventsOf(r.contactId!)).toEqual([]);
    expect((await send(resumeXml({ externalId }))).status).toBe('resumed');
    expect((await waitForEvent(r.contactId!, 'contact.created')).event.resumed).toBe(true);
  });

  it('a hold of a held item changes its until only; an unknown item is NOT_FOUND, a resume of one not held NOT_HELD', async () => {
    const { externalId, contactId } = await routedItem();
    await send(holdXml({ externalId, until: at(600_000) }));
    await waitForEvent(contactId, 'contact.withdrawn');
    const again = await send(holdXml({ externalId, until: at(1_200_000), reason: 'later' }));
    expect(again).toMatchObject({ status: 'held', contactId });
    expect((await apiItems('&state=held')).find((i) => i.contactId === contactId)).toMatchObject({ heldReason: 'later' });
    await sleep(500);
    expect(eventsOf(contactId, 'contact.withdrawn')).toHaveLength(1);

    const unknown = await send(holdXml({ externalId: newExternalId('NOPE') }));
    expect(unknown).toMatchObject({ status: 'rejected', error: { code: 'NOT_FOUND', path: '/holdWorkItem/externalId' } });
    const other = await routedItem();
    const notHeld = await send(resumeXml({ externalId: other.externalId }));
    expect(notHeld).toMatchObject({
      status: 'rejected',
      contactId: other.contactId,
      error: { code: 'NOT_HELD', path: '/resumeWorkItem/externalId' },
    });
    const spoofed = await send(holdXml({ externalId: other.externalId }), { source: 'other-source' });
    expect(spoofed).toMatchObject({ status: 'rejected', error: { code: 'SENDER_NOT_ALLOWED' } });
    const errors = await s.json<{ groups: { code: string; count: number }[] }>('/ui/api/errors');
    expect(errors.groups.map((g) => g.code)).toEqual(expect.arrayContaining(['NOT_FOUND', 'NOT_HELD']));
  });
});

describe('a held item otherwise', () => {
  it('is updated (no event; its resumed contact.created carries it), cancelled (contact.withdrawn cancelled-by-sender) and expires (contact.expired)', async () => {
    const a = await routedItem();
    const b = await routedItem();
    const expiresAt = at(4_000);
    const c = await routedItem({ expiresAt });
    for (const x of [a, b, c]) expect((await send(holdXml({ externalId: x.externalId }))).status).toBe('held');
    const u = await send(updateXml({ externalId: a.externalId, inner: '<priority>9</priority>' }));
    expect(u).toMatchObject({ status: 'updated', contactId: a.contactId });
    await sleep(500);
    expect(eventsOf(a.contactId, 'contact.updated')).toEqual([]);
    await send(resumeXml({ externalId: a.externalId }));
    expect((await waitForEvent(a.contactId, 'contact.created', (e) => e.event.resumed === true)).event.priority).toBe(9);

    expect((await send(cancelXml({ externalId: b.externalId }))).status).toBe('cancelled');
    const w = await waitForEvent(b.contactId, 'contact.withdrawn', (e) => e.event.reason === 'cancelled-by-sender');
    expect(w.routingKey).toBe('contact.withdrawn.loans');

    const expired = await waitForEvent(c.contactId, 'contact.expired');
    expect(expired.event.reason).toBe('expires-at');
    expect(lateness(expired, expiresAt)).toBeLessThan(ON_TIME_MS);
    const [rejected] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.contactId === c.contactId && x.status === 'rejected');
    expect(rejected.error?.message).toMatch(/it was held/);
    expect((await apiItems()).map((i) => i.contactId)).not.toEqual(expect.arrayContaining([b.contactId, c.contactId]));
  });
});

describe('the until', () => {
  it('resumes the item within 5 s, once, with two instances running', async () => {
    second = await f.start();
    const items = [await routedItem(), await routedItem()];
    const untils: string[] = [];
    for (const [i, it] of items.entries()) {
      const until = at(3_000 + i * 500);
      untils.push(until);
      expect((await send(holdXml({ externalId: it.externalId, until }))).status).toBe('held');
    }
    for (const [i, it] of items.entries()) {
      const created = await waitForEvent(it.contactId, 'contact.created', (e) => e.event.resumed === true);
      const late = lateness(created, untils[i]);
      measure('until lateness (two instances)', late);
      expect(late).toBeGreaterThanOrEqual(0);
      expect(late).toBeLessThan(ON_TIME_MS);
    }
    await sleep(3_000);
    for (const it of items) expect(resumedCreated(it.contactId)).toHaveLength(1);
    // Its sender heard: held (its own hold, with the until), resumed (the until came: no receipt), routed (the resumed
    // contact.created confirmed); one id each.
    for (const [i, it] of items.entries()) {
      const notes = f.client.notifications.filter((n) => n.contactId === it.contactId);
      expect(notes.map((n) => [n.event, n.until])).toEqual([
        ['held', untils[i]],
        ['resumed', undefined],
        ['routed', undefined],
      ]);
      expect(new Set(notes.map((n) => n.messageId)).size).toBe(3);
    }
    const history = await f.api<{ steps: { step: string; by?: string }[] }>(`/api/items/${items[0].contactId}/history`);
    expect(history.steps.filter((x) => x.step === 'resumed')).toEqual([expect.objectContaining({ by: 'until' })]);
    await second.stop();
    second = undefined;
  });

  it('passing while the only instance is stopped: resumed after the restart, once; a held item is not replayed', async () => {
    const timed = await routedItem();
    const kept = await routedItem();
    const routed = await routedItem();
    const until = at(2_000);
    await send(holdXml({ externalId: timed.externalId, until }));
    await send(holdXml({ externalId: kept.externalId }));
    await waitForEvent(kept.contactId, 'contact.withdrawn');
    await f.svc.stop();
    await sleep(Math.max(0, Date.parse(until) - Date.now()) + 1_000);
    const restarted = Date.now();
    await f.restart();
    const created = await waitForEvent(timed.contactId, 'contact.created', (e) => e.event.resumed === true);
    measure('until passed while stopped: restart→created', Date.parse(String(created.event.createdAt)) - restarted);
    await waitForEvent(routed.contactId, 'contact.created', (e) => e.event.replayed === true);
    await sleep(2_000);
    expect(resumedCreated(timed.contactId)).toHaveLength(1);
    expect(eventsOf(timed.contactId, 'contact.created').filter((e) => e.event.replayed === true)).toEqual([]);
    expect(eventsOf(kept.contactId, 'contact.created')).toHaveLength(1);
    expect((await apiItems('&state=held')).map((i) => i.contactId)).toContain(kept.contactId);
    s = await DashboardSession.login(f.svc.baseUrl);

    const redis = testRedisClient();
    await redis.connect();
    try {
      expect(await redis.zrange(`${f.prefix}due:resume`, 0, -1)).not.toContain(timed.contactId);
      expect(await redis.zcard(`${f.prefix}due:resume:claimed`)).toBe(0);
    } finally {
      await redis.quit();
    }
  });
});

describe('an operator on the dashboard', () => {
  it('needs a session (401) and, for an action, the CSRF token and the same origin (403)', async () => {
    const { contactId } = await routedItem();
    expect((await httpRequest(`${f.svc.baseUrl}/ui/api/items/${contactId}/hold`, { method: 'POST', body: {} })).status).toBe(401);
    expect((await s.get(`/ui/api/items/${contactId}/hold`, { method: 'POST', body: {} })).status).toBe(403);
    expect((await s.post(`/ui/api/items/${contactId}/hold`, {}, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await s.get(`/ui/api/items/${contactId}/hold`)).status).toBe(405);
    expect((await apiItems()).find((i) => i.contactId === contactId)?.state).toBe('routed');
    expect(eventsOf(contactId, 'contact.withdrawn')).toEqual([]);
  });

  it('holds, resumes and cancels an item; the history names the operator; the cancel finishes it as cancelled', async () => {
    const { externalId, contactId } = await routedItem();
    const until = at(600_000);
    const t0 = Date.now();
    const h = await s.post(`/ui/api/items/${contactId}/hold`, { until, reason: 'customer on holiday' });
    expect(h.status).toBe(200);
    expect(h.json()).toMatchObject({ ok: true, contactId, state: 'held', by: `dashboard:${DASHBOARD_USER}` });
    await waitForEvent(contactId, 'contact.withdrawn', (e) => e.event.reason === 'held');
    measure('dashboard hold→withdrawn', Date.now() - t0);
    const page = (await s.get(`/ui/items/${contactId}`)).text();
    expect(page).toContain('customer on holiday');
    expect(page).toContain('data-verb="resume"');
    expect((await s.get('/ui/items?state=held')).text()).toContain(contactId);
    expect((await s.json<{ items: { contactId: string }[] }>('/ui/api/items?state=held')).items.map((i) => i.contactId)).toContain(
      contactId,
    );
    expect((await s.post(`/ui/api/items/${contactId}/hold`, { until: 'tomorrow' })).status).toBe(400);

    const r = await s.post(`/ui/api/items/${contactId}/resume`);
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ state: 'routed' });
    await waitForEvent(contactId, 'contact.created', (e) => e.event.resumed === true);
    expect((await s.post(`/ui/api/items/${contactId}/resume`)).status).toBe(409);

    const c = await s.post(`/ui/api/items/${contactId}/cancel`);
    expect(c.status).toBe(200);
    const w = await waitForEvent(contactId, 'contact.withdrawn', (e) => e.event.reason === 'cancelled-by-operator');
    expect(w.routingKey).toBe('contact.withdrawn.loans');
    const history = await s.json<{ steps: { step: string; by?: string; reason?: string }[] }>(`/ui/api/items/${contactId}/history`);
    expect(history.steps.filter((x) => x.by?.startsWith('dashboard:'))).toEqual([
      expect.objectContaining({ step: 'held', by: `dashboard:${DASHBOARD_USER}`, reason: 'customer on holiday' }),
      expect.objectContaining({ step: 'resumed', by: `dashboard:${DASHBOARD_USER}` }),
      expect.objectContaining({ step: 'cancelled', by: `dashboard:${DASHBOARD_USER}`, reason: 'cancelled-by-operator' }),
    ]);
    expect((await s.post(`/ui/api/items/${contactId}/cancel`)).status).toBe(404);
    // The sender learns of each operator action from its notifications (it got no receipt).
    const notes = await f.client.waitForNotifications(4, WAIT_MS, (n) => n.contactId === contactId);
    expect(notes.map((n) => n.event)).toEqual(['held', 'resumed', 'routed', 'cancelled']);
    expect(notes[0]).toMatchObject({ reason: 'customer on holiday', until, routingKey: 'held.bank-support' });
    const dup = await send(workItemXml({ externalId }));
    expect(dup).toMatchObject({ status: 'duplicate', contactId, attributes: expect.objectContaining({ state: 'cancelled' }) });
    const metrics = (await httpRequest(`${f.svc.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/workitem_held_total\{task_type="test-task",entrance="loans",by="operator"\} 1/);
    expect(metrics).toMatch(/workitem_cancelled_by_operator_total\{task_type="test-task",entrance="loans"\} 1/);
  });
});

describe('the CLI', () => {
  it('workitem hold / resume print the receipt; workitem items --state held lists the held item', async () => {
    const { externalId, contactId } = await routedItem();
    const env = {
      ...process.env,
      AMQP_URL: amqpUrl(f.vhost),
      REDIS_URL: DEFAULT_REDIS_URL,
      REDIS_KEY_PREFIX: f.prefix,
      WORKITEM_CONFIG: f.svc.configFile,
    };
    const until = at(600_000);
    const h = await runCli(['hold', 'bank-support', externalId, '--until', until, '--reason', 'cli test'], env);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/status:\s+held/);
    expect(h.stdout).toContain(contactId);
    await waitForEvent(contactId, 'contact.withdrawn');
    const items = await runCli(['items', '--state', 'held', '--json'], env);
    expect(items.code).toBe(0);
    const listed = (JSON.parse(items.stdout) as { items: { contactId: string; state: string; heldUntil: string; heldReason: string }[] })
      .items;
    expect(listed.find((i) => i.contactId === contactId)).toMatchObject({ state: 'held', heldUntil: until, heldReason: 'cli test' });
    const table = await runCli(['items', '--state', 'held'], env);
    expect(table.stdout).toMatch(/HELD UNTIL/);
    const r = await runCli(['resume', 'bank-support', externalId, '--json'], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'resumed', contactId });
    await waitForEvent(contactId, 'contact.created', (e) => e.event.resumed === true);
    const again = await runCli(['resume', 'bank-support', externalId], env);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/NOT_HELD/);
  });
});

describe('a kill -9 right after the Redis step (at least once)', () => {
  /**
   * The only instance stops itself (FAULT_STOP_AT) right after the hold's or resume's Lua script, before its event is
   * published, and is killed there; a fresh instance gets the message again from the broker and publishes the event.
   */
  async function killedAt(step: 'hold:marked' | 'resume:marked', xml: string): Promise<number> {
    await f.svc.stop();
    const a = await f.start({ env: { ...dashboardEnv(), FAULT_STOP_AT: step } });
    try {
      await f.client.publishWorkItem(xml, { replyTo: true, correlationId: `kill-${step}` });
      await waitUntil(() => processState(a.pid) === 'T', { timeoutMs: WAIT_MS, describe: `the instance stopped at ${step}` });
      await a.kill9();
    } finally {
      await a.stop('SIGKILL').catch(() => undefined);
    }
    const killed = Date.now();
    f.svc = await f.start();
    s = await DashboardSession.login(f.svc.baseUrl);
    return killed;
  }

  it('of a hold: the redelivered hold publishes contact.withdrawn (reason held) and answers held', async () => {
    const { externalId, contactId } = await routedItem();
    const killed = await killedAt('hold:marked', holdXml({ externalId, reason: 'crash test' }));
    const withdrawn = await waitForEvent(contactId, 'contact.withdrawn', (e) => e.event.reason === 'held');
    measure('kill -9 after the hold script → withdrawn', Date.parse(String(withdrawn.event.createdAt)) - killed);
    const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.properties.correlationId === 'kill-hold:marked');
    expect(r).toMatchObject({ status: 'held', contactId });
    await sleep(1_000);
    expect(eventsOf(contactId, 'contact.withdrawn')).toHaveLength(1);
    const history = await f.api<{ steps: { step: string; reason?: string }[] }>(`/api/items/${contactId}/history`);
    expect(history.steps.filter((x) => x.step === 'held')).toEqual([expect.objectContaining({ reason: 'crash test' })]);
  });

  it('of a resume: the redelivered resume publishes contact.created (resumed: true, same contactId) and answers resumed', async () => {
    const { externalId, contactId } = await routedItem();
    expect((await send(holdXml({ externalId }))).status).toBe('held');
    await waitForEvent(contactId, 'contact.withdrawn');
    const killed = await killedAt('resume:marked', resumeXml({ externalId }));
    const created = await waitForEvent(contactId, 'contact.created', (e) => e.event.resumed === true);
    measure('kill -9 after the resume script → created', Date.parse(String(created.event.createdAt)) - killed);
    const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.properties.correlationId === 'kill-resume:marked');
    expect(r).toMatchObject({ status: 'resumed', contactId });
    await sleep(1_000);
    expect(resumedCreated(contactId)).toHaveLength(1);
    expect((await apiItems()).find((i) => i.contactId === contactId)?.state).toBe('routed');
  });
});
