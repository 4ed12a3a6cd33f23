import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AttachmentUrlSigner } from '../../../src/adapters/http/attachment-links';
import { createDashboard, type Dashboard } from '../../../src/adapters/http/dashboard/dashboard';
import type { DashboardDeps } from '../../../src/adapters/http/dashboard/deps';
import type { ErrorQueueAccess } from '../../../src/ports/error-queue';
import type { Overview } from '../../../src/adapters/http/dashboard/overview';
import { minuteBucket } from '../../../src/domain/time-buckets';
import type { ErrorMessageView, ReplayProgress } from '../../../src/ports/error-queue';
import type { DashboardConfig } from '../../../src/config/config';
import type { ContactRecord } from '../../../src/domain/contact-event';
import type { EntranceState, MinuteStatsRow, StateStore, StoredItem } from '../../../src/ports/state-store';
import { TransientError } from '../../../src/ports/messaging';
import type { OperatorActionResult } from '../../../src/application/operator-actions';
import { httpRequest, type HttpRequestOptions, type HttpResponse } from '../../helpers/http';

/** The JSON API and pages behind /ui, against fakes of the store, the error queue and the control publisher. */

const NOW = Date.parse('2026-11-23T10:30:00.000Z');
const USER = 'operator';
const PASSWORD = 'correct-horse-battery';

function record(n: number, over: Partial<ContactRecord> = {}): ContactRecord {
  return {
    contactId: `wi-00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    externalId: `CASE-${n}`,
    source: 'bank-support',
    entrance: n % 2 ? 'loans' : 'support',
    channel: 'email',
    workItem: true,
    taskType: n % 3 ? 'loan-review' : 'voicemail',
    priority: 5,
    subject: `Case ${n}`,
    contactData: { WorkItemTask: n % 3 ? 'loan-review' : 'voicemail', CaseUrl: `https://bank.example/${n}` },
    presentation: { icon: 'workitem', preview: `body ${n}`, reply: false, didNotArrive: false },
    receivedAt: new Date(NOW - (100 - n) * 1000).toISOString(),
    ...over,
  };
}

class FakeStore {
  items: StoredItem[] = [];
  entranceStates: EntranceState[] = [
    { name: 'loans', open: true, parked: 0 },
    { name: 'support', open: false, since: '2026-11-23T09:00:00.000Z', by: 'cli:anna', parked: 2 },
  ];
  minuteRows: MinuteStatsRow[] = [
    { minute: minuteBucket(NOW), metric: 'accepted', taskType: 'loan-review', entrance: 'loans', value: 4 },
    { minute: minuteBucket(NOW - 60_000), metric: 'rejected', taskType: '', entrance: '', value: 1 },
  ];

  async entrances(names: string[]) {
    return this.entranceStates.filter((e) => names.includes(e.name));
  }
  async stats() {
    return [{ hour: '2026112310', metric: 'accepted', taskType: 'loan-review', entrance: 'loans', value: 9 }];
  }
  async minuteStats() {
    return this.minuteRows;
  }
  async countUnfinished() {
    return this.items.length;
  }
  async countOverdueByTaskType() {
    return [{ taskType: 'loan-review', entrance: 'loans', count: 2 }];
  }
  async pageUnfinished(after: number, limit: number) {
    return this.items.filter((i) => i.seq > after).slice(0, limit);
  }
  async getItem(contactId: string) {
    return this.items.find((i) => i.contactId === contactId) ?? null;
  }
}

