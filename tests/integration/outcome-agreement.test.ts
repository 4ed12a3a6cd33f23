import type { Overview } from '../../src/adapters/http/dashboard/overview';
import type { CollectedReceipt } from '../helpers/amqp-client';
import { amqpUrl } from '../helpers/broker';
import { runCli } from '../helpers/cli';
import { Fixture } from '../helpers/fixture';
import { httpRequest } from '../helpers/http';
import { DEFAULT_REDIS_URL, testRedisClient } from '../helpers/redis';
import { waitUntil } from '../helpers/wait';
import { hourBucket } from '../../src/domain/time-buckets';
import { cancelXml, newExternalId, updateXml, workItemXml } from '../helpers/work-items';
import { DashboardSession, dashboardEnv } from '../ui/support/dashboard-fixture';

/**
 * Issue 23 part A: one name per outcome, end to end. A known mix of messages goes through the real service; /metrics
 * (workitem_items_total by outcome), `workitem report --json` (the stored hourly counters) and /ui/api/overview (the
 * stored per-minute and hourly counters) must each show exactly what was sent, under the same names.
 *
 * received = every message a sender published that the service answered: accepted + buffered + scheduled + duplicate +
 * rejected + updated + withdrawn. completed, expired and activated happen later to an item already received.
 */

jest.setTimeout(120_000);

const WAIT_MS = 20_000;
const OUTCOMES = [
  'received',
  'accepted',
  'buffered',
  'scheduled',
  'duplicate',
  'rejected',
  'updated',
  'withdrawn',
  'completed',
  'expired',
  'activated',
] as const;
type Outcome = (typeof OUTCOMES)[number];
type Counts = Record<Outcome, number>;

const f = new Fixture({ env: dashboardEnv() });
let session: DashboardSession;

beforeAll(async () => {
  await f.setup();
  session = await DashboardSession.login(f.svc.baseUrl);
}, 60_000);
afterAll(() => f.teardown());

let seq = 0;
async function send(xml: string): Promise<CollectedReceipt> {
  const correlationId = `agree-${++seq}`;
  await f.client.publishWorkItem(xml, { replyTo: true, correlationId });
  const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.properties.correlationId === correlationId);
  return r;
}

const pick = (source: Partial<Record<string, number>>): Counts => Object.fromEntries(OUTCOMES.map((o) => [o, source[o] ?? 0])) as Counts;

async function fromMetrics(): Promise<Counts> {
  const text = (await httpRequest(`${f.svc.baseUrl}/metrics`)).body.toString();
  const sums: Record<string, number> = {};
  for (const m of text.matchAll(/^workitem_items_total\{([^}]*)\} (\d+)$/gm)) {
    const outcome = /outcome="([^"]*)"/.exec(m[1])?.[1] ?? '';
    sums[outcome] = (sums[outcome] ?? 0) + Number(m[2]);
  }
  return pick(sums);
}

