import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * What the provisioned Grafana dashboards (deploy/grafana/dashboards) query, and what a Prometheus exposition
 * (a `/metrics` body) offers: enough to check that every metric and label a panel uses is really exported.
 * PromQL is parsed roughly (strings, matchers, ranges and grouping clauses are cut out, then identifiers are
 * either function calls or metric names); `promtool check rules` can check the full syntax where it is installed.
 */

export const DASHBOARDS_DIR = path.resolve(__dirname, '../../deploy/grafana/dashboards');

// Grafana dashboard JSON: untyped, the tests check its shape.
export type Dashboard = Record<string, any>;

export function loadDashboard(file: string): Dashboard {
  return JSON.parse(readFileSync(path.join(DASHBOARDS_DIR, file), 'utf8')) as Dashboard;
}

export interface DashboardQuery {
  /** Panel title or `variable <name>`. */
  where: string;
  /** PromQL, with Grafana's variables still in it. */
  expr: string;
  /** label_values(<expr>, <label>): the label the variable lists. */
  label?: string;
}

/** Every query of every panel (rows and their collapsed panels included) and of every query variable. */
export function dashboardQueries(dash: Dashboard): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  const panels = (dash.panels ?? []).flatMap((p: Dashboard) => [p, ...(p.panels ?? [])]);
  for (const p of panels) for (const t of p.targets ?? []) if (t.expr) out.push({ where: `panel "${p.title}"`, expr: t.expr });
  for (const v of dash.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q: string = typeof v.query === 'string' ? v.query : v.query?.query;
    const m = /^\s*label_values\(\s*(.*?)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$/s.exec(q);
    if (m) out.push({ where: `variable ${v.name}`, expr: m[1], label: m[2] });
    else if (/^\s*label_values\(\s*[A-Za-z_]\w*\s*\)\s*$/.test(q))
      continue; // label_values(label): no metric
    else out.push({ where: `variable ${v.name}`, expr: q });
  }
  return out;
}

/** PromQL functions and aggregation operators a dashboard may call. */
const FUNCTIONS = new Set(
  (
    'abs absent absent_over_time avg avg_over_time bottomk ceil changes clamp clamp_max clamp_min count count_over_time ' +
    'count_values day_of_month day_of_week delta deriv exp floor group histogram_quantile holt_winters idelta increase ' +
    'irate label_join label_replace last_over_time ln log10 log2 max max_over_time min min_over_time predict_linear ' +
    'quantile quantile_over_time rate resets round scalar sgn sort sort_desc sqrt stddev stddev_over_time stdvar sum ' +
    'sum_over_time time timestamp topk vector'
  ).split(' '),
);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
const GROUPING = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)/g;

export interface ParsedQuery {
  /** Metric names, e.g. workitem_items_total, workitem_processing_seconds_bucket. */
  metrics: Set<string>;
  /** Label names in each metric's matchers. */
  matcherLabels: Map<string, Set<string>>;
  /** Labels of by/without/on/ignoring/group_left/group_right clauses. */
  groupingLabels: Set<string>;
  /** Identifiers called like a function that PromQL does not have. */
  unknownFunctions: Set<string>;
}

export function parsePromQl(expr: string): ParsedQuery {
  const metrics = new Set<string>();
  const matcherLabels = new Map<string, Set<string>>();
  const groupingLabels = new Set<string>();
  const unknownFunctions = new Set<string>();
  let s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals
    .replace(/\[[^\]]*\]/g, ' '); // range and subquery selectors
  // name{matchers} and bare {matchers}: remember the labels, then drop the braces.
  s = s.replace(/([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^}]*)\}/g, (_all, name: string | undefined, body: string) => {
    const labels = [...body.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]);
    if (name && !FUNCTIONS.has(name) && !KEYWORDS.has(name)) {
      const set = matcherLabels.get(name) ?? new Set<string>();
      labels.forEach((l) => set.add(l));
      matcherLabels.set(name, set);
    }
    return ` ${name ?? ''} `;
  });
  s = s.replace(GROUPING, (_all, _kw: string, body: string) => {
    body
      .split(',')
      .map((l) => l.trim())
      .filter(Boolean)
      .forEach((l) => groupingLabels.add(l));
    return ' ';
  });
  s = s.replace(/\b(group_left|group_right)\b/g, ' '); // without a label list
  for (const m of s.matchAll(/(?<![A-Za-z0-9_:.$])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    const [, id, call] = m;
    if (KEYWORDS.has(id.toLowerCase())) continue;
    if (call) {
      if (!FUNCTIONS.has(id)) unknownFunctions.add(id);
    } else metrics.add(id);
  }
  return { metrics, matcherLabels, groupingLabels, unknownFunctions };
}

