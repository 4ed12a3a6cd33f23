import type { Command } from 'commander';
import { CONTACT_ID_PATTERN } from '../../domain/work-item';
import type { HistoryStep } from '../../ports/item-history';
import { CliError, UsageError } from '../cli-error';
import { withContext } from '../context';
import { examples } from '../options';
import { print, printJson, renderTable } from '../output';

/** The details of a step on one line: reason, then the small fields that apply. */
export function stepDetails(s: HistoryStep): string {
  const parts: string[] = [];
  if (s.reason) parts.push(s.reason);
  if (s.code) parts.push(`code=${s.code}`);
  if (s.entrance) parts.push(`entrance=${s.entrance}`);
  if (s.revision !== undefined) parts.push(`revision=${s.revision}`);
  if (s.changed?.length) parts.push(`changed=${s.changed.join(',')}`);
  if (s.state) parts.push(`${s.step === 'held' ? 'from' : 'state'}=${s.state}`);
  if (s.until) parts.push(`until=${s.until}`);
  if (s.by) parts.push(`by=${s.by}`);
  if (s.times) parts.push(`×${s.times} since ${s.firstAt ?? '?'}`);
  return parts.join('; ');
}

export function registerHistory(program: Command): void {
  program
    .command('history')
    .description(
      "show an item's history from Redis: each step (received, accepted, parked, routed, updated, held, resumed, rejected, replayed, ended…) with its time and instance; kept tombstoneSeconds after the end",
    )
    .argument('<contactId>', 'the contactId from the receipt or event (wi-…)')
    .option('--json', 'print JSON ({contactId, steps, dropped, keptUntil})')
    .addHelpText(
      'after',
      examples(
        'workitem history wi-0b9f6c1e-6d1a-4b5e-9a43-2f7f0d1c2e3a',
        'workitem history wi-0b9f6c1e-6d1a-4b5e-9a43-2f7f0d1c2e3a --json',
      ),
    )
    .action((contactId: string, opts: { json?: boolean }) =>
      withContext(async (ctx) => {
        if (!CONTACT_ID_PATTERN.test(contactId)) throw new UsageError(`"${contactId}" is not a contactId (expected wi-<uuid>)`);
        const h = await (await ctx.history()).read(contactId);
        if (!h) {
          throw new CliError(
            `no history for ${contactId}: never an item here (check REDIS_KEY_PREFIX), or it ended more than tombstoneSeconds (${ctx.cfg.tombstoneSeconds} s) ago`,
          );
        }
        if (opts.json) return printJson(h);
        const rows: { at: string; step: string; instance: string; details: string }[] = h.steps.map((s) => ({
          at: s.at,
          step: s.step,
          instance: s.instance,
          details: stepDetails(s),
        }));
        if (h.dropped > 0) rows.splice(1, 0, { at: '…', step: `(${h.dropped} earlier steps dropped)`, instance: '', details: '' });
        print(
          `${contactId}: ${h.steps.length} step(s)${h.dropped ? `, ${h.dropped} dropped` : ''}; ` +
            (h.keptUntil ? `finished, history kept until ${h.keptUntil}` : 'unfinished, history kept while it is'),
        );
        print(
          renderTable(
            [
              { header: 'AT', value: (r) => r.at },
              { header: 'STEP', value: (r) => r.step },
              { header: 'INSTANCE', value: (r) => r.instance },
              { header: 'DETAILS', value: (r) => r.details },
            ],
            rows,
          ),
        );
      }),
    );
}
