import { Option, type Command } from 'commander';
import { addCount, COUNTERS, dispositionOf, emptyCounts, type Counts } from '../../domain/outcomes';
import {
  serviceLevel,
  TIME_TO_END_BOUNDS_S,
  TIME_TO_END_MAX_FACTOR,
  TIME_TO_END_MAX_MS,
  type ServiceLevelFigures,
  type ServiceLevelRow,
} from '../../domain/service-level';
import type { StatsRow } from '../../ports/state-store';
import { withContext } from '../context';
import { durationOption, examples } from '../options';
import { humanDuration, print, printJson, renderTable } from '../output';

type Group = 'task-type' | 'entrance';

export interface ReportRow extends Counts {
  /** Task type or entrance; null for rejections that never got that far. */
  key: string | null;
  /** Work items count as email contacts in the contact center's reporting. */
  channel: 'email';
  handledMs: number;
  avgHandlingMs: number | null;
}

/**
 * Sums hourly counters per task type (or entrance), under the outcome names of /metrics and the dashboard
 * (src/domain/outcomes.ts). received = accepted + buffered + scheduled + duplicate + rejected + updated + withdrawn.
 */
export function summarize(stats: StatsRow[], by: Group): { rows: ReportRow[]; total: ReportRow; dispositions: Record<string, number> } {
  const groups = new Map<string, ReportRow>();
  /** Completed items per disposition code (all task types and entrances); items ended without one are not in it. */
  const byCode = new Map<string, number>();
  const empty = (key: string | null): ReportRow => ({ key, channel: 'email', ...emptyCounts(), handledMs: 0, avgHandlingMs: null });
  const total = empty(null);
  for (const s of stats) {
    const code = dispositionOf(s.metric);
    if (code !== undefined) {
      byCode.set(code, (byCode.get(code) ?? 0) + s.value);
      continue;
    }
    const key = (by === 'entrance' ? s.entrance : s.taskType) ?? '';
    let row = groups.get(key);
    if (!row) groups.set(key, (row = empty(key === '' ? null : key)));
    for (const target of [row, total]) {
      if (s.metric === 'handledMs') target.handledMs += s.value;
      else addCount(target, s.metric, s.value);
    }
  }
  const finish = (r: ReportRow): ReportRow => ({
    ...r,
    avgHandlingMs: r.completed > 0 ? Math.round(r.handledMs / r.completed) : null,
  });
  const rows = [...groups.values()].map(finish).sort((a, b) => (a.key ?? '\uffff').localeCompare(b.key ?? '\uffff'));
  const dispositions = Object.fromEntries([...byCode].sort(([a, x], [b, y]) => y - x || a.localeCompare(b)));
  return { rows, total: finish(total), dispositions };
}

/** A time to end as the table shows it: approximate (~), a lower bound (>=) beyond the last bucket, - when none ended. */
export function timeToEndText(ms: number | null): string {
  if (ms === null) return '-';
  return ms >= TIME_TO_END_MAX_MS ? `>=${humanDuration(TIME_TO_END_MAX_MS)}` : `~${humanDuration(ms)}`;
}

/** The service-level table: per task type (and entrance with --by entrance), then TOTAL. */
export function serviceLevelTable(rows: ServiceLevelRow[], total: ServiceLevelFigures, byEntrance: boolean): string {
  type Line = ServiceLevelFigures & { taskType: string; entrance?: string };
  const n = (f: (r: Line) => number | string) => ({ value: f, align: 'right' as const });
  return renderTable<Line>(
    [
      { header: 'TASK TYPE', value: (r) => r.taskType },
      ...(byEntrance ? [{ header: 'ENTRANCE', value: (r: Line) => r.entrance ?? '' }] : []),
      { header: 'RECEIVED', ...n((r) => r.received) },
      { header: 'ENDED', ...n((r) => r.ended) },
      { header: 'ENDED BEFORE DUE %', ...n((r) => (r.endedBeforeDuePct === null ? '-' : `${r.endedBeforeDuePct.toFixed(1)}%`)) },
      { header: 'MEDIAN TO END', ...n((r) => timeToEndText(r.medianToEndMs)) },
      { header: 'P90 TO END', ...n((r) => timeToEndText(r.p90ToEndMs)) },
      { header: 'OVERDUE NOW', ...n((r) => r.overdueNow) },
    ],
    [...rows, { ...total, taskType: 'TOTAL', ...(byEntrance && { entrance: '' }) }],
  );
}

