import readline from 'node:readline';
import type * as amqp from 'amqplib';
import type { Command } from 'commander';
import { browseErrorQueue, describeErrorMessage, errorCodeOf, replayErrorQueue } from '../../adapters/rabbitmq/error-queue';
import type { ErrorMessageInfo, ReplayProgress, ReplayResult } from '../../ports/error-queue';
import { ERROR_CODE_DESCRIPTIONS, type ErrorCode } from '../../domain/error-codes';
import { CliError, UsageError } from '../cli-error';
import { CliContext, withContext } from '../context';
import { examples, integerParser } from '../options';
import { note, preview, print, printable, printJson } from '../output';

const BODY_PREVIEW_CHARS = 80;
const PROGRESS_EVERY = 100;

const ORDER_NOTE =
  'Browsing takes nothing away: messages are fetched unacknowledged and handed back when the channel closes; ' +
  'RabbitMQ returns them ahead of newer messages, in their original order.';

export function registerErrors(program: Command): void {
  const errors = program
    .command('errors')
    .description('inspect and replay the error queue (a copy of every rejected message, with x-error-* headers)')
    .addHelpText(
      'after',
      examples(
        'workitem errors list',
        'workitem errors list --code MALFORMED_XML --json',
        'workitem errors replay --code UNKNOWN_ENTRANCE',
      ),
    );

  errors
    .command('list')
    .description(
      'browse the error queue without removing anything: error code, path, message, first failure, ' +
        'original routing key, message_id, start of the body',
    )
    .option(
      '--code <code>',
      'only messages with this error code (e.g. FORBIDDEN_XML; DELIVERY_LIMIT for poison messages, EXPIRED_IN_QUEUE)',
    )
    .option('--limit <n>', 'show at most this many messages (1..10000)', integerParser(1, 10_000), 50)
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      examples('workitem errors list', 'workitem errors list --code NOT_A_WORKITEM --limit 10', 'workitem errors list --json') +
        `\n${ORDER_NOTE}\n`,
    )
    .action((opts: { code?: string; limit: number; json?: boolean }) => withContext((ctx) => listErrors(ctx, opts)));

  errors
    .command('replay')
    .description(
      'move error-queue messages back to the inbound exchange (after a fix): original body and properties, ' +
        'routing key from x-original-routing-key, x-error-* headers removed, x-first-failed-at kept; ' +
        'each is acked on the error queue only after the broker confirmed the republish',
    )
    .option('--code <code>', 'only messages with this error code; the others stay in the error queue')
    .option('--limit <n>', 'move at most this many messages', integerParser(1, Number.MAX_SAFE_INTEGER))
    .option('--yes', 'do not ask for confirmation (required when stdin is not a terminal, e.g. in CI)')
    .addHelpText(
      'after',
      examples(
        'workitem errors replay --code UNKNOWN_ENTRANCE',
        'workitem errors replay --code NOT_A_WORKITEM --limit 100 --yes',
        'workitem errors replay --yes',
      ) +
        '\nLooks at each message that was in the queue when it started (so it ends even if replayed messages fail again).\n' +
        'Messages without an original routing key, or with another code, are kept. Interrupting (Ctrl-C) loses nothing:\n' +
        'whatever was not yet confirmed and acked goes back to the error queue (only a hard kill between a confirm and\n' +
        'its ack can leave a message in both places: it is then processed twice, never lost).\n',
    )
    .action((opts: ReplayOptions) => replayCommand(opts));
}

interface ErrorView extends Omit<ErrorMessageInfo, 'id'> {
  bodyPreview: string;
}

function view(m: amqp.Message, inboundExchange: string): ErrorView {
  const { id: _id, ...info } = describeErrorMessage(m, inboundExchange);
  return { ...info, bodyPreview: preview(m.content.toString('utf8'), BODY_PREVIEW_CHARS) };
}

function lastFailure(e: ErrorView): string {
  return e.failedAt && e.failedAt !== e.firstFailedAt ? ` (last ${printable(e.failedAt)})` : '';
}

function checkCode(code: string | undefined): void {
  if (code !== undefined && !/^[A-Z][A-Z0-9_]{0,63}$/.test(code)) {
    const known = Object.keys(ERROR_CODE_DESCRIPTIONS).slice(0, 3).join(', ');
    throw new UsageError(`--code "${code}" is not an error code (e.g. ${known})`);
  }
}

