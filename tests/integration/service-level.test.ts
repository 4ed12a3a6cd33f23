import type { Overview } from '../../src/adapters/http/dashboard/overview';
import { timeToEndText } from '../../src/cli/commands/report';
import {
  quantileMs,
  TIME_TO_END_BOUNDS_S,
  TIME_TO_END_MAX_FACTOR,
  type ServiceLevelFigures,
  type ServiceLevelRow,
} from '../../src/domain/service-level';
import type { ItemHistoryView } from '../../src/ports/item-history';
import { amqpUrl } from '../helpers/broker';
import { runCli } from '../helpers/cli';
import { Fixture } from '../helpers/fixture';
import { httpRequest } from '../helpers/http';
import { DEFAULT_REDIS_URL } from '../helpers/redis';
import { waitUntil } from '../helpers/wait';
import { cancelXml, newExternalId, updateXml, workItemXml } from '../helpers/work-items';
import { DashboardSession, dashboardEnv } from '../ui/support/dashboard-fixture';

/**
 * Issue 25 part 4: service level per task type, against the real service. A known mix of items (three task types, two
 * entrances; dueAt far ahead, a few seconds ahead, past on arrival, from a task type's dueIn, none) is ended, cancelled,
 * expired, re-timed and re-typed at chosen moments. The expected figures are computed from what was sent and from each
 * item's history (its `received` and `ended` steps carry the times the store counted, so each time to end and each
 * "before its dueAt" is known exactly, and with it its bucket); then every figure is checked in `workitem report
 * --json`, its text table, `--by entrance`, the dashboard's overview API and /metrics.
 */

jest.setTimeout(120_000);
const WAIT_MS = 20_000;
const SECOND = 1000;

const f = new Fixture({
  env: dashboardEnv(),
  config: {
    taskTypes: {
      'loan-review': { entrance: 'loans' },
      // Items without their own dueAt are due 3 s after receipt.
      complaint: { entrance: 'support', dueIn: 'PT3S' },
    },
  },
});
let session: DashboardSession;

beforeAll(async () => {
  await f.setup();
  session = await DashboardSession.login(f.svc.baseUrl);
}, 60_000);
afterAll(() => f.teardown());

interface Sent {
  name: string;
  externalId: string;
  contactId: string;
  /** Task type and entrance it was received under. */
  taskType: string;
  entrance: string;
  /** Its task type when it ended (an update may change it). */
  endedTaskType?: string;
  /** dueAt as sent (ms); for complaint items without one, receivedAt + 3 s. */
  dueMs?: number;
  ended?: boolean;
}

const sent = new Map<string, Sent>();
let seq = 0;

async function receipt(xml: string): Promise<{ status?: string; contactId?: string }> {
  const correlationId = `slr-${++seq}`;
  await f.client.publishWorkItem(xml, { replyTo: true, correlationId });
  const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.properties.correlationId === correlationId);
  return r;
}

/** Publishes the items, then waits for all their receipts (so they are received within moments of each other). */
async function sendItems(
  items: { name: string; taskType: string; entrance?: string; dueInMs?: number; expiresInMs?: number }[],
): Promise<void> {
  const now = Date.now();
  const pending = items.map((it) => {
    const externalId = newExternalId(it.name);
    const dueAt = it.dueInMs === undefined ? undefined : new Date(now + it.dueInMs).toISOString();
    const expiresAt = it.expiresInMs === undefined ? undefined : new Date(now + it.expiresInMs).toISOString();
    const correlationId = `slr-${++seq}`;
    const xml = workItemXml({
      externalId,
      taskType: it.taskType,
      entrance: it.entrance ?? null,
      ...(dueAt && { dueAt }),
      ...(expiresAt && { expiresAt }),
    });
    return { it, externalId, correlationId, xml, dueMs: dueAt === undefined ? undefined : Date.parse(dueAt) };
  });
  for (const p of pending) await f.client.publishWorkItem(p.xml, { replyTo: true, correlationId: p.correlationId });
  const ids = new Set(pending.map((p) => p.correlationId));
  const receipts = await f.client.waitForReceipts(pending.length, WAIT_MS, (x) => ids.has(x.properties.correlationId ?? ''));
  for (const p of pending) {
    const r = receipts.find((x) => x.properties.correlationId === p.correlationId)!;
    expect({ name: p.it.name, status: r.status }).toEqual({ name: p.it.name, status: 'accepted' });
    sent.set(p.it.name, {
      name: p.it.name,
      externalId: p.externalId,
      contactId: r.contactId!,
      taskType: p.it.taskType,
      entrance: p.it.entrance ?? (p.it.taskType === 'complaint' ? 'support' : 'loans'),
      dueMs: p.dueMs,
    });
  }
}