const SERVICE_LEVEL_NOTE =
  'received = new items (accepted + buffered + scheduled); ended = End pressed; ended before due % = of the ended items ' +
  'that had a dueAt (items without one are left out; - when none had one); median and p90 to end = time from receipt ' +
  `to End, approximate (~): read from fixed buckets, within a factor ${TIME_TO_END_MAX_FACTOR} of the true value (at most ` +
  '60% above or 37.5% below; within 1s under 1s); overdue now = unfinished items past their dueAt now, whatever --since.';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description(
      'work-item volumes and handling times per task type (or entrance), from the durable hourly counters in Redis; ' +
        'channel is "email", as the contact center counts work items',
    )
    .addOption(
      durationOption(
        '--since <duration>',
        'how far back, e.g. 30m, 24h, 7d (counters are hourly: the whole UTC hour containing the start is included)',
        '24h',
      ),
    )
    .addOption(new Option('--by <group>', 'one row per').choices(['task-type', 'entrance']).default('task-type'))
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      examples('workitem report', 'workitem report --since 7d --by entrance', 'workitem report --since 30m --json') +
        '\nColumns: received = accepted + buffered + scheduled + duplicate + rejected + updated + withdrawn (every message ' +
        'from a sender); completed, expired and activated happen later to received items; avg handling = time from receipt to End, per completed item.\n' +
        'Dispositions: completed items per disposition code (contact.ended with a disposition), in --json as "dispositions".\n' +
        'Service level (per task type; --by entrance splits it by entrance too), in --json as "serviceLevel": ' +
        SERVICE_LEVEL_NOTE +
        '\n',
    )
    .action((opts: { since: number; by: Group; json?: boolean }) =>
      withContext(async (ctx) => {
        const store = await ctx.store();
        const now = Date.now();
        const since = now - opts.since;
        const [stats, overdue] = await Promise.all([store.stats(since, now), store.countOverdueByTaskType()]);
        const { rows, total, dispositions } = summarize(stats, opts.by);
        const byEntrance = opts.by === 'entrance';
        const level = serviceLevel(stats, overdue, { byEntrance });
        const keyName = opts.by === 'entrance' ? 'entrance' : 'taskType';
        const named = (r: ReportRow) => {
          const { key, ...rest } = r;
          return { [keyName]: key, ...rest };
        };
        if (opts.json) {
          return printJson({
            since: new Date(since).toISOString(),
            until: new Date(now).toISOString(),
            by: opts.by,
            rows: rows.map(named),
            total: (({ key: _key, ...rest }) => rest)(total),
            dispositions,
            serviceLevel: {
              by: byEntrance ? ['taskType', 'entrance'] : ['taskType'],
              rows: level.rows,
              total: level.total,
              timeToEnd: { approximate: true, maxErrorFactor: TIME_TO_END_MAX_FACTOR, bucketBoundsSeconds: TIME_TO_END_BOUNDS_S },
            },
          });
        }
        const header = `work items since ${new Date(since).toISOString()} (${humanDuration(opts.since)}), by ${opts.by}`;
        if (rows.length === 0 && level.rows.length === 0) return print(`${header}: none`);
        const n = (f: (r: ReportRow) => number) => ({ value: f, align: 'right' as const });
        print(`${header}\n`);
        if (rows.length > 0) {
          print(
            renderTable<ReportRow & { label: string }>(
              [
                { header: opts.by === 'entrance' ? 'ENTRANCE' : 'TASK TYPE', value: (r) => r.label },
                { header: 'CHANNEL', value: (r) => r.channel },
                ...COUNTERS.map((c) => ({ header: c.toUpperCase(), ...n((r) => r[c]) })),
                {
                  header: 'AVG HANDLING',
                  value: (r) => (r.avgHandlingMs === null ? '-' : humanDuration(r.avgHandlingMs)),
                  align: 'right',
                },
              ],
              [...rows.map((r) => ({ ...r, label: r.key ?? '(none)' })), { ...total, label: 'TOTAL' }],
            ),
          );
        }
        const codes = Object.entries(dispositions);
        if (codes.length > 0) {
          print('\ndispositions of completed items (by code; codes beyond the first 100 count as "other"):\n');
          print(
            renderTable<{ code: string; count: number }>(
              [
                { header: 'DISPOSITION', value: (r) => r.code },
                { header: 'COMPLETED', value: (r) => r.count, align: 'right' },
              ],
              codes.map(([code, count]) => ({ code, count })),
            ),
          );
        }
        if (level.rows.length > 0) {
          print(`\nservice level by task type${byEntrance ? ' and entrance' : ''}:\n`);
          print(serviceLevelTable(level.rows, level.total, byEntrance));
          print(`\n${SERVICE_LEVEL_NOTE}`);
        }
      }),
    );
}