class FakeErrorQueue implements ErrorQueueAccess {
  messages: ErrorMessageView[] = [];
  gate: Promise<void> = Promise.resolve();
  replays: { code?: string; id?: string }[] = [];
  async count() {
    return this.messages.length;
  }
  async browse(max: number) {
    return { total: this.messages.length, examined: Math.min(max, this.messages.length), messages: this.messages.slice(0, max) };
  }
  async replay(o: Parameters<ErrorQueueAccess['replay']>[0]) {
    this.replays.push({ code: o.code, id: o.id });
    const picked = this.messages.filter((m) => (!o.code || m.code === o.code) && (!o.id || m.id === o.id));
    o.onStart?.(this.messages.length);
    const p: ReplayProgress = { examined: 0, moved: 0, kept: 0, noRoutingKey: 0 };
    await this.gate;
    for (const m of this.messages) {
      p.examined++;
      if (picked.includes(m)) p.moved++;
      else p.kept++;
      o.onProgress?.(p);
    }
    this.messages = this.messages.filter((m) => !picked.includes(m));
    return { progress: p, total: p.examined };
  }
}

function errorMessage(n: number, code: string): ErrorMessageView {
  return {
    id: String(n).padStart(20, 'a'),
    code,
    path: '/workItem/entrance',
    message: `entrance "nowhere-${n}" is not configured`,
    firstFailedAt: '2026-11-23T10:00:00.000Z',
    failedAt: '2026-11-23T10:00:00.000Z',
    originalRoutingKey: 'workitem.bank-support',
    originalExchange: 'workitem.inbound',
    messageId: `m-${n}`,
    redelivered: false,
    bodyPreview: '<workItem>…',
    replayable: true,
  };
}

const LINKS = new AttachmentUrlSigner('dashboard-test-secret-of-32-characters!', 600, 'http://localhost:8080', () => NOW);

const quietLog = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  child: () => quietLog,
  isDebugEnabled: () => false,
};

interface World {
  base: string;
  store: FakeStore;
  errors: FakeErrorQueue;
  published: [string, { entrance: string; by: string }][];
  publishResult: 'confirmed' | 'returned';
  /** What the item actions were asked, and what they answer next (or throw). */
  actions: [string, string, string, object?][];
  actionResult: OperatorActionResult | Error;
  dashboard: Dashboard;
  close(): Promise<void>;
}

