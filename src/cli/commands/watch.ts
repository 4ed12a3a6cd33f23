import { Option, type Command } from 'commander';
import { CliError } from '../cli-error';
import { withContext, type CliContext } from '../context';
import { examples, integerParser, parseDuration } from '../options';
import { print, printable } from '../output';

interface WatchOptions {
  pattern: string;
  count?: number;
  timeout?: number;
  json?: boolean;
}

/**
 * A stand-in contact center for trying things out: an exclusive, auto-deleted queue bound to the events exchange
 * prints what the service publishes. It only sees events published while it runs, and while it runs the
 * service's events are routable (an event no queue takes parks the item, see docs/contact-center.md).
 */
export function registerWatch(program: Command): void {
  program
    .command('watch')
    .description(
      'print contact events as the service publishes them (contact.created / updated / withdrawn / expired), from an exclusive ' +
        'queue of its own bound to the events exchange; it holds nothing back for anyone else',
    )
    .option('--pattern <routingKey>', 'binding pattern on the events exchange, e.g. contact.created.loans', '#')
    .option('--count <n>', 'stop after this many events (exit 1 if fewer arrive before --timeout)', integerParser(1, 1_000_000))
    .addOption(new Option('--timeout <duration>', 'stop after this long, e.g. 30s (default: run until Ctrl-C)').argParser(parseDuration))
    .option('--json', 'print each event as one JSON line')
    .addHelpText(
      'after',
      examples('workitem watch', 'workitem watch --pattern "contact.created.loans" --json', 'workitem watch --count 1 --timeout 30s'),
    )
    .action((opts: WatchOptions) => withContext((ctx) => watch(ctx, opts)));
}

async function watch(ctx: CliContext, opts: WatchOptions): Promise<void> {
  const ch = await ctx.channel();
  const exchange = ctx.cfg.topology.eventsExchange;
  await ch.assertExchange(exchange, 'topic', { durable: true });
  const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
  await ch.bindQueue(queue, exchange, opts.pattern);
  if (!opts.json) print(`watching ${exchange} (${opts.pattern}); Ctrl-C to stop`);
  let seen = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = opts.timeout !== undefined ? setTimeout(() => finish(), opts.timeout) : undefined;
    const stop = () => finish();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    function finish(err?: Error): void {
      clearTimeout(timer);
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      if (err) reject(err);
      else if (opts.count !== undefined && seen < opts.count) reject(new CliError(`${seen} of ${opts.count} events arrived in time`));
      else resolve();
    }
    void ch
      .consume(
        queue,
        (msg) => {
          if (!msg) return finish(new CliError('the watch queue was cancelled by the broker'));
          seen++;
          let event: Record<string, unknown>;
          try {
            event = JSON.parse(msg.content.toString('utf8')) as Record<string, unknown>;
          } catch {
            event = { unreadable: printable(msg.content.toString('utf8').slice(0, 200)) };
          }
          if (opts.json) print(JSON.stringify({ routingKey: msg.fields.routingKey, event }));
          else print(summary(msg.fields.routingKey, event));
          if (opts.count !== undefined && seen >= opts.count) finish();
        },
        { noAck: true },
      )
      .catch((err: Error) => finish(err));
  });
}

function summary(routingKey: string, e: Record<string, unknown>): string {
  const parts = [
    routingKey,
    e.contactId,
    e.externalId && `externalId=${String(e.externalId)}`,
    e.taskType && `taskType=${String(e.taskType)}`,
  ];
  if (e.replayed === true) parts.push('replayed');
  return parts
    .filter(Boolean)
    .map((p) => printable(p))
    .join('  ');
}
