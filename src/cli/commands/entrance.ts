import os from 'node:os';
import type { Command } from 'commander';
import { UsageError } from '../cli-error';
import { CliContext, withContext } from '../context';
import { publishControlEvent } from '../control-event';
import { examples } from '../options';
import { print, printJson, renderTable } from '../output';

interface ChangeOptions {
  by?: string;
}

function defaultBy(): string {
  try {
    return `cli:${os.userInfo().username}`;
  } catch {
    return 'cli';
  }
}

export function registerEntrance(program: Command): void {
  const entrance = program
    .command('entrance')
    .description('open, close and list entrances (the contact-center queues work items are routed to)')
    .addHelpText(
      'after',
      examples('workitem entrance list', 'workitem entrance close loans --by "night shift"', 'workitem entrance open loans'),
    );

  for (const [verb, routingKey] of [
    ['open', 'entrance.opened'],
    ['close', 'entrance.closed'],
  ] as const) {
    entrance
      .command(verb)
      .description(
        verb === 'open'
          ? 'open an entrance: publishes entrance.opened; the service routes its parked items, oldest first'
          : 'close an entrance: publishes entrance.closed; new items for it are parked (receipt "buffered") until it opens',
      )
      .argument('<name>', 'a configured entrance')
      .option('--by <who>', 'who did it, stored with the entrance state', defaultBy())
      .addHelpText('after', examples(`workitem entrance ${verb} loans`, `workitem entrance ${verb} loans --by supervisor-anna`))
      .action((name: string, opts: ChangeOptions) =>
        withContext(async (ctx) => {
          requireEntrance(ctx, name);
          const by = opts.by ?? defaultBy();
          await publishControlEvent(ctx, routingKey, { entrance: name, by });
          print(
            `${routingKey} published for "${name}" (by ${by}); the service applies it in a moment — check with \`workitem entrance list\``,
          );
        }),
      );
  }

  entrance
    .command('list')
    .description('show each configured entrance: state, since when, by whom, and how many items are parked (read from Redis)')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('workitem entrance list', 'workitem entrance list --json'))
    .action((opts: { json?: boolean }) =>
      withContext(async (ctx) => {
        const store = await ctx.store();
        const list = (await store.entrances(Object.keys(ctx.cfg.entrances))).map((e) => ({
          name: e.name,
          displayName: ctx.cfg.entrances[e.name].displayName,
          state: e.open ? 'open' : 'closed',
          since: e.since ?? null,
          by: e.by ?? null,
          parked: e.parked,
        }));
        if (opts.json) return printJson({ entrances: list });
        print(
          renderTable(
            [
              { header: 'NAME', value: (e) => e.name },
              { header: 'DISPLAY NAME', value: (e) => e.displayName },
              { header: 'STATE', value: (e) => e.state },
              { header: 'SINCE', value: (e) => e.since ?? undefined },
              { header: 'BY', value: (e) => e.by ?? undefined },
              { header: 'PARKED', value: (e) => e.parked, align: 'right' },
            ],
            list,
          ),
        );
      }),
    );
}

function requireEntrance(ctx: CliContext, name: string): void {
  if (!Object.prototype.hasOwnProperty.call(ctx.cfg.entrances, name)) {
    throw new UsageError(
      `unknown entrance "${name}"; configured: ${Object.keys(ctx.cfg.entrances).join(', ')} (${ctx.cfg.configFile}; ` +
        'the CLI reads WORKITEM_CONFIG like the service: set it to the file the service uses)',
    );
  }
}
