import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { DASHBOARDS_DIR, dashboardQueries, loadDashboard, parsePromQl, withVariablesResolved } from '../helpers/grafana';

/**
 * The rough PromQL reader the dashboard tests rely on (tests/integration/grafana-dashboards.test.ts checks the
 * names against a live /metrics), and the dashboards' queries as real PromQL where promtool is installed.
 */
describe('parsePromQl', () => {
  it('tells metric names from functions, matchers, ranges and grouping labels', () => {
    const p = parsePromQl(
      'histogram_quantile(0.99, sum by (le, outcome) (rate(workitem_processing_seconds_bucket{job=~"$job", instance=~"a|b"}[$__rate_interval])))',
    );
    expect([...p.metrics]).toEqual(['workitem_processing_seconds_bucket']);
    expect([...p.matcherLabels.get('workitem_processing_seconds_bucket')!]).toEqual(['job', 'instance']);
    expect([...p.groupingLabels].sort()).toEqual(['le', 'outcome']);
    expect(p.unknownFunctions.size).toBe(0);
  });

  it('reads bare names, binary operators, vector matching and strings that look like names', () => {
    const p = parsePromQl(
      '(a_bytes / b_bytes{x="rate(fake_metric[5m])"}) * on (instance, job) group_left (node) info{job="j"} or vector(0) > bool 1e3',
    );
    expect([...p.metrics].sort()).toEqual(['a_bytes', 'b_bytes', 'info']);
    expect([...p.groupingLabels].sort()).toEqual(['instance', 'job', 'node']);
  });

  it('flags a function PromQL does not have', () => {
    expect([...parsePromQl('histogram_quantil(0.5, x_bucket)').unknownFunctions]).toEqual(['histogram_quantil']);
  });
});

describe('deploy/grafana/dashboards', () => {
  const files = readdirSync(DASHBOARDS_DIR).filter((f) => f.endsWith('.json'));

  it.each(files)('%s: every panel has queries, every query names a metric', (file) => {
    const dash = loadDashboard(file);
    const panels = dash.panels
      .flatMap((p: Record<string, any>) => [p, ...(p.panels ?? [])])
      .filter((p: Record<string, any>) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(5);
    for (const p of panels) expect(p.targets?.length).toBeGreaterThan(0);
    for (const q of dashboardQueries(dash))
      expect({ where: q.where, metrics: parsePromQl(q.expr).metrics.size > 0 }).toEqual({ where: q.where, metrics: true });
  });

  it('the service dashboard covers outcomes, task types, latency, parked, unfinished, error codes and lost receipts', () => {
    const exprs = dashboardQueries(loadDashboard('workitem.json'))
      .map((q) => q.expr)
      .join('\n');
    expect(exprs).toMatch(/sum by \(outcome\) \(rate\(workitem_items_total/);
    expect(exprs).toMatch(/sum by \(task_type\)/);
    expect(exprs).toMatch(/histogram_quantile\(0\.99, sum by \(le\) \(rate\(workitem_processing_seconds_bucket/);
    expect(exprs).toMatch(/workitem_parked/);
    expect(exprs).toMatch(/workitem_unfinished/);
    expect(exprs).toMatch(/sum by \(code\)/);
    expect(exprs).toMatch(/workitem_receipts_lost_total/);
  });

  it('the service dashboard has the service level per task type: the report figures from the metrics', () => {
    const dash = loadDashboard('workitem.json');
    const table = dash.panels.find((p: Record<string, any>) => p.type === 'table' && /Service level by task type/.test(p.title));
    const exprs = (table?.targets ?? []).map((t: { expr: string }) => t.expr).join('\n');
    expect(exprs).toMatch(/outcome=~"accepted\|buffered\|scheduled"/);
    expect(exprs).toMatch(/outcome="completed"/);
    expect(exprs).toMatch(
      /workitem_ended_before_due_total\{[^}]*\}\[\$__range\]\)\) \/ sum by \(task_type\) \(increase\(workitem_ended_with_due_total/,
    );
    expect(exprs).toMatch(/histogram_quantile\(0\.5, sum by \(le, task_type\) \(increase\(workitem_time_to_end_seconds_bucket/);
    expect(exprs).toMatch(/histogram_quantile\(0\.9, sum by \(le, task_type\) \(increase\(workitem_time_to_end_seconds_bucket/);
    expect(exprs).toMatch(/workitem_overdue_by_task_type/);
    const renamed = Object.values(table.transformations.find((t: { id: string }) => t.id === 'organize').options.renameByName);
    expect(renamed).toEqual(['Task type', 'Received', 'Ended', 'Ended before due %', 'Median to end', 'P90 to end', 'Overdue now']);
  });

  // promtool comes with Debian's `prometheus` package; without it this check is skipped.
  const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
  (promtool ? it : it.skip)('promtool parses every query (Grafana variables resolved)', () => {
    const rules = files.flatMap((file) =>
      dashboardQueries(loadDashboard(file)).map((q, i) => ({
        record: `dashboard:${path.basename(file, '.json')}:q${i}`,
        expr: q.label ? `count by (${q.label}) (${withVariablesResolved(q.expr)})` : withVariablesResolved(q.expr),
      })),
    );
    const dir = mkdtempSync(path.join(os.tmpdir(), 'workitem-dashboards-'));
    try {
      const file = path.join(dir, 'rules.yml');
      writeFileSync(file, YAML.stringify({ groups: [{ name: 'dashboards', rules }] }));
      const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8', timeout: 30_000 });
      expect(`${r.stdout}${r.stderr}`).toMatch(new RegExp(`SUCCESS: ${rules.length} rules found`));
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