/** Grafana's variables replaced by values Prometheus accepts (regex matchers get `.*`), for promtool. */
export function withVariablesResolved(expr: string): string {
  return expr
    .replace(/\$__(rate_interval|interval|range)\b/g, '5m')
    .replace(/\$__range_s\b/g, '300')
    .replace(/\$\{?[A-Za-z_]\w*\}?/g, '.*');
}

export interface Exposition {
  /** Sample names (histograms as name_bucket/_sum/_count, as Prometheus stores them). */
  series: Map<string, Set<string>>;
  /** `# TYPE` of each metric family. */
  types: Map<string, string>;
}

/** Parses a Prometheus text exposition: which series exist, with which label names. */
export function parseExposition(text: string): Exposition {
  const series = new Map<string, Set<string>>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) types.set(type[1], type[2]);
    if (line.startsWith('#') || !line.trim()) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s/.exec(line);
    if (!m) continue;
    const labels = series.get(m[1]) ?? new Set<string>();
    for (const l of (m[3] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="/g)) labels.add(l[1]);
    series.set(m[1], labels);
  }
  return { series, types };
}

export function mergeExpositions(...all: Exposition[]): Exposition {
  const series = new Map<string, Set<string>>();
  const types = new Map<string, string>();
  for (const e of all) {
    for (const [name, labels] of e.series) series.set(name, new Set([...(series.get(name) ?? []), ...labels]));
    for (const [name, type] of e.types) types.set(name, type);
  }
  return { series, types };
}

/** Labels Prometheus adds to every scraped series (its target labels) and `le` of histogram buckets. */
export const TARGET_LABELS = new Set(['job', 'instance']);

/**
 * What is wrong with the dashboard's queries against what the exposition offers: metric names it does not have
 * (except `extraMetrics`, series Prometheus makes itself such as `up`), matcher labels a metric does not carry,
 * grouping labels none of the query's metrics carry, unknown functions, and `_bucket` series of non-histograms.
 */
export function dashboardProblems(dash: Dashboard, exp: Exposition, extraMetrics: ReadonlySet<string> = new Set()): string[] {
  const problems: string[] = [];
  const labelsOf = (name: string): Set<string> => new Set([...(exp.series.get(name) ?? []), ...TARGET_LABELS]);
  for (const q of dashboardQueries(dash)) {
    const p = parsePromQl(q.expr);
    const at = `${q.where}: ${q.expr}`;
    if (p.metrics.size === 0) problems.push(`${at}: queries no metric`);
    for (const f of p.unknownFunctions) problems.push(`${at}: unknown function ${f}()`);
    const known = [...p.metrics].filter((name) => exp.series.has(name));
    for (const name of p.metrics) {
      if (extraMetrics.has(name)) continue;
      if (!exp.series.has(name)) problems.push(`${at}: metric ${name} is not exported`);
      const family = name.replace(/_bucket$/, '');
      if (name.endsWith('_bucket') && exp.types.get(family) !== 'histogram') problems.push(`${at}: ${family} is not a histogram`);
    }
    for (const [name, labels] of p.matcherLabels) {
      if (extraMetrics.has(name) || !exp.series.has(name)) continue;
      for (const l of labels) if (!labelsOf(name).has(l)) problems.push(`${at}: ${name} has no label ${l}`);
    }
    const anyLabels = new Set([...known.flatMap((n) => [...labelsOf(n)]), ...TARGET_LABELS]);
    for (const l of p.groupingLabels) if (!anyLabels.has(l)) problems.push(`${at}: no metric of the query has label ${l}`);
    if (q.label && !anyLabels.has(q.label)) problems.push(`${at}: label_values lists ${q.label}, which its metric lacks`);
  }
  return problems;
}