async function fromReport(since = '2h'): Promise<Counts> {
  const r = await runCli(['report', '--since', since, '--json'], {
    ...process.env,
    AMQP_URL: amqpUrl(f.vhost),
    REDIS_URL: DEFAULT_REDIS_URL,
    REDIS_KEY_PREFIX: f.prefix,
    WORKITEM_CONFIG: f.svc.configFile,
  });
  if (r.code !== 0) throw new Error(`workitem report exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return pick(JSON.parse(r.stdout).total as Record<string, number>);
}

async function fromOverview(): Promise<{ lastHour: Counts; last24h: Counts }> {
  const o = await session.json<Overview>('/ui/api/overview');
  return {
    lastHour: pick(o.counts.lastHour as unknown as Record<string, number>),
    last24h: pick(o.counts.last24h as unknown as Record<string, number>),
  };
}

describe('outcome names agree across /metrics, workitem report and the dashboard', () => {
  it('a known mix of every outcome is counted exactly, under the same name, on every surface', async () => {
    const statuses: string[] = [];
    const accept = async (fields: Parameters<typeof workItemXml>[0] = {}) => {
      const externalId = newExternalId('AGR');
      const r = await send(workItemXml({ externalId, ...fields }));
      statuses.push(r.status ?? '?');
      return { externalId, contactId: r.contactId!, status: r.status, xml: workItemXml({ externalId, ...fields }) };
    };

    // 3 plain accepted items (one of them sent twice more: 2 duplicates).
    const plain = [await accept(), await accept(), await accept()];
    for (let i = 0; i < 2; i++) statuses.push((await send(workItemXml({ externalId: plain[0].externalId }))).status ?? '?');

    // 1 accepted then updated twice, 1 accepted then completed, 1 accepted then withdrawn, 1 accepted then expired.
    const toUpdate = await accept();
    for (const p of [7, 8])
      statuses.push((await send(updateXml({ externalId: toUpdate.externalId, inner: `<priority>${p}</priority>` }))).status ?? '?');
    const toComplete = await accept();
    await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === toComplete.contactId && e.event.type === 'contact.created');
    await f.client.publishControl('contact.ended', { contactId: toComplete.contactId });
    const toCancel = await accept();
    statuses.push((await send(cancelXml({ externalId: toCancel.externalId }))).status ?? '?');
    const toExpire = await accept({ expiresAt: new Date(Date.now() + 2_500).toISOString() });

    // 2 scheduled: one far ahead, one due in 2 s (activated).
    await accept({ activateAt: new Date(Date.now() + 3_600_000).toISOString() });
    const soon = await accept({ activateAt: new Date(Date.now() + 2_000).toISOString() });

    // 3 buffered at a closed entrance (it stays closed).
    await f.setEntrance('support', false);
    for (let i = 0; i < 3; i++) await accept({ entrance: 'support' });

    // 2 rejected: not XML at all, and XML without its required elements.
    statuses.push((await send('this is not xml')).status ?? '?');
    statuses.push((await send(workItemXml({ externalId: newExternalId('BAD'), subject: null }))).status ?? '?');

    const tally = (s: string) => statuses.filter((x) => x === s).length;
    expect({
      accepted: tally('accepted'),
      buffered: tally('buffered'),
      scheduled: tally('scheduled'),
      duplicate: tally('duplicate'),
      rejected: tally('rejected'),
      updated: tally('updated'),
      cancelled: tally('cancelled'),
    }).toEqual({ accepted: 7, buffered: 3, scheduled: 2, duplicate: 2, rejected: 2, updated: 2, cancelled: 1 });

    const expected: Counts = {
      received: 19,
      accepted: 7,
      buffered: 3,
      scheduled: 2,
      duplicate: 2,
      rejected: 2,
      updated: 2,
      withdrawn: 1,
      completed: 1,
      expired: 1,
      activated: 1,
    };

    await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === toExpire.contactId && e.event.type === 'contact.expired');
    await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === soon.contactId && e.event.type === 'contact.created');
    // The metrics of the timers and of contact.ended are counted right after their events: wait for all of them.
    let metrics = await fromMetrics();
    metrics = await waitUntil(
      async () => {
        metrics = await fromMetrics();
        return OUTCOMES.every((o) => metrics[o] >= expected[o]) ? metrics : undefined;
      },
      { timeoutMs: WAIT_MS, describe: () => `metrics to reach the mix; now ${JSON.stringify(metrics)}` },
    );
    const report = await fromReport();
    const overview = await fromOverview();

    const surfaces: [string, Counts][] = [
      ['sent', expected],
      ['/metrics', metrics],
      ['report --json', report],
      ['overview lastHour', overview.lastHour],
      ['overview last24h', overview.last24h],
    ];
    const pad = (s: string | number, n: number) => String(s).padStart(n);
    const lines = [
      `${'outcome'.padEnd(10)}${surfaces.map(([name]) => pad(name, 19)).join('')}`,
      ...OUTCOMES.map((o) => `${o.padEnd(10)}${surfaces.map(([, c]) => pad(c[o], 19)).join('')}`),
    ];
    console.log(`outcome counts per surface\n${lines.join('\n')}`);

    expect(metrics).toEqual(expected);
    expect(report).toEqual(expected);
    expect(overview.lastHour).toEqual(expected);
    expect(overview.last24h).toEqual(expected);
  });

  it('hours stored before issue 23 (a parked arrival written as `parked`) still count as buffered', async () => {
    const before = await fromReport('4h');
    const redis = testRedisClient();
    await redis.connect();
    try {
      await redis.hset(`${f.prefix}stats:${hourBucket(Date.now() - 3 * 3_600_000)}`, 'parked|legacy-task|support', '5');
    } finally {
      redis.disconnect();
    }
    const after = await fromReport('4h');
    expect(after).toEqual({ ...before, buffered: before.buffered + 5, received: before.received + 5 });
    const { last24h } = await fromOverview();
    expect(last24h).toMatchObject({ buffered: after.buffered, received: after.received });
  });
});
