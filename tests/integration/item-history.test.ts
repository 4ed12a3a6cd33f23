import { redisKeys } from '../../src/adapters/redis/keys';
import { RedisItemHistory } from '../../src/adapters/redis/redis-item-history';
import { ScriptRunner } from '../../src/adapters/redis/scripts';
import type { HistoryStep, ItemHistoryView } from '../../src/ports/item-history';
import type { CollectedReceipt } from '../helpers/amqp-client';
import { amqpUrl } from '../helpers/broker';
import { runCli } from '../helpers/cli';
import { Fixture } from '../helpers/fixture';
import { httpRequest } from '../helpers/http';
import { DEFAULT_REDIS_URL, deleteByPrefix, randomPrefix, testRedisClient } from '../helpers/redis';
import type { ServiceHandle } from '../helpers/service';
import { waitUntil } from '../helpers/wait';
import { newExternalId, updateXml, workItemXml } from '../helpers/work-items';

/** Issue 18 part 5: an item's history, against the real service (broker and Redis), its CLI and its dashboard. */

jest.setTimeout(240_000);

const WAIT_MS = 30_000;
const TOMBSTONE_SECONDS = 3600;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const f = new Fixture({ config: { tombstoneSeconds: TOMBSTONE_SECONDS }, env: { DASHBOARD_ENABLED: 'true' } });
let withTokens: ServiceHandle | undefined;

beforeAll(() => f.setup(), 60_000);
afterAll(async () => {
  await withTokens?.stop();
  await f.teardown();
});

let seq = 0;
async function send(xml: string): Promise<CollectedReceipt> {
  const correlationId = `hist-${++seq}`;
  await f.client.publishWorkItem(xml, { replyTo: true, correlationId });
  const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.properties.correlationId === correlationId);
  return r;
}

const history = (contactId: string) => f.api<ItemHistoryView>(`/api/items/${contactId}/history`);
const names = async (contactId: string) => (await history(contactId)).steps.map((s) => s.step);

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    AMQP_URL: amqpUrl(f.vhost),
    REDIS_URL: DEFAULT_REDIS_URL,
    REDIS_KEY_PREFIX: f.prefix,
    WORKITEM_CONFIG: f.svc.configFile,
  };
  return runCli(args, env);
}

async function withRedis<T>(fn: (redis: ReturnType<typeof testRedisClient>) => Promise<T>): Promise<T> {
  const redis = testRedisClient();
  await redis.connect();
  try {
    return await fn(redis);
  } finally {
    await redis.quit();
  }
}