async function end(...names: string[]): Promise<void> {
  for (const name of names) {
    const s = sent.get(name)!;
    s.ended = true;
    s.endedTaskType ??= s.taskType;
    await f.client.publishControl('contact.ended', { contactId: s.contactId });
  }
}

async function metricsText(): Promise<string> {
  return (await httpRequest(`${f.svc.baseUrl}/metrics`)).text();
}

/** Sum of a metric's samples whose labels contain every `want` pair. */
function sample(text: string, name: string, want: Record<string, string> = {}): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm'))) {
    const labels = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(want).every(([k, v]) => labels[k] === v)) sum += Number(m[2]);
  }
  return sum;
}

function cliEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AMQP_URL: amqpUrl(f.vhost),
    REDIS_URL: DEFAULT_REDIS_URL,
    REDIS_KEY_PREFIX: f.prefix,
    WORKITEM_CONFIG: f.svc.configFile,
  };
}

async function report(...args: string[]): Promise<string> {
  const r = await runCli(['report', '--since', '2h', ...args], cliEnv());
  if (r.code !== 0) throw new Error(`workitem report exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

const BOUNDS_MS = TIME_TO_END_BOUNDS_S.map((s) => Math.round(s * 1000));
/** The bucket (upper bound, ms) a time to end falls in: the first bound not below it, as Prometheus `le`. */
const bucketOf = (ms: number): number => BOUNDS_MS.find((b) => ms <= b) ?? Infinity;

interface Expected extends ServiceLevelFigures {
  taskType: string;
  entrance?: string;
  /** The exact times to end (ms) and their buckets. */
  times: number[];
  histogram: Map<number, number>;
}

function emptyExpected(taskType: string, entrance?: string): Expected {
  return {
    taskType,
    ...(entrance !== undefined && { entrance }),
    received: 0,
    ended: 0,
    endedWithDue: 0,
    endedBeforeDue: 0,
    endedBeforeDuePct: null,
    medianToEndMs: null,
    p90ToEndMs: null,
    overdueNow: 0,
    times: [],
    histogram: new Map(),
  };
}

/** What the figures must be, from what was sent and each ended item's history; overdueNow: by (task type, entrance). */
function expectedFigures(
  timeToEnd: Map<string, { ms: number; endedAt: number }>,
  overdueNow: Record<string, number>,
  byEntrance: boolean,
): { rows: Expected[]; total: Expected } {
  const groups = new Map<string, Expected>();
  const total = emptyExpected('TOTAL');
  const group = (taskType: string, entrance: string) => {
    const key = byEntrance ? `${taskType}|${entrance}` : taskType;
    if (!groups.has(key)) groups.set(key, emptyExpected(taskType, byEntrance ? entrance : undefined));
    return groups.get(key)!;
  };
  for (const s of sent.values()) {
    for (const g of [group(s.taskType, s.entrance), total]) g.received++;
    if (!s.ended) continue;
    const t = timeToEnd.get(s.name)!;
    for (const g of [group(s.endedTaskType!, s.entrance), total]) {
      g.ended++;
      g.times.push(t.ms);
      g.histogram.set(bucketOf(t.ms), (g.histogram.get(bucketOf(t.ms)) ?? 0) + 1);
      if (s.dueMs !== undefined) {
        g.endedWithDue++;
        if (t.endedAt <= s.dueMs) g.endedBeforeDue++;
      }
    }
  }
  for (const [key, n] of Object.entries(overdueNow)) {
    const [taskType, entrance] = key.split('|');
    for (const g of [group(taskType, entrance), total]) g.overdueNow += n;
  }
  const finish = (g: Expected): Expected => {
    const q = (p: number) => {
      const v = quantileMs(g.histogram, p);
      return v === null ? null : Math.round(v);
    };
    return {
      ...g,
      endedBeforeDuePct: g.endedWithDue > 0 ? Math.round((1000 * g.endedBeforeDue) / g.endedWithDue) / 10 : null,
      medianToEndMs: q(0.5),
      p90ToEndMs: q(0.9),
    };
  };
  const rows = [...groups.values()]
    .map(finish)
    .sort((a, b) => a.taskType.localeCompare(b.taskType) || (a.entrance ?? '').localeCompare(b.entrance ?? ''));
  return { rows, total: finish(total) };
}

/** The figures as the report, dashboard and /metrics give them: without the test's own working. */
function figuresOf(e: Expected): ServiceLevelRow {
  const { times: _t, histogram: _h, ...rest } = e;
  return rest;
}

/** The nearest-rank percentile of the exact times: the true value the approximate one stands for. */
function nearestRank(times: number[], q: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

/** The service-level table of the report's text output: its rows as cells (split on runs of 2+ spaces). */
function textTable(stdout: string, byEntrance: boolean): string[][] {
  const start = stdout.indexOf(`service level by task type${byEntrance ? ' and entrance' : ''}:`);
  expect(start).toBeGreaterThanOrEqual(0);
  const lines = stdout.slice(start).split('\n').slice(1);
  const header = lines.findIndex((l) => l.startsWith('TASK TYPE'));
  const rows: string[][] = [];
  for (const line of lines.slice(header)) {
    if (line.trim() === '') break;
    rows.push(line.trim().split(/ {2,}/));
  }
  return rows;
}

function expectedText(e: Expected, byEntrance: boolean): string[] {
  return [
    e.taskType,
    ...(byEntrance ? [e.entrance || '-'] : []),
    String(e.received),
    String(e.ended),
    e.endedBeforeDuePct === null ? '-' : `${e.endedBeforeDuePct.toFixed(1)}%`,
    timeToEndText(e.medianToEndMs),
    timeToEndText(e.p90ToEndMs),
    String(e.overdueNow),
  ];
}

it('a known mix through the real service: every service-level figure in the report, its text, --by entrance, the dashboard and /metrics', async () => {
  // Each name: task type L(oan-review), C(omplaint), K (callback, not configured); what happens to it is noted.
  await sendItems([
    { name: 'L2', taskType: 'loan-review', dueInMs: 60 * SECOND }, // ended well before its dueAt
    { name: 'L3', taskType: 'loan-review', dueInMs: 2 * SECOND }, // overdue, then ended after its dueAt
    { name: 'L4', taskType: 'loan-review' }, // no dueAt, ended
    { name: 'L5', taskType: 'loan-review', dueInMs: -3600 * SECOND }, // overdue on arrival, stays unfinished
    { name: 'L6', taskType: 'loan-review', entrance: 'support', dueInMs: 60 * SECOND }, // ended before its dueAt
    { name: 'L7', taskType: 'loan-review', entrance: 'support', dueInMs: 2 * SECOND }, // overdue, stays
    { name: 'C2', taskType: 'complaint' }, // due in 3 s (dueIn): overdue, then ended after it
    { name: 'C3', taskType: 'complaint' }, // overdue, then cancelled by its sender
    { name: 'C4', taskType: 'complaint' }, // overdue, then its dueAt moved an hour later
    { name: 'C5', taskType: 'complaint', expiresInMs: 7 * SECOND }, // overdue, then expired
    { name: 'C6', taskType: 'complaint' }, // overdue, stays
    { name: 'C7', taskType: 'complaint' }, // overdue, then re-typed as callback: its overdue count moves along
    { name: 'K1', taskType: 'callback', entrance: 'loans' }, // no dueAt, ended last
    { name: 'K2', taskType: 'callback', entrance: 'loans' }, // no dueAt, stays
  ]);
  // Ended within a second of arrival (each sent and ended on its own, so nothing else delays it).
  await sendItems([{ name: 'L1', taskType: 'loan-review', dueInMs: 60 * SECOND }]);
  await end('L1');
  await sendItems([{ name: 'C1', taskType: 'complaint' }]);
  await end('C1');

  // Complaint items are due 3 s after receipt: wait until all nine with a passed dueAt are marked overdue.
  await waitUntil(async () => sample(await metricsText(), 'workitem_overdue_total') === 9, {
    timeoutMs: WAIT_MS,
    describe: 'L3, L5, L7 and C2..C7 overdue',
  });
  await end('L2', 'L3', 'C2');
  for (const [name, inner] of [
    ['C4', `<dueAt>${new Date(Date.now() + 3600 * SECOND).toISOString()}</dueAt>`],
    ['C7', '<contactData><item key="WorkItemTask">callback</item></contactData>'],
  ]) {
    expect((await receipt(updateXml({ externalId: sent.get(name)!.externalId, inner }))).status).toBe('updated');
  }
  sent.get('C7')!.endedTaskType = 'callback';
  expect((await receipt(cancelXml({ externalId: sent.get('C3')!.externalId }))).status).toBe('cancelled');
  await new Promise((r) => setTimeout(r, 3 * SECOND));
  await end('L4', 'L6');
  await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === sent.get('C5')!.contactId && e.event.type === 'contact.expired');
  await new Promise((r) => setTimeout(r, 4 * SECOND));
  await end('K1');

  const endedNames = [...sent.values()].filter((s) => s.ended).map((s) => s.name);
  expect(endedNames.sort()).toEqual(['C1', 'C2', 'K1', 'L1', 'L2', 'L3', 'L4', 'L6']);
  await waitUntil(async () => sample(await metricsText(), 'workitem_time_to_end_seconds_count') === endedNames.length, {
    timeoutMs: WAIT_MS,
    describe: 'every End counted',
  });

  // Each ended item's exact time to end: its history's received and ended steps (the times the store counted).
  const timeToEnd = new Map<string, { ms: number; endedAt: number }>();
  for (const name of endedNames) {
    const h = await waitUntil(
      async () => {
        const v = await f.api<ItemHistoryView>(`/api/items/${sent.get(name)!.contactId}/history`);
        return v.steps.some((s) => s.step === 'ended') ? v : undefined;
      },
      { timeoutMs: WAIT_MS, describe: `${name}'s ended step` },
    );
    const at = (step: string) => Date.parse(h.steps.find((s) => s.step === step)!.at);
    timeToEnd.set(name, { ms: at('ended') - at('received'), endedAt: at('ended') });
    const s = sent.get(name)!;
    // A complaint's dueAt came from its task type's dueIn: receivedAt + 3 s.
    if (s.taskType === 'complaint') s.dueMs = at('received') + 3 * SECOND;
  }

  const overdueNow = { 'loan-review|loans': 1, 'loan-review|support': 1, 'complaint|support': 1, 'callback|support': 1 };
  const perType = expectedFigures(timeToEnd, overdueNow, false);
  const perEntrance = expectedFigures(timeToEnd, overdueNow, true);
  console.log(
    'times to end (ms):',
    Object.fromEntries([...timeToEnd].map(([n, t]) => [n, `${t.ms} (bucket ≤ ${bucketOf(t.ms) / 1000} s)`])),
  );

  // The intended mix, independently of the timing: ended before due (L1, L2 | L6 | C1), after (L3 | C2), none (L4, K1).
  expect(perType.rows.map((r) => [r.taskType, r.received, r.ended, r.endedWithDue, r.endedBeforeDue, r.overdueNow])).toEqual([
    ['callback', 2, 1, 0, 0, 1],
    ['complaint', 7, 2, 2, 1, 1],
    ['loan-review', 7, 5, 4, 3, 2],
  ]);
  expect(perEntrance.rows.map((r) => [r.taskType, r.entrance, r.endedBeforeDuePct, r.overdueNow])).toEqual([
    ['callback', 'loans', null, 0],
    ['callback', 'support', null, 1],
    ['complaint', 'support', 50, 1],
    ['loan-review', 'loans', 66.7, 1],
    ['loan-review', 'support', 100, 1],
  ]);
  // The approximate percentiles are within the stated factor of the exact ones (none is under 1 s here).
  for (const e of [...perType.rows, perType.total]) {
    for (const [q, est] of [
      [0.5, e.medianToEndMs],
      [0.9, e.p90ToEndMs],
    ] as const) {
      if (est === null) continue;
      const truth = nearestRank(e.times, q);
      if (truth <= SECOND) expect(Math.abs(est - truth)).toBeLessThanOrEqual(SECOND);
      else expect(Math.max(est / truth, truth / est)).toBeLessThanOrEqual(TIME_TO_END_MAX_FACTOR);
    }
  }

  // workitem report --json, per task type and split by entrance.
  type Json = { serviceLevel: { rows: ServiceLevelRow[]; total: ServiceLevelFigures; timeToEnd: { maxErrorFactor: number } } };
  const json = JSON.parse(await report('--json')) as Json;
  expect(json.serviceLevel.rows).toEqual(perType.rows.map(figuresOf));
  const { taskType: _t, ...totalFigures } = figuresOf(perType.total);
  expect(json.serviceLevel.total).toEqual(totalFigures);
  expect(json.serviceLevel.timeToEnd.maxErrorFactor).toBe(TIME_TO_END_MAX_FACTOR);
  const jsonByEntrance = JSON.parse(await report('--by', 'entrance', '--json')) as Json;
  expect(jsonByEntrance.serviceLevel.rows).toEqual(perEntrance.rows.map(figuresOf));
  expect(jsonByEntrance.serviceLevel.total).toEqual(totalFigures);

  // The text tables.
  const text = await report();
  console.log(`workitem report --since 2h\n${text}`);
  const header = ['TASK TYPE', 'RECEIVED', 'ENDED', 'ENDED BEFORE DUE %', 'MEDIAN TO END', 'P90 TO END', 'OVERDUE NOW'];
  expect(textTable(text, false)).toEqual([header, ...perType.rows.map((e) => expectedText(e, false)), expectedText(perType.total, false)]);
  expect(text).toMatch(/approximate \(~\): read from fixed buckets, within a factor 1\.6 of the true value/);
  const textByEntrance = await report('--by', 'entrance');
  console.log(`workitem report --since 2h --by entrance (service level)\n${textByEntrance.slice(textByEntrance.indexOf('service level'))}`);
  expect(textTable(textByEntrance, true)).toEqual([
    [header[0], 'ENTRANCE', ...header.slice(1)],
    ...perEntrance.rows.map((e) => expectedText(e, true)),
    expectedText({ ...perEntrance.total, entrance: '' }, true),
  ]);

  // The dashboard (signed in; not without).
  expect((await httpRequest(`${f.svc.baseUrl}/ui/api/overview`)).status).toBe(401);
  const overview = await session.json<Overview>('/ui/api/overview');
  expect(overview.serviceLevel.rows).toEqual(perType.rows.map(figuresOf));
  expect(overview.serviceLevel.byEntrance).toEqual(perEntrance.rows.map(figuresOf));
  expect(overview.serviceLevel.total).toEqual(totalFigures);
  const page = (await httpRequest(`${f.svc.baseUrl}/ui`, { headers: { cookie: session.cookie } })).text();
  for (const e of perType.rows) {
    const row = new RegExp(`<tr class="" data-sl-task-type="${e.taskType}">[\\s\\S]*?</tr>`).exec(page)?.[0] ?? '';
    expect(row).toContain(`data-cell="received">${e.received}<`);
    expect(row).toContain(`data-cell="ended">${e.ended}<`);
    expect(row).toContain(`data-cell="overdueNow">${e.overdueNow}<`);
  }

  // /metrics: the histogram's buckets, the before-due counters and the overdue-now gauge; Grafana's
  // histogram_quantile over these buckets is the report's median and p90.
  const metrics = await waitUntil(
    async () => {
      const t = await metricsText();
      return Object.entries(overdueNow).every(([k, n]) => {
        const [task_type, entrance] = k.split('|');
        return sample(t, 'workitem_overdue_by_task_type', { task_type, entrance }) === n;
      }) && sample(t, 'workitem_overdue_by_task_type') === 4
        ? t
        : undefined;
    },
    { timeoutMs: WAIT_MS, describe: 'workitem_overdue_by_task_type per task type and entrance' },
  );
  for (const e of perEntrance.rows) {
    const labels = { task_type: e.taskType, entrance: e.entrance! };
    expect({ ...labels, count: sample(metrics, 'workitem_time_to_end_seconds_count', labels) }).toEqual({ ...labels, count: e.ended });
    expect(sample(metrics, 'workitem_time_to_end_seconds_sum', labels)).toBeCloseTo(e.times.reduce((a, b) => a + b, 0) / 1000, 3);
    expect(sample(metrics, 'workitem_ended_with_due_total', labels)).toBe(e.endedWithDue);
    expect(sample(metrics, 'workitem_ended_before_due_total', labels)).toBe(e.endedBeforeDue);
    let below = 0;
    for (const bound of [...BOUNDS_MS, Infinity]) {
      const le = bound === Infinity ? '+Inf' : String(bound / 1000);
      const cumulative = sample(metrics, 'workitem_time_to_end_seconds_bucket', { ...labels, le });
      below += e.histogram.get(bound) ?? 0;
      expect({ ...labels, le, cumulative }).toEqual({ ...labels, le, cumulative: below });
    }
  }
  for (const e of perType.rows) {
    const fromMetrics = new Map<number, number>();
    let previous = 0;
    for (const bound of [...BOUNDS_MS, Infinity]) {
      const le = bound === Infinity ? '+Inf' : String(bound / 1000);
      const cumulative = sample(metrics, 'workitem_time_to_end_seconds_bucket', { task_type: e.taskType, le });
      if (cumulative > previous) fromMetrics.set(bound, cumulative - previous);
      previous = cumulative;
    }
    const round = (v: number | null) => (v === null ? null : Math.round(v));
    expect([e.taskType, round(quantileMs(fromMetrics, 0.5)), round(quantileMs(fromMetrics, 0.9))]).toEqual([
      e.taskType,
      e.medianToEndMs,
      e.p90ToEndMs,
    ]);
  }
});