async function listErrors(ctx: CliContext, opts: { code?: string; limit: number; json?: boolean }): Promise<void> {
  checkCode(opts.code);
  const queue = ctx.cfg.topology.errorQueue;
  const total = await ctx.queueMessageCount(queue);
  // Without a filter only `limit` messages are fetched; with one, up to the whole queue, to find `limit` matches.
  const { examined, found } = await browseErrorQueue(await ctx.channel(), {
    queue,
    budget: opts.code ? total : Math.min(opts.limit, total),
    limit: opts.limit,
    match: opts.code ? (m) => errorCodeOf(m) === opts.code : undefined,
    view: (m) => view(m, ctx.cfg.topology.inboundExchange),
  });

  if (opts.json) return printJson({ queue, messageCount: total, examined, messages: found });
  const filter = opts.code ? ` with code ${opts.code}` : '';
  if (total === 0) return print(`${queue} is empty`);
  print(`${queue}: ${total} message(s); showing ${found.length}${filter} of ${examined} examined (nothing removed)`);
  found.forEach((e, i) => {
    const description = ERROR_CODE_DESCRIPTIONS[e.code as ErrorCode];
    print(
      [
        '',
        `[${i + 1}] ${printable(e.code)}${description ? ` — ${description}` : ''}`,
        `    path:         ${printable(e.path ?? '-')}`,
        `    message:      ${printable(e.message ?? '-')}`,
        `    first failed: ${printable(e.firstFailedAt ?? '-')}${lastFailure(e)}`,
        `    routing key:  ${printable(e.originalRoutingKey ?? '- (not replayable)')}`,
        `    message_id:   ${printable(e.messageId ?? '-')}`,
        `    body:         ${e.bodyPreview}`,
      ].join('\n'),
    );
  });
}

interface ReplayOptions {
  code?: string;
  limit?: number;
  yes?: boolean;
}

function ask(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      resolve(/^y(es)?$/i.test(answer.trim()));
    });
  });
}

async function replayCommand(opts: ReplayOptions): Promise<void> {
  checkCode(opts.code);
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  if (!opts.yes && !interactive) {
    throw new UsageError('errors replay needs confirmation: stdin is not a terminal, so pass --yes to proceed');
  }
  await withContext(async (ctx) => {
    const { errorQueue, inboundExchange } = ctx.cfg.topology;
    const total = await ctx.queueMessageCount(errorQueue);
    if (total === 0) return print(`nothing to replay: ${errorQueue} is empty`);
    if (!opts.yes) {
      const upTo = opts.limit !== undefined ? `up to ${opts.limit} of ` : '';
      const what = `${upTo}the ${total} message(s) in ${errorQueue}${opts.code ? ` with code ${opts.code}` : ''}`;
      if (!(await ask(`Move ${what} back to exchange ${inboundExchange}? [y/N] `))) {
        print('aborted; nothing moved');
        process.exitCode = 1;
        return;
      }
    }
    await replay(ctx, total, opts);
  });
}

async function replay(ctx: CliContext, total: number, opts: ReplayOptions): Promise<void> {
  const { errorQueue, inboundExchange } = ctx.cfg.topology;
  const publisher = await ctx.publisher();
  const ch = await ctx.channel();
  let interrupted = false;
  let noted = 0;
  const onSignal = () => {
    if (interrupted) {
      note('replay: stopping now; every message not yet acked returns to the error queue');
      process.exit(130);
    }
    interrupted = true;
    note('replay: interrupted — finishing the messages in flight (Ctrl-C again to stop at once)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const summary = (r: ReplayProgress) => {
    const noKey = r.noRoutingKey ? ` (${r.noRoutingKey} without an original routing key)` : '';
    return `moved ${r.moved}, kept ${r.kept}${noKey}, examined ${r.examined} of ${total}`;
  };
  let result: ReplayResult;
  try {
    result = await replayErrorQueue(ch, (exchange, key, body, props) => publisher.publish(exchange, key, body, props, true), {
      queue: errorQueue,
      inboundExchange,
      total,
      select: opts.code ? (m) => errorCodeOf(m) === opts.code : undefined,
      limit: opts.limit,
      shouldStop: () => interrupted,
      onProgress: (r) => {
        if (r.examined % PROGRESS_EVERY !== 0 || r.examined === noted) return;
        noted = r.examined;
        note(`replay: ${summary(r)}`);
      },
      unroutable: (exchange, key) =>
        new CliError(`exchange "${exchange}" routed nothing for ${key}: is the service's inbound queue missing?`),
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  print(`${interrupted ? 'interrupted: ' : ''}${summary(result.progress)} (${errorQueue} → ${inboundExchange})`);
  if (result.failure) throw result.failure;
  if (interrupted) process.exitCode = 130;
}