describe('item history (contract "Item history")', () => {
  let contactId: string;

  it('accept → close → contact.rejected → park → reopen → routed → update → end: every step in order, with time and instance', async () => {
    const externalId = newExternalId('HIST');
    const r = await send(workItemXml({ externalId, entrance: 'loans' }));
    expect(r.status).toBe('accepted');
    contactId = r.contactId!;
    await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === contactId && e.event.type === 'contact.created');

    await f.setEntrance('loans', false);
    await f.client.publishControl('contact.rejected', { contactId, reason: 'agent-unavailable' });
    await waitUntil(async () => (await f.entrance('loans')).parked === 1, { timeoutMs: WAIT_MS, describe: 'loans parked 1' });
    await f.setEntrance('loans', true);
    await f.client.waitForEvents(2, WAIT_MS, (e) => e.event.contactId === contactId && e.event.type === 'contact.created');
    await waitUntil(async () => (await names(contactId)).includes('routed'), { timeoutMs: WAIT_MS, describe: 'routed step' });

    expect((await send(updateXml({ externalId, revision: 2, inner: '<priority>9</priority>' }))).status).toBe('updated');
    await f.client.publishControl('contact.ended', { contactId });
    await waitUntil(async () => (await names(contactId)).includes('ended'), { timeoutMs: WAIT_MS, describe: 'ended step' });

    const h = await history(contactId);
    expect(h.contactId).toBe(contactId);
    expect(h.dropped).toBe(0);
    expect(h.steps.map((s) => s.step)).toEqual(['received', 'accepted', 'rejected', 'parked', 'routed', 'updated', 'ended']);
    for (const s of h.steps) {
      expect(s.at).toMatch(ISO);
      // the instance id is host-pid-random
      expect(s.instance).toContain(`-${f.svc.pid}-`);
    }
    const times = h.steps.map((s) => Date.parse(s.at));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    const by = (step: string) => h.steps.find((s) => s.step === step) as HistoryStep;
    expect(by('received').entrance).toBe('loans');
    expect(by('rejected').reason).toBe('agent-unavailable');
    expect(by('parked').reason).toBe('rejected by the contact center');
    expect(by('routed').reason).toBe('entrance open');
    expect(by('updated')).toMatchObject({ revision: 2, changed: ['priority'], state: 'routed', reason: 'contact.updated published' });
  });

  it('still readable after the end, kept tombstoneSeconds (PTTL), and the item itself is gone', async () => {
    expect((await httpRequest(`${f.svc.baseUrl}/api/items/${contactId}`)).status).toBe(404);
    const h = await history(contactId);
    expect(h.steps.at(-1)?.step).toBe('ended');
    expect(Date.parse(h.keptUntil!) - Date.now()).toBeGreaterThan((TOMBSTONE_SECONDS - 120) * 1000);
    const keys = redisKeys(f.prefix);
    const pttl = await withRedis((r) => r.pttl(keys.history(contactId)));
    expect(pttl).toBeGreaterThan((TOMBSTONE_SECONDS - 120) * 1000);
    expect(pttl).toBeLessThanOrEqual(TOMBSTONE_SECONDS * 1000);
    const bytes = await withRedis((r) => r.call('MEMORY', 'USAGE', keys.history(contactId)) as Promise<number>);
    process.stdout.write(`item history: ${h.steps.length} steps, ${bytes} bytes in Redis (MEMORY USAGE)\n`);
  });

  it('an unknown contactId: 404', async () => {
    const r = await httpRequest(`${f.svc.baseUrl}/api/items/wi-00000000-0000-4000-8000-000000000000/history`);
    expect(r.status).toBe(404);
  });

  it('workitem history: a table of the steps, --json the same as the API, exit 1 when unknown, 2 for a malformed id', async () => {
    const text = await cli(['history', contactId]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`${contactId}: 7 step(s); finished, history kept until`);
    const lines = text.stdout.trim().split('\n');
    expect(lines[1]).toMatch(/^AT\s+STEP\s+INSTANCE\s+DETAILS$/);
    expect(lines.slice(2).map((l) => l.split(/\s+/)[1])).toEqual([
      'received',
      'accepted',
      'rejected',
      'parked',
      'routed',
      'updated',
      'ended',
    ]);
    expect(text.stdout).toContain('agent-unavailable');
    expect(text.stdout).toContain('revision=2; changed=priority');
    const json = await cli(['history', contactId, '--json']);
    expect(json.code).toBe(0);
    const fromCli = JSON.parse(json.stdout) as ItemHistoryView;
    expect(fromCli.steps).toEqual((await history(contactId)).steps);
    const unknown = await cli(['history', 'wi-00000000-0000-4000-8000-000000000000']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no history for wi-0{8}-/);
    expect((await cli(['history', 'nope'])).code).toBe(2);
  });

  it('the dashboard item page shows a History table, for a finished item too', async () => {
    const page = await httpRequest(`${f.svc.baseUrl}/ui/items/${contactId}`);
    expect(page.status).toBe(200);
    const body = page.text();
    expect(body).toContain('Finished item');
    expect(body).toContain('<h2>History</h2>');
    for (const step of ['received', 'accepted', 'rejected', 'parked', 'routed', 'updated', 'ended'])
      expect(body).toContain(`data-step="${step}"`);
    const open = await send(workItemXml({ externalId: newExternalId('HISTUI'), entrance: 'support' }));
    const live = (await httpRequest(`${f.svc.baseUrl}/ui/items/${open.contactId}`)).text();
    expect(live).toContain('<h2>Contact data</h2>');
    expect(live).toContain('data-step="received"');
    expect(live).toContain('kept while the item is unfinished');
    const api = await httpRequest(`${f.svc.baseUrl}/ui/api/items/${open.contactId}/history`);
    expect(api.json<ItemHistoryView>().steps.map((s) => s.step)).toEqual(['received', 'accepted']);
  });

  it('a flood of 1 000 updates of one item keeps the history at its bound (first step kept, the rest counted)', async () => {
    const externalId = newExternalId('HISTFLOOD');
    const created = await send(workItemXml({ externalId, entrance: 'support' }));
    const cid = created.contactId!;
    const N = 1_000;
    const tag = `hflood-${Date.now()}-`;
    const started = Date.now();
    for (let start = 0; start < N; start += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, N - start) }, (_, j) =>
          f.client.publishWorkItem(updateXml({ externalId, inner: `<priority>${1 + ((start + j) % 9)}</priority>` }), {
            replyTo: true,
            correlationId: `${tag}${start + j}`,
          }),
        ),
      );
    }
    const receipts = await f.client.waitForReceipts(N, 180_000, (r) => (r.properties.correlationId ?? '').startsWith(tag));
    const ms = Date.now() - started;
    expect(receipts.every((r) => r.status === 'updated')).toBe(true);
    const keys = redisKeys(f.prefix);
    const [len, bytes] = await withRedis(async (r) => [
      await r.llen(keys.history(cid)),
      (await r.call('MEMORY', 'USAGE', keys.history(cid))) as number,
    ]);
    expect(len).toBe(200);
    const h = await history(cid);
    expect(h.steps).toHaveLength(200);
    expect(h.steps[0].step).toBe('received');
    expect(h.steps.slice(1).every((s) => s.step === 'updated')).toBe(true);
    // received + accepted + 1 000 updated, 200 kept
    expect(h.dropped).toBe(N + 2 - 200);
    expect(h.keptUntil).toBeNull();
    expect(await withRedis((r) => r.pttl(keys.history(cid)))).toBe(-1);
    process.stdout.write(`history flood: ${N} updates in ${ms} ms; list ${len} steps, ${bytes} bytes, ${h.dropped} dropped\n`);
  });

  it('/api history follows the /api rules: loopback without tokens; with API_TOKENS 401 without a token, 200 with one', async () => {
    expect((await httpRequest(`${f.svc.baseUrl}/api/items/${contactId}/history`)).status).toBe(200);
    withTokens = await f.start({ env: { DASHBOARD_ENABLED: 'true', API_TOKENS: 'history-token-0123456789' } });
    const url = `${withTokens.baseUrl}/api/items/${contactId}/history`;
    const denied = await httpRequest(url);
    expect(denied.status).toBe(401);
    expect(denied.headers['www-authenticate']).toMatch(/^Bearer/);
    expect((await httpRequest(url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await httpRequest(url, { headers: { authorization: 'Bearer history-token-0123456789' } });
    expect(ok.status).toBe(200);
    expect(ok.json<ItemHistoryView>().steps.at(-1)?.step).toBe('ended');
    await withTokens.stop();
    withTokens = undefined;
  });
});

describe('RedisItemHistory against Redis', () => {
  const prefix = randomPrefix();
  const keys = redisKeys(prefix);
  const redis = testRedisClient();
  const cid = (n: number) => `wi-00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  const step = (s: HistoryStep['step'], extra: Partial<HistoryStep> = {}): HistoryStep => ({
    step: s,
    at: new Date().toISOString(),
    instance: 'test-1',
    ...extra,
  });

  beforeAll(() => redis.connect());
  afterAll(async () => {
    await redis.quit();
    await deleteByPrefix(DEFAULT_REDIS_URL, prefix);
  });

  it('keeps the first step and the latest ones, counts the dropped; no expiry while the item is unfinished', async () => {
    const h = new RedisItemHistory(redis, prefix, 100, 5);
    await redis.hset(keys.item(cid(1)), 'state', 'routed');
    await h.append(cid(1), [step('received'), step('accepted')]);
    for (let i = 1; i <= 10; i++) await h.append(cid(1), [step('updated', { revision: i })]);
    const v = (await h.read(cid(1)))!;
    expect(v.steps.map((s) => s.revision ?? s.step)).toEqual(['received', 7, 8, 9, 10]);
    expect(v.dropped).toBe(7);
    expect(v.keptUntil).toBeNull();
    expect(await redis.pttl(keys.history(cid(1)))).toBe(-1);
    // the end: both keys expire tombstoneSeconds from now
    await redis.del(keys.item(cid(1)));
    await h.append(cid(1), [step('ended')]);
    for (const k of [keys.history(cid(1)), keys.historyDropped(cid(1))]) {
      const t = await redis.pttl(k);
      expect(t).toBeGreaterThan(95_000);
      expect(t).toBeLessThanOrEqual(100_000);
    }
    expect((await h.read(cid(1)))!.keptUntil).toMatch(ISO);
  });

  it('collapse: a repeated step counts instead of adding one; another reason is a new step', async () => {
    const h = new RedisItemHistory(redis, prefix, 100);
    await redis.hset(keys.item(cid(2)), 'state', 'buffered');
    await h.append(cid(2), [step('buffered')]);
    const first = '2026-03-01T10:00:00.000Z';
    await h.append(cid(2), [step('parked', { reason: 'park retry: entrance closed', at: first })], { collapse: true });
    for (let i = 0; i < 5; i++) await h.append(cid(2), [step('parked', { reason: 'park retry: entrance closed' })], { collapse: true });
    await h.append(cid(2), [step('parked', { reason: 'other' })], { collapse: true });
    const v = (await h.read(cid(2)))!;
    expect(v.steps.map((s) => [s.step, s.reason, s.times])).toEqual([
      ['buffered', undefined, undefined],
      ['parked', 'park retry: entrance closed', 6],
      ['parked', 'other', undefined],
    ]);
    expect(v.steps[1].firstAt).toBe(first);
  });

  it('a late step for an item Redis does not hold never leaves a history without an expiry', async () => {
    const h = new RedisItemHistory(redis, prefix, 100);
    await h.append(cid(3), [step('routed')]);
    expect(await redis.pttl(keys.history(cid(3)))).toBeGreaterThan(95_000);
    expect(await h.read(cid(4))).toBeNull();
  });
  it('the appends of one tick are one script call, in the order made (collapse and the bound per item)', async () => {
    const h = new RedisItemHistory(redis, prefix, 100, 3);
    const run = jest.spyOn(ScriptRunner.prototype, 'run');
    const ids = [10, 11, 12, 13, 14].map(cid);
    for (const id of ids) await redis.hset(keys.item(id), 'state', 'routed');
    await Promise.all([
      ...ids.map((id) => h.append(id, [step('received'), step('accepted')])),
      h.append(ids[0], [step('parked', { reason: 'r' })], { collapse: true }),
      h.append(ids[0], [step('parked', { reason: 'r' })], { collapse: true }),
      h.append(ids[1], [step('updated', { revision: 1 }), step('updated', { revision: 2 })]),
    ]);
    const calls = run.mock.calls.filter(([name]) => name === 'append-history');
    run.mockRestore();
    expect(calls).toHaveLength(1);
    const v0 = (await h.read(ids[0]))!;
    expect(v0.steps.map((s) => [s.step, s.times])).toEqual([
      ['received', undefined],
      ['accepted', undefined],
      ['parked', 2],
    ]);
    const v1 = (await h.read(ids[1]))!;
    expect(v1.steps.map((s) => s.revision ?? s.step)).toEqual(['received', 1, 2]);
    expect(v1.dropped).toBe(1);
    for (const id of ids.slice(2)) expect((await h.read(id))!.steps.map((s) => s.step)).toEqual(['received', 'accepted']);
  });

  it('more appends in one tick than one call takes are all written', async () => {
    const h = new RedisItemHistory(redis, prefix, 100);
    const ids = Array.from({ length: 150 }, (_, i) => cid(100 + i));
    await Promise.all(ids.map((id, i) => h.append(id, [step('received', { reason: `n${i}` })])));
    const got = await Promise.all(ids.map((id) => h.read(id)));
    expect(got.map((v, i) => v?.steps[0].reason === `n${i}`)).toEqual(ids.map(() => true));
  });
});
