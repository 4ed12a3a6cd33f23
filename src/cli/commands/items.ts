import { Option, type Command } from 'commander';
import { listItems } from '../../application/list-items';
import { parseStateWord, wireState } from '../../domain/receipt';
import { withContext } from '../context';
import { examples, integerParser } from '../options';
import { print, printJson, renderTable } from '../output';

interface ItemsOptions {
  entrance?: string;
  state?: 'routed' | 'parked' | 'buffered' | 'scheduled' | 'held';
  taskType?: string;
  limit: number;
  cursor: number;
  json?: boolean;
}

export function registerItems(program: Command): void {
  program
    .command('items')
    .description('list unfinished work items (routed to the contact center, parked, scheduled or held), oldest first, from Redis')
    .option('--entrance <name>', 'only items for this entrance')
    .addOption(
      new Option(
        '--state <state>',
        'only items in this state: routed (accepted, waiting for End), parked (= buffered), scheduled (waiting for activateAt) or held (waiting for a resume or its until)',
      ).choices(['routed', 'parked', 'buffered', 'scheduled', 'held']),
    )
    .option('--task-type <type>', 'only items of this task type')
    .option('--limit <n>', 'page size (1..500)', integerParser(1, 500), 50)
    .option('--cursor <n>', 'continue after this cursor (printed with the previous page)', integerParser(0, Number.MAX_SAFE_INTEGER), 0)
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      examples(
        'workitem items',
        'workitem items --entrance loans --state parked',
        'workitem items --state scheduled',
        'workitem items --state held',
        'workitem items --task-type loan-review --limit 100 --json',
        'workitem items --cursor 4711',
      ),
    )
    .action((opts: ItemsOptions) =>
      withContext(async (ctx) => {
        const store = await ctx.store();
        const page = await listItems(store, {
          entrance: opts.entrance,
          state: opts.state === undefined ? undefined : parseStateWord(opts.state),
          taskType: opts.taskType,
          cursor: opts.cursor,
          limit: opts.limit,
        });
        const items = page.items.map((it) => ({
          contactId: it.contactId,
          state: wireState(it.state),
          entrance: it.record.entrance,
          taskType: it.record.taskType,
          externalId: it.record.externalId,
          source: it.record.source,
          receivedAt: it.record.receivedAt,
          parkedAt: it.parkedAt ? new Date(it.parkedAt).toISOString() : null,
          activateAt: it.activateAt ?? null,
          expiresAt: it.expiresAt ?? null,
          heldUntil: it.held?.until ?? null,
          heldReason: it.held?.reason ?? null,
          priority: it.record.priority,
          subject: it.record.subject,
          seq: it.seq,
        }));
        if (opts.json) return printJson({ items, nextCursor: page.nextCursor });
        if (items.length > 0) {
          print(
            renderTable(
              [
                { header: 'CONTACT ID', value: (i) => i.contactId },
                { header: 'STATE', value: (i) => i.state },
                { header: 'ENTRANCE', value: (i) => i.entrance },
                { header: 'TASK TYPE', value: (i) => i.taskType },
                { header: 'EXTERNAL ID', value: (i) => i.externalId },
                { header: 'SOURCE', value: (i) => i.source },
                { header: 'RECEIVED AT', value: (i) => i.receivedAt },
                ...(items.some((i) => i.activateAt)
                  ? [{ header: 'ACTIVATE AT', value: (i: (typeof items)[number]) => i.activateAt ?? '' }]
                  : []),
                ...(items.some((i) => i.state === 'held')
                  ? [
                      {
                        header: 'HELD UNTIL',
                        value: (i: (typeof items)[number]) => (i.state !== 'held' ? '' : (i.heldUntil ?? 'resumed')),
                      },
                    ]
                  : []),
              ],
              items,
            ),
          );
        } else {
          print('no unfinished items match');
        }
        print(
          page.nextCursor === null
            ? 'next cursor: none (end of list)'
            : `next cursor: ${page.nextCursor} (continue with --cursor ${page.nextCursor} and the same filters)`,
        );
      }),
    );
}
