import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as amqp from 'amqplib';
import YAML from 'yaml';
import { Fixture } from '../helpers/fixture';
import { dashboardProblems, loadDashboard, mergeExpositions, parseExposition, type Exposition } from '../helpers/grafana';
import { httpRequest } from '../helpers/http';
import { freePort } from '../helpers/ports';
import { startRabbitNode, type RabbitNode } from '../helpers/rabbit-node';
import { waitUntil, withTimeout } from '../helpers/wait';
import { workItemXml } from '../helpers/work-items';

/**
 * The provisioned Grafana dashboards (deploy/grafana/dashboards) query only what is exported: every metric
 * and label of every panel and variable of workitem.json exists on the real service's /metrics, and every one
 * of rabbitmq.json on a RabbitMQ node's prometheus plugin, scraped the way deploy/prometheus/prometheus.yml does.
 */

/** Series Prometheus makes itself for every target. */
const PROMETHEUS_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

describe('Grafana dashboard of the service (workitem.json)', () => {
  // Only `loans` has a listener: an item for `support` is unroutable and parks.
  const f = new Fixture({ config: { park: { retrySeconds: 600 } } }, 'contact.*.loans');
  beforeAll(() => f.setup(), 60_000);
  afterAll(() => f.teardown());

  const scrape = async (): Promise<Exposition> => {
    const res = await httpRequest(`${f.svc.baseUrl}/metrics`, { timeoutMs: 10_000 });
    expect(res.status).toBe(200);
    return parseExposition(res.text());
  };

  it('every metric and label a panel or variable queries is on /metrics once items have flowed', async () => {
    // So that labelled series exist: accepted, duplicate, rejected (code), completed (with a dueAt: the service level's
    // time to end and ended before due), buffered + unroutable (support), a receipt lost to a missing reply queue, an
    // item overdue now; the start-up replay counted itself already.
    const item = workItemXml({ entrance: 'loans', taskType: 'loan-review', dueAt: new Date(Date.now() + 3_600_000).toISOString() });
    await f.client.publishWorkItem(item, { replyTo: true, correlationId: 'acc' });
    const [acc] = await f.client.waitForReceipts(1, 20_000, (r) => r.properties.correlationId === 'acc');
    expect(acc.status).toBe('accepted');
    await f.client.publishWorkItem(item, { replyTo: true, correlationId: 'dup' });
    await f.client.publishWorkItem('<workItem version="1"><externalId>x</externalId>', {
      replyTo: true,
      correlationId: 'bad',
      source: 'bank-support',
    });
    await f.client.publishWorkItem(workItemXml({ entrance: 'support' }), { replyTo: true, correlationId: 'park' });
    await f.client.publishWorkItem(workItemXml({ entrance: 'loans', dueAt: new Date(Date.now() - 60_000).toISOString() }), {
      replyTo: true,
      correlationId: 'late',
    });
    await f.client.publishWorkItem(workItemXml({ entrance: 'loans' }), {
      replyTo: 'workitem-grafana-test-no-such-queue',
      correlationId: 'lost',
    });
    const receipts = await f.client.waitForReceipts(4, 20_000, (r) =>
      ['dup', 'bad', 'park', 'late'].includes(r.properties.correlationId ?? ''),
    );
    expect(Object.fromEntries(receipts.map((r) => [r.properties.correlationId, r.status]))).toEqual({
      dup: 'duplicate',
      bad: 'rejected',
      park: 'buffered',
      late: 'accepted',
    });
    await f.client.publishControl('contact.ended', { contactId: acc.contactId });

    const want = ['completed', 'rejected', 'buffered', 'duplicate'].map((o) => `outcome="${o}"`);
    const exposition = await waitUntil(
      async () => {
        const res = await httpRequest(`${f.svc.baseUrl}/metrics`, { timeoutMs: 10_000 });
        const text = res.text();
        const ready =
          want.every((w) => text.includes(w)) &&
          /^workitem_receipts_lost_total\{reason="no_reply_queue"\} 1/m.test(text) &&
          /^workitem_unroutable_events_total\{entrance="support"\} [1-9]/m.test(text) &&
          /^workitem_parked\{entrance="support"\} 1/m.test(text) &&
          /^workitem_replayed_total\{/m.test(text) &&
          /^workitem_ended_before_due_total\{/m.test(text) &&
          /^workitem_overdue_by_task_type\{.*\} 1$/m.test(text) &&
          /^workitem_processing_seconds_bucket\{/m.test(text);
        return ready && parseExposition(text);
      },
      {
        timeoutMs: 30_000,
        intervalMs: 250,
        describe: 'labelled series of every outcome, lost receipt, unroutable event, parked item, service level, overdue item',
      },
    );

    expect(dashboardProblems(loadDashboard('workitem.json'), exposition, PROMETHEUS_SERIES)).toEqual([]);
  });

  it('the check itself finds a metric, label or function that is not there', async () => {
    const exposition = await scrape();
    const broken = {
      panels: [
        { title: 'typo', targets: [{ expr: 'sum(rate(workitem_item_total[5m]))' }] },
        { title: 'label', targets: [{ expr: 'sum by (tasktype) (rate(workitem_items_total{outcome="accepted"}[5m]))' }] },
        { title: 'matcher', targets: [{ expr: 'workitem_parked{queue="x"}' }] },
        { title: 'function', targets: [{ expr: 'histogram_quantil(0.9, rate(workitem_processing_seconds_bucket[5m]))' }] },
        { title: 'not a histogram', targets: [{ expr: 'workitem_unfinished_bucket' }] },
      ],
      templating: { list: [{ type: 'query', name: 'v', query: { query: 'label_values(workitem_unfinished, entrance)' } }] },
    };
    const problems = dashboardProblems(broken, exposition, PROMETHEUS_SERIES).join('\n');
    expect(problems).toMatch(/metric workitem_item_total is not exported/);
    expect(problems).toMatch(/no metric of the query has label tasktype/);
    expect(problems).toMatch(/workitem_parked has no label queue/);
    expect(problems).toMatch(/unknown function histogram_quantil\(\)/);
    expect(problems).toMatch(/workitem_unfinished is not a histogram/);
    expect(problems).toMatch(/label_values lists entrance/);
  });
});

describe('Grafana dashboard of RabbitMQ (rabbitmq.json)', () => {
  let node: RabbitNode | undefined;
  let promPort = 0;
  let conn: amqp.ChannelModel | undefined;

  beforeAll(async () => {
    promPort = await freePort();
    node = await startRabbitNode({
      prefix: 'wigrafana',
      plugins: ['rabbitmq_prometheus'],
      extraConf: [`prometheus.tcp.ip = 127.0.0.1`, `prometheus.tcp.port = ${promPort}`, 'collect_statistics_interval = 1000'],
    });
    // A quorum queue of the service's with a message in it and a consumer on it, so per-queue and raft series exist.
    conn = await withTimeout(amqp.connect(node.url), 15_000, 'AMQP connect to the private node');
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('workitem.inbound', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await ch.assertQueue('workitem.error', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    ch.sendToQueue('workitem.error', Buffer.from('<x/>'), { persistent: true });
    await withTimeout(ch.waitForConfirms(), 15_000, 'publisher confirm');
    await ch.consume('workitem.inbound', () => undefined);
  }, 120_000);

  afterAll(async () => {
    await conn?.close().catch(() => undefined);
    await node?.stop();
  }, 90_000);

  it('every metric and label a panel or variable queries is served on 15692 as prometheus.yml scrapes it', async () => {
    const prom = YAML.parse(readFileSync(path.resolve(__dirname, '../../deploy/prometheus/prometheus.yml'), 'utf8'));
    const jobs = (prom.scrape_configs as Record<string, any>[]).filter((j) =>
      j.static_configs.some((c: { targets: string[] }) => c.targets.some((t) => t.startsWith('rabbitmq:'))),
    );
    expect(jobs.length).toBeGreaterThan(0);
    const urls = jobs.map((j) => {
      const url = new URL(j.metrics_path ?? '/metrics', `http://127.0.0.1:${promPort}`);
      for (const [k, values] of Object.entries((j.params ?? {}) as Record<string, string[]>))
        for (const v of values) url.searchParams.append(k, v);
      return url.toString();
    });
    const dashboard = loadDashboard('rabbitmq.json');
    let problems: string[] = [];
    // Queue and raft series appear after the node's first statistics rounds.
    await waitUntil(
      async () => {
        const bodies = await Promise.all(urls.map((u) => httpRequest(u, { timeoutMs: 10_000 })));
        for (const b of bodies) expect(b.status).toBe(200);
        const exposition = mergeExpositions(...bodies.map((b) => parseExposition(b.text())));
        problems = dashboardProblems(dashboard, exposition, PROMETHEUS_SERIES);
        return problems.length === 0;
      },
      { timeoutMs: 45_000, intervalMs: 1_000, describe: () => `dashboard problems:\n${problems.join('\n')}` },
    ).catch(() => undefined);
    expect(problems).toEqual([]);
  });
});