async function world(dashboard: Partial<DashboardConfig>): Promise<World> {
  const store = new FakeStore();
  const errors = new FakeErrorQueue();
  const w = { store, errors, published: [], publishResult: 'confirmed', actions: [] } as unknown as World;
  const act = async (entry: [string, string, string, object?]): Promise<OperatorActionResult> => {
    w.actions.push(entry);
    if (w.actionResult instanceof Error) throw w.actionResult;
    return w.actionResult ?? { ok: true, contactId: entry[1], state: 'held', message: 'held (was routed)' };
  };
  const deps: DashboardDeps = {
    cfg: {
      dashboard: { enabled: true, credentials: null, sessionTtlMs: 3_600_000, refreshMs: 5000, ...dashboard },
      entrances: {
        loans: { name: 'loans', displayName: 'Loans', maxParked: 10, maxParkSeconds: 60 },
        support: { name: 'support', displayName: 'Customer support', maxParked: 10, maxParkSeconds: 60 },
      },
      publicBaseUrl: 'http://localhost:8080',
      topology: { errorQueue: 'workitem.error', controlExchange: 'contactcenter.events' } as DashboardDeps['cfg']['topology'],
    },
    store: store as unknown as StateStore,
    errorQueue: errors,
    publishControl: async (routingKey, body) => {
      w.published.push([routingKey, body]);
      return w.publishResult;
    },
    attachmentLink: (contactId, fileName) => LINKS.signedPath(contactId, fileName),
    itemActions: {
      hold: (contactId, user, terms) => act(['hold', contactId, user, terms]),
      resume: (contactId, user) => act(['resume', contactId, user]),
      cancel: (contactId, user) => act(['cancel', contactId, user]),
    },
    log: quietLog,
    now: () => NOW,
  };
  w.dashboard = createDashboard(deps);
  const server = http.createServer((req, res) => {
    w.dashboard.handle(req, res, new URL(req.url ?? '/', 'http://localhost')).catch((err) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  w.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  w.close = () => new Promise<void>((r) => server.close(() => r()));
  return w;
}

async function waitFor<T>(fn: () => Promise<T | undefined>, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('dashboard API, read-only (no credentials)', () => {
  let w: World;
  beforeAll(async () => {
    w = await world({});
    w.store.items = [1, 2, 3].map((n) => ({ contactId: record(n).contactId, seq: n, state: 'routed', record: record(n) }));
  });
  afterAll(() => w.close());

  it('serves the overview JSON with counts, chart, unfinished and entrances', async () => {
    const r = await httpRequest(`${w.base}/ui/api/overview`);
    expect(r.status).toBe(200);
    const o = r.json<Overview>();
    expect(o.counts.lastHour).toMatchObject({ accepted: 4, rejected: 1, received: 5 });
    expect(o.counts.last24h.accepted).toBe(9);
    expect(o.serviceLevel.rows).toEqual([
      {
        taskType: 'loan-review',
        received: 9,
        ended: 0,
        endedWithDue: 0,
        endedBeforeDue: 0,
        endedBeforeDuePct: null,
        medianToEndMs: null,
        p90ToEndMs: null,
        overdueNow: 2,
      },
    ]);
    expect(o.serviceLevel.byEntrance).toEqual([expect.objectContaining({ taskType: 'loan-review', entrance: 'loans', overdueNow: 2 })]);
    expect(o.chart.series.map((s) => s.taskType)).toEqual(['loan-review', '(none)']);
    expect(o.unfinished).toMatchObject({ count: 3, oldestAgeSeconds: 99 });
    expect(o.entrances).toEqual([
      { name: 'loans', displayName: 'Loans', state: 'open', since: null, by: null, parked: 0 },
      { name: 'support', displayName: 'Customer support', state: 'closed', since: '2026-11-23T09:00:00.000Z', by: 'cli:anna', parked: 2 },
    ]);
  });

  it('sends security headers on pages and API', async () => {
    for (const path of ['/ui', '/ui/api/overview', '/ui/static/dashboard.js']) {
      const r = await httpRequest(`${w.base}${path}`);
      expect(r.status).toBe(200);
      expect(r.headers['content-security-policy']).toContain("default-src 'self'");
      expect(r.headers['content-security-policy']).toContain("script-src 'self'");
      expect(r.headers['content-security-policy']).not.toContain('unsafe-inline');
      expect(r.headers['x-frame-options']).toBe('DENY');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('renders pages with no inline script and without CSRF token (nothing to protect)', async () => {
    const page = (await httpRequest(`${w.base}/ui`)).text();
    expect(page).toContain('read-only');
    expect(page).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page).not.toContain('csrf-token');
    expect(page).not.toMatch(/\son[a-z]+=/i); // no inline event handlers
  });

  it('refuses actions', async () => {
    const r = await httpRequest(`${w.base}/ui/api/entrances/loans/close`, { method: 'POST', body: {} });
    expect(r.status).toBe(403);
    expect(r.json<{ error: string }>().error).toMatch(/read-only/);
    expect((await httpRequest(`${w.base}/ui/api/errors/replay`, { method: 'POST', body: { code: 'X' } })).status).toBe(403);
    for (const verb of ['hold', 'resume', 'cancel']) {
      const r = await httpRequest(`${w.base}/ui/api/items/${record(1).contactId}/${verb}`, { method: 'POST', body: {} });
      expect(r.status).toBe(403);
    }
    expect(w.published).toEqual([]);
    expect(w.actions).toEqual([]);
  });

  it("offers an item's actions only disabled", async () => {
    const page = (await httpRequest(`${w.base}/ui/items/${record(1).contactId}`)).text();
    expect(page).toMatch(/data-verb="hold"[^>]*disabled/);
  });

  it('refuses requests naming a foreign Host (DNS rebinding)', async () => {
    const r = await httpRequest(`${w.base}/ui/api/overview`, { headers: { host: 'attacker.example' } });
    expect(r.status).toBe(403);
  });

  it('has no login page in read-only mode', async () => {
    const r = await httpRequest(`${w.base}/ui/login`);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/ui');
  });
});

describe('dashboard API with credentials', () => {
  let w: World;
  let cookie: string;
  let csrf: string;

  const call = (path: string, o: HttpRequestOptions = {}): Promise<HttpResponse> =>
    httpRequest(`${w.base}${path}`, { ...o, headers: { cookie, ...o.headers } });
  const act = (path: string, body: object = {}, headers: Record<string, string> = {}) =>
    call(path, { method: 'POST', body, headers: { 'x-csrf-token': csrf, origin: w.base, ...headers } });

  beforeAll(async () => {
    w = await world({ credentials: { user: USER, password: PASSWORD } });
    w.store.items = [
      ...[1, 2, 3, 4, 5].map((n) => ({ contactId: record(n).contactId, seq: n, state: 'routed' as const, record: record(n) })),
      {
        contactId: record(6).contactId,
        seq: 6,
        state: 'parked' as const,
        parkedAt: NOW - 5000,
        record: record(6, {
          subject: '<script>alert("x")</script>',
          customer: { name: 'Jane <b>Doe</b>', email: 'jane@example.com' },
          attachment: {
            fileName: 'call 1.wav',
            contentType: 'audio/wav',
            size: 1234,
            sha256: 'ab'.repeat(32),
            url: 'http://x/attachments/a',
          },
        }),
      },
    ];
    w.errors.messages = [errorMessage(1, 'UNKNOWN_ENTRANCE'), errorMessage(2, 'UNKNOWN_ENTRANCE'), errorMessage(3, 'MALFORMED_XML')];
  });
  afterAll(() => w.close());

  it('sends pages to the login form and API calls a 401 without a session', async () => {
    const page = await httpRequest(`${w.base}/ui/items?state=buffered`);
    expect(page.status).toBe(303);
    expect(page.headers.location).toBe('/ui/login?next=%2Fui%2Fitems%3Fstate%3Dbuffered');
    expect((await httpRequest(`${w.base}/ui/api/overview`)).status).toBe(401);
    const login = await httpRequest(`${w.base}/ui/login`);
    expect(login.status).toBe(200);
    expect(login.text()).toContain('name="password"');
  });

  it('refuses wrong credentials', async () => {
    const r = await httpRequest(`${w.base}/ui/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `user=${USER}&password=wrong`,
    });
    expect(r.status).toBe(401);
    expect(r.headers['set-cookie']).toBeUndefined();
  });

  it('refuses a cross-site login post', async () => {
    const r = await httpRequest(`${w.base}/ui/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: `user=${USER}&password=${PASSWORD}`,
    });
    expect(r.status).toBe(403);
  });

  it('signs in with the form: HttpOnly SameSite=Strict session cookie, CSRF token in the page, no password', async () => {
    const r = await httpRequest(`${w.base}/ui/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: w.base },
      body: `user=${USER}&password=${encodeURIComponent(PASSWORD)}&next=${encodeURIComponent('/ui/errors')}`,
    });
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/ui/errors');
    const setCookie = r.headers['set-cookie']![0];
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Path=\/ui/);
    cookie = setCookie.split(';')[0];
    const page = (await call('/ui')).text();
    csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page)![1];
    expect(page).toContain(`Signed in as <b>${USER}</b>`);
    expect(page).not.toContain(PASSWORD);
  });

  it('only redirects to dashboard paths after sign-in', async () => {
    const r = await httpRequest(`${w.base}/ui/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `user=${USER}&password=${encodeURIComponent(PASSWORD)}&next=${encodeURIComponent('//evil.example/ui')}`,
    });
    expect(r.headers.location).toBe('/ui');
  });

  it('closes an entrance: the control event with by "dashboard:<user>", only with the CSRF token', async () => {
    expect((await call('/ui/api/entrances/loans/close', { method: 'POST', body: {} })).status).toBe(403);
    expect((await act('/ui/api/entrances/loans/close', {}, { 'x-csrf-token': 'forged' })).status).toBe(403);
    expect((await act('/ui/api/entrances/loans/close', {}, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await act('/ui/api/entrances/loans/close', {}, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect(w.published).toEqual([]);

    const r = await act('/ui/api/entrances/loans/close');
    expect(r.status).toBe(202);
    expect(r.json()).toEqual({ published: 'entrance.closed', entrance: 'loans', by: `dashboard:${USER}` });
    expect((await act('/ui/api/entrances/support/open')).status).toBe(202);
    expect(w.published).toEqual([
      ['entrance.closed', { entrance: 'loans', by: `dashboard:${USER}` }],
      ['entrance.opened', { entrance: 'support', by: `dashboard:${USER}` }],
    ]);
  });

  it('holds, resumes and cancels an item for the signed-in user, only with the CSRF token and the same origin', async () => {
    const id = record(1).contactId;
    expect((await call(`/ui/api/items/${id}/hold`, { method: 'POST', body: {} })).status).toBe(403);
    expect((await act(`/ui/api/items/${id}/hold`, {}, { 'x-csrf-token': 'forged' })).status).toBe(403);
    expect((await act(`/ui/api/items/${id}/hold`, {}, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await act(`/ui/api/items/${id}/resume`, {}, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect(w.actions).toEqual([]);
    expect((await call(`/ui/api/items/${id}/hold`)).status).toBe(405);

    const held = await act(`/ui/api/items/${id}/hold`, { until: '2026-11-24T08:00:00Z', reason: 'docs', extra: 1 });
    expect(held.status).toBe(200);
    expect(held.json()).toEqual({ ok: true, contactId: id, state: 'held', message: 'held (was routed)', by: `dashboard:${USER}` });
    expect((await act(`/ui/api/items/${id}/resume`)).status).toBe(200);
    expect((await act(`/ui/api/items/${id}/cancel`)).status).toBe(200);
    expect(w.actions).toEqual([
      ['hold', id, USER, { until: '2026-11-24T08:00:00Z', reason: 'docs' }],
      ['resume', id, USER],
      ['cancel', id, USER],
    ]);
    expect((await act(`/ui/api/items/${id}/hold`, { until: 12 })).status).toBe(400);
    expect((await act('/ui/api/items/wi-nope/hold')).status).toBe(404);

    w.actionResult = { ok: false, status: 409, error: 'not held (it is routed): nothing to resume' };
    const r = await act(`/ui/api/items/${id}/resume`);
    expect(r.status).toBe(409);
    expect(r.json<{ error: string }>().error).toMatch(/not held/);
    w.actionResult = new TransientError('contact.withdrawn refused by the broker');
    const unconfirmed = await act(`/ui/api/items/${id}/hold`);
    expect(unconfirmed.status).toBe(503);
    expect(unconfirmed.json<{ error: string }>().error).toMatch(/not confirmed by the broker/);
    w.actionResult = new Error('a bug');
    expect((await act(`/ui/api/items/${id}/cancel`)).status).toBe(500);
    delete (w as Partial<World>).actionResult;
    w.actions.length = 0;
  });

  it('refuses unknown entrances, non-JSON bodies, and reports an unroutable control event', async () => {
    expect((await act('/ui/api/entrances/nowhere/close')).status).toBe(404);
    expect((await act('/ui/api/entrances/__proto__/close')).status).toBe(404);
    const text = await call('/ui/api/entrances/loans/close', {
      method: 'POST',
      body: 'entrance=loans',
      headers: { 'x-csrf-token': csrf, 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    w.publishResult = 'returned';
    const r = await act('/ui/api/entrances/loans/close');
    expect(r.status).toBe(502);
    expect(r.json<{ error: string }>().error).toMatch(/no queue is bound/);
    w.publishResult = 'confirmed';
  });

  it('lists unfinished items filtered by entrance, task type and state, paged', async () => {
    const all = (await call('/ui/api/items?limit=2')).json<{ items: { contactId: string }[]; nextCursor: number; total: number }>();
    expect(all.items).toHaveLength(2);
    expect(all.total).toBe(6);
    const next = (await call(`/ui/api/items?limit=2&cursor=${all.nextCursor}`)).json<{ items: { externalId: string }[] }>();
    expect(next.items.map((i) => i.externalId)).toEqual(['CASE-3', 'CASE-4']);
    const loans = (await call('/ui/api/items?entrance=loans')).json<{ items: { externalId: string }[] }>();
    expect(loans.items.map((i) => i.externalId)).toEqual(['CASE-1', 'CASE-3', 'CASE-5']);
    const voicemail = (await call('/ui/api/items?taskType=voicemail')).json<{ items: { externalId: string }[] }>();
    expect(voicemail.items.map((i) => i.externalId)).toEqual(['CASE-3', 'CASE-6']);
    const buffered = (await call('/ui/api/items?state=buffered')).json<{ items: { externalId: string; receiptStatus: string }[] }>();
    expect(buffered.items).toEqual([expect.objectContaining({ externalId: 'CASE-6', receiptStatus: 'buffered' })]);
    expect((await call('/ui/api/items?state=gone')).status).toBe(400);
  });

  it("shows an item's detail: contact data, state, attachment link, timestamps (never the bytes)", async () => {
    const id = record(6).contactId;
    const d = (await call(`/ui/api/items/${id}`)).json<Record<string, unknown>>();
    expect(d).toMatchObject({
      contactId: id,
      state: 'buffered',
      receiptStatus: 'buffered',
      contactData: { WorkItemTask: 'voicemail', CaseUrl: 'https://bank.example/6' },
      attachment: { fileName: 'call 1.wav', size: 1234 },
      receivedAt: record(6).receivedAt,
      parkedAt: new Date(NOW - 5000).toISOString(),
    });
    // The session cookie is scoped to /ui: the page links the attachment with a signed, expiring link instead.
    const link = new URL((d.attachment as { link: string }).link, 'http://localhost');
    expect(link.pathname).toBe(`/attachments/${id}/call%201.wav`);
    expect(link.searchParams.get('expires')).toBe(String(NOW / 1000 + 600));
    expect(LINKS.check(id, 'call 1.wav', link.searchParams.get('expires'), link.searchParams.get('sig'))).toBe('valid');
    expect((await call('/ui/api/items/wi-00000000-0000-4000-8000-999999999999')).status).toBe(404);
  });

  it('escapes what senders wrote in every page', async () => {
    const page = (await call(`/ui/items/${record(6).contactId}`)).text();
    expect(page).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(page).not.toContain('<script>alert');
    expect(page).toContain('Jane &lt;b&gt;Doe&lt;/b&gt;');
    const list = (await call('/ui/items')).text();
    expect(list).not.toContain('<script>alert');
  });

  it('groups the error queue by code, with message and XML path', async () => {
    const e = (await call('/ui/api/errors')).json<{
      total: number;
      groups: { code: string; count: number; messages: { path: string; message: string }[] }[];
    }>();
    expect(e.total).toBe(3);
    expect(e.groups.map((g) => [g.code, g.count])).toEqual([
      ['UNKNOWN_ENTRANCE', 2],
      ['MALFORMED_XML', 1],
    ]);
    expect(e.groups[0].messages[0]).toMatchObject({ path: '/workItem/entrance', message: 'entrance "nowhere-1" is not configured' });
    const page = (await call('/ui/errors')).text();
    expect(page).toContain('Replay all UNKNOWN_ENTRANCE');
  });

  it('replays all of a code in the background, one at a time, with progress', async () => {
    let open!: () => void;
    w.errors.gate = new Promise<void>((r) => (open = r));
    expect((await act('/ui/api/errors/replay', {})).status).toBe(400);
    expect((await act('/ui/api/errors/replay', { code: 'not a code' })).status).toBe(400);
    expect((await act('/ui/api/errors/replay', { messageId: '../../etc' })).status).toBe(400);
    expect((await call('/ui/api/errors/replay', { method: 'POST', body: { code: 'UNKNOWN_ENTRANCE' } })).status).toBe(403);

    const started = await act('/ui/api/errors/replay', { code: 'UNKNOWN_ENTRANCE' });
    expect(started.status).toBe(202);
    const { job } = started.json<{ job: { id: string; status: string; by: string; code: string } }>();
    expect(job).toMatchObject({ status: 'running', code: 'UNKNOWN_ENTRANCE', by: `dashboard:${USER}` });
    expect((await act('/ui/api/errors/replay', { code: 'MALFORMED_XML' })).status).toBe(409);
    expect((await call(`/ui/api/replays/${job.id}`)).json()).toMatchObject({ status: 'running', total: 3 });

    open();
    const done = await waitFor(async () => {
      const j = (await call(`/ui/api/replays/${job.id}`)).json<{ status: string }>();
      return j.status === 'running' ? undefined : j;
    });
    expect(done).toMatchObject({ status: 'done', moved: 2, kept: 1, examined: 3, total: 3 });
    expect(w.errors.replays).toEqual([{ code: 'UNKNOWN_ENTRANCE', id: undefined }]);
    expect((await call('/ui/api/replays')).json<{ replays: { id: string }[] }>().replays[0].id).toBe(job.id);
  });

  it('replays one message by its id', async () => {
    const r = await act('/ui/api/errors/replay', { code: 'MALFORMED_XML', messageId: errorMessage(3, 'X').id });
    expect(r.status).toBe(202);
    const { job } = r.json<{ job: { id: string } }>();
    await waitFor(async () => ((await call(`/ui/api/replays/${job.id}`)).json<{ status: string }>().status === 'done' ? true : undefined));
    expect(w.errors.replays[1]).toEqual({ code: 'MALFORMED_XML', id: errorMessage(3, 'X').id });
    expect(w.errors.messages).toEqual([]);
  });

  it('serves its static files, and nothing else from disk', async () => {
    const js = await call('/ui/static/dashboard.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    const chart = await call('/ui/static/chart.umd.min.js');
    expect(chart.status).toBe(200);
    expect(chart.text()).toContain('Chart.js');
    expect((await call('/ui/static/..%2F..%2Fpackage.json')).status).toBe(404);
    expect((await call('/ui/static/secret.txt')).status).toBe(404);
  });

  it('signs out with the CSRF token', async () => {
    const forged = await call('/ui/logout', {
      method: 'POST',
      body: 'csrf=forged',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(forged.status).toBe(403);
    const r = await call('/ui/logout', {
      method: 'POST',
      body: `csrf=${csrf}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(r.status).toBe(303);
    expect(r.headers['set-cookie']![0]).toMatch(/Max-Age=0/);
    expect((await call('/ui/api/overview')).status).toBe(401);
  });

  it('answers 429 with Retry-After to a guesser; the browser that signed in before still gets in (trusted-browser cookie)', async () => {
    const form = (password: string, device?: string) =>
      httpRequest(`${w.base}/ui/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(device ? { cookie: device } : {}) },
        body: `user=${USER}&password=${encodeURIComponent(password)}`,
      });
    const ok = await form(PASSWORD);
    expect(ok.status).toBe(303);
    const device = ok.headers['set-cookie']!.find((c) => c.startsWith('wi_dashboard_device='))!;
    expect(device).toMatch(/; Path=\/ui\/login; HttpOnly; SameSite=Strict; Max-Age=2592000$/);
    for (let i = 0; i < 10; i++) expect((await form(`guess-${i}`)).status).toBe(401);
    const refused = await form(PASSWORD);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.headers['set-cookie']).toBeUndefined();
    expect(refused.text()).toContain('Too many failed sign-ins');
    expect((await form(PASSWORD, device.split(';')[0])).status).toBe(303);
  });
});
