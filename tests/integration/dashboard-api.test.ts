import { DEFAULT_TOPOLOGY } from '../helpers/amqp-client';
import { httpRequest } from '../helpers/http';
import { minuteBucket } from '../../src/domain/time-buckets';
import { startService } from '../helpers/service';
import { testRedisClient } from '../helpers/redis';
import { waitUntil } from '../helpers/wait';
import { newExternalId, workItemXml } from '../helpers/work-items';
import type { Overview } from '../../src/adapters/http/dashboard/overview';
import type { ReplayJob } from '../../src/adapters/http/dashboard/replay-jobs';
import { DASHBOARD_USER, DashboardFixture, DashboardSession, dashboardEnv } from '../ui/support/dashboard-fixture';

/** Issue 10: the JSON API behind the dashboard, against the real service, broker and Redis. */

jest.setTimeout(120_000);

interface ErrorsView {
  total: number;
  groups: {
    code: string;
    count: number;
    messages: { id: string; path: string; message: string; firstFailedAt: string; originalRoutingKey: string }[];
  }[];
}

describe('dashboard API (real service)', () => {
  const f = new DashboardFixture({ env: dashboardEnv() });
  let s: DashboardSession;

  beforeAll(async () => {
    await f.setup();
    s = await DashboardSession.login(f.svc.baseUrl);
  }, 60_000);
  afterAll(() => f.teardown());

  const pollJob = (id: string) =>
    waitUntil(
      async () => {
        const j = await s.json<ReplayJob>(`/ui/api/replays/${id}`);
        return j.status === 'running' ? undefined : j;
      },
      { timeoutMs: 30_000, describe: `replay ${id} to finish` },
    );

  it('is off unless DASHBOARD_ENABLED=true', async () => {
    // startService passes this process's environment on: leave no DASHBOARD_* of the developer's shell in it.
    for (const k of Object.keys(process.env)) if (k.startsWith('DASHBOARD_')) delete process.env[k];
    const off = await startService({ vhost: f.vhost, prefix: f.prefix });
    try {
      expect((await httpRequest(`${off.baseUrl}/ui`)).status).toBe(404);
      expect((await httpRequest(`${off.baseUrl}/ui/api/overview`)).status).toBe(404);
      expect((await httpRequest(`${off.baseUrl}/healthz`)).status).toBe(200);
    } finally {
      await off.stop();
    }
  });

  it('needs a session when credentials are configured', async () => {
    expect((await httpRequest(`${f.svc.baseUrl}/ui/api/overview`)).status).toBe(401);
    expect((await httpRequest(`${f.svc.baseUrl}/ui`)).status).toBe(303);
  });

  it('overview: items per minute by task type, counts, unfinished and oldest age, entrances', async () => {
    const ids = [newExternalId('OV'), newExternalId('OV'), newExternalId('OV')];
    for (const [i, ext] of ids.entries()) {
      await f.client.publishWorkItem(workItemXml({ externalId: ext, taskType: i < 2 ? 'api-task' : 'other-task' }), { replyTo: true });
    }
    await f.client.waitForReceipts(3, 10_000, (r) => ids.includes(r.externalId ?? ''));
    const o = await waitUntil(
      async () => {
        const v = await s.json<Overview>('/ui/api/overview');
        return v.chart.series.some((x) => x.taskType === 'api-task') ? v : undefined;
      },
      { timeoutMs: 5_000, describe: 'api-task in the chart' },
    );
    const apiTask = o.chart.series.find((x) => x.taskType === 'api-task')!;
    expect(apiTask.total).toBe(2);
    expect(apiTask.data.reduce((a, b) => a + b, 0)).toBe(2);
    expect(o.chart.minutes).toHaveLength(60);
    expect(o.counts.lastHour.accepted).toBeGreaterThanOrEqual(3);
    expect(o.counts.last24h.accepted).toBeGreaterThanOrEqual(3);
    expect(o.unfinished.count).toBeGreaterThanOrEqual(3);
    expect(o.unfinished.oldestAgeSeconds).toEqual(expect.any(Number));
    expect(o.entrances.map((e) => e.name)).toEqual(['loans', 'support', 'social']);
    expect(o.errorQueue).toBe(0);

    // The per-minute counters behind the chart live about two hours in Redis.
    const redis = testRedisClient();
    await redis.connect();
    try {
      const key = `${f.prefix}stats:m:${minuteBucket(Date.now())}`;
      const fallback = `${f.prefix}stats:m:${minuteBucket(Date.now() - 60_000)}`;
      const ttl = Math.max(await redis.ttl(key), await redis.ttl(fallback));
      expect(ttl).toBeGreaterThan(7000);
      expect(ttl).toBeLessThanOrEqual(7200);
    } finally {
      redis.disconnect();
    }
  });

  it('closing an entrance publishes the control event (by dashboard:<user>); the next item is buffered', async () => {
    const r = await s.post('/ui/api/entrances/support/close');
    expect(r.status).toBe(202);
    await waitUntil(async () => (await f.entrance('support')).state === 'closed', { timeoutMs: 10_000, describe: 'support closed' });
    const ent = (await s.json<{ entrances: { name: string; state: string; by: string }[] }>('/ui/api/entrances')).entrances.find(
      (e) => e.name === 'support',
    );
    expect(ent).toMatchObject({ state: 'closed', by: `dashboard:${DASHBOARD_USER}` });

    const ext = newExternalId('PARK');
    await f.client.publishWorkItem(workItemXml({ externalId: ext, entrance: 'support', taskType: 'parked-task' }), { replyTo: true });
    const [receipt] = await f.client.waitForReceipts(1, 10_000, (x) => x.externalId === ext);
    expect(receipt.status).toBe('buffered');

    const items = await s.json<{ items: { contactId: string; externalId: string; state: string }[] }>(
      '/ui/api/items?entrance=support&state=buffered&taskType=parked-task',
    );
    expect(items.items).toEqual([expect.objectContaining({ externalId: ext, state: 'buffered', contactId: receipt.contactId })]);
    const detail = await s.json<{ contactData: Record<string, string>; parkedAt: string; receivedAt: string }>(
      `/ui/api/items/${receipt.contactId}`,
    );
    expect(detail.contactData.WorkItemTask).toBe('parked-task');
    expect(detail.parkedAt).toMatch(/^\d{4}-/);

    expect((await s.post('/ui/api/entrances/support/open')).status).toBe(202);
    await f.client.waitForEvents(1, 10_000, (e) => e.event.externalId === ext);
  });

  it('actions need the CSRF token', async () => {
    const r = await s.get('/ui/api/entrances/loans/close', { method: 'POST', body: {} });
    expect(r.status).toBe(403);
    expect((await f.entrance('loans')).state).toBe('open');
  });

  it('browses the error queue grouped by code without consuming it, and replays one message', async () => {
    const ext = newExternalId('NOWHERE');
    await f.client.publishWorkItem(workItemXml({ externalId: ext, entrance: 'nowhere' }), { replyTo: true });
    const [rejected] = await f.client.waitForReceipts(1, 10_000, (x) => x.externalId === ext);
    expect(rejected.error?.code).toBe('UNKNOWN_ENTRANCE');
    await waitUntil(async () => (await f.errorQueueDepth()) === 1, { timeoutMs: 5_000, describe: 'the error copy' });

    const e = await s.json<ErrorsView>('/ui/api/errors');
    expect(e.total).toBe(1);
    expect(e.groups).toHaveLength(1);
    expect(e.groups[0]).toMatchObject({ code: 'UNKNOWN_ENTRANCE', count: 1 });
    const m = e.groups[0].messages[0];
    expect(m).toMatchObject({ path: '/workItem/entrance', originalRoutingKey: 'workitem.bank-support' });
    expect(m.message).toContain('nowhere');
    // Browsing handed the message back.
    await waitUntil(async () => (await f.errorQueueDepth()) === 1, { timeoutMs: 5_000, describe: 'the copy back in the queue' });
    expect((await s.json<ErrorsView>('/ui/api/errors')).groups[0].messages[0].id).toBe(m.id);

    const started = await s.post('/ui/api/errors/replay', { code: 'UNKNOWN_ENTRANCE', messageId: m.id });
    expect(started.status).toBe(202);
    const job = await pollJob(started.json<{ job: ReplayJob }>().job.id);
    expect(job).toMatchObject({ status: 'done', moved: 1, total: 1, by: `dashboard:${DASHBOARD_USER}` });

    // Still not configured: rejected again, a new copy that keeps the first failure time.
    const [again] = await f.client.waitForReceipts(1, 10_000, (x) => x.externalId === ext && x !== rejected);
    expect(again.error?.code).toBe('UNKNOWN_ENTRANCE');
    const after = await waitUntil(
      async () => {
        const v = await s.json<ErrorsView>('/ui/api/errors');
        return v.total === 1 && v.groups[0].messages[0].id !== m.id ? v : undefined;
      },
      { timeoutMs: 10_000, describe: 'the new error copy' },
    );
    expect(after.groups[0].messages[0].firstFailedAt).toBe(m.firstFailedAt);
  });

  it('a replay interrupted by a service shutdown loses nothing', async () => {
    const before = await f.errorQueueDepth();
    const n = 1000;
    for (let i = 0; i < n; i++)
      await f.client.publishWorkItem(workItemXml({ externalId: newExternalId(`LOST${i}`), entrance: 'nowhere' }), { replyTo: false });
    await waitUntil(async () => (await f.errorQueueDepth()) === before + n, { timeoutMs: 60_000, describe: `${n} more error copies` });

    const started = await s.post('/ui/api/errors/replay', { code: 'UNKNOWN_ENTRANCE' });
    expect(started.status).toBe(202);
    const id = started.json<{ job: ReplayJob }>().job.id;
    // Stop the service once the replay is under way (the browser is long gone: the replay runs in the service).
    await waitUntil(
      async () => {
        const j = await s.json<ReplayJob>(`/ui/api/replays/${id}`);
        return j.moved > 0 || j.status !== 'running' ? j : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 5, describe: 'the replay to move messages' },
    );
    await f.svc.stop();
    const finished = f.svc.jsonLogs().find((l) => l.message === 'error-queue replay finished' && l.replay === id);
    expect(finished).toMatchObject({ status: expect.stringMatching(/^(stopped|done)$/) });

    // Every message is in the error queue (not moved, or moved and rejected again before the service stopped) or in
    // the inbound queue (moved: confirmed, then acked) — or, only if a process died between a confirm and its ack, in
    // both. Never in neither.
    const inbound = (await f.client.checkQueue(DEFAULT_TOPOLOGY.inboundQueue))?.messageCount ?? 0;
    const errors = await f.errorQueueDepth();
    expect(inbound + errors).toBeGreaterThanOrEqual(before + n);
    f.svc = await f.start();
  });
});
