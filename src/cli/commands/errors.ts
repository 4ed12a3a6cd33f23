import readline from 'node:readline';
import type * as amqp from 'amqplib';
import type { Command } from 'commander';
import { ORIGINAL_ROUTING_KEY_HEADER } from '../../adapters/rabbitmq/inbound-message';
import { PUBLISH_ID_HEADER } from '../../adapters/rabbitmq/confirmed-publisher';
import { ERROR_CODE_DESCRIPTIONS, type ErrorCode } from '../../domain/error-codes';
import { CliError, UsageError } from '../cli-error';
import { CliContext, withContext } from '../context';
import { examples, integerParser } from '../options';
import { note, preview, print, printable, printJson } from '../output';

const BODY_PREVIEW_CHARS = 80;
const PROGRESS_EVERY = 100;
/** Republishes awaiting their confirm at once: confirms from quorum queues take milliseconds each. */
const REPLAY_WINDOW = 64;

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
    .option('--code <code>', 'only messages with this error code (e.g. FORBIDDEN_XML; DELIVERY_LIMIT for poison messages)')
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

interface ErrorView {
  code: string;
  path: string | null;
  message: string | null;
  firstFailedAt: string | null;
  failedAt: string | null;
  originalRoutingKey: string | null;
  originalExchange: string | null;
  messageId: string | null;
  redelivered: boolean;
  bodyPreview: string;
}

function headerString(headers: Record<string, unknown>, name: string): string | undefined {
  const v = headers[name];
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function headersOf(m: amqp.Message): Record<string, unknown> {
  return (m.properties.headers ?? {}) as Record<string, unknown>;
}

/** The error code: the x-error-code header, else the routing key it got on the error exchange (e.g. DELIVERY_LIMIT). */
function codeOf(m: amqp.Message): string {
  return headerString(headersOf(m), 'x-error-code') ?? m.fields.routingKey;
}

/**
 * Where the sender published it: x-original-routing-key, else (a message the broker dead-lettered from the inbound
 * queue after too many deliveries) the routing key recorded in x-death for the inbound exchange.
 */
function originalRoutingKey(m: amqp.Message, inboundExchange: string): string | undefined {
  const headers = headersOf(m);
  const key = headerString(headers, ORIGINAL_ROUTING_KEY_HEADER);
  if (key) return key;
  const deaths = headers['x-death'];
  if (!Array.isArray(deaths)) return undefined;
  for (const d of deaths as Record<string, unknown>[]) {
    const keys = d?.['routing-keys'];
    if (d?.exchange === inboundExchange && Array.isArray(keys) && typeof keys[0] === 'string') return keys[0];
  }
  return undefined;
}

function view(m: amqp.Message, inboundExchange: string): ErrorView {
  const h = headersOf(m);
  return {
    code: codeOf(m),
    path: headerString(h, 'x-error-path') ?? null,
    message: headerString(h, 'x-error-message') ?? null,
    firstFailedAt: headerString(h, 'x-first-failed-at') ?? null,
    failedAt: headerString(h, 'x-failed-at') ?? null,
    originalRoutingKey: originalRoutingKey(m, inboundExchange) ?? null,
    originalExchange: headerString(h, 'x-original-exchange') ?? null,
    messageId: m.properties.messageId ?? null,
    redelivered: m.fields.redelivered,
    bodyPreview: preview(m.content.toString('utf8'), BODY_PREVIEW_CHARS),
  };
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
  const found: ErrorView[] = [];
  let examined = 0;
  const ch = await ctx.channel();
  try {
    // Without a filter only `limit` messages are fetched; with one, up to the whole queue, to find `limit` matches.
    const budget = opts.code ? total : Math.min(opts.limit, total);
    while (examined < budget && found.length < opts.limit) {
      const m = await ch.get(queue, { noAck: false });
      if (!m) break;
      examined++;
      if (opts.code && codeOf(m) !== opts.code) continue;
      found.push(view(m, ctx.cfg.topology.inboundExchange));
    }
  } finally {
    // Closing the channel hands every fetched message back to the queue.
    await ch.close().catch(() => undefined);
  }

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

interface ReplayResult {
  examined: number;
  moved: number;
  kept: number;
  noRoutingKey: number;
}

const DELIVERY_HEADERS = ['x-failed-at', 'x-original-exchange', ORIGINAL_ROUTING_KEY_HEADER, 'x-death', 'x-delivery-count', PUBLISH_ID_HEADER];

/** Headers about the failed delivery, not the message: the replayed message starts fresh (x-first-failed-at stays). */
function isFailureHeader(name: string): boolean {
  return (
    name.startsWith('x-error-') ||
    name.startsWith('x-first-death-') ||
    name.startsWith('x-last-death-') ||
    DELIVERY_HEADERS.includes(name)
  );
}

/** The original properties for the republish; user_id (checked against our login) and expiration are not kept. */
function replayProperties(m: amqp.Message): amqp.Options.Publish {
  const p = m.properties;
  const headers: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headersOf(m))) if (!isFailureHeader(k)) headers[k] = v;
  const props: amqp.Options.Publish = {
    contentType: p.contentType,
    contentEncoding: p.contentEncoding,
    correlationId: p.correlationId,
    replyTo: p.replyTo,
    messageId: p.messageId,
    timestamp: p.timestamp,
    type: p.type,
    appId: p.appId,
    priority: p.priority,
    headers,
    persistent: true,
  };
  for (const k of Object.keys(props) as (keyof amqp.Options.Publish)[]) if (props[k] === undefined) delete props[k];
  return props;
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
  const r: ReplayResult = { examined: 0, moved: 0, kept: 0, noRoutingKey: 0 };
  let selected = 0;
  let interrupted = false;
  let failure: unknown;
  const inFlight = new Set<Promise<void>>();
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
  const summary = () => {
    const noKey = r.noRoutingKey ? ` (${r.noRoutingKey} without an original routing key)` : '';
    return `moved ${r.moved}, kept ${r.kept}${noKey}, examined ${r.examined} of ${total}`;
  };

  /** Republishes one message; only once the broker confirmed it is it acked (removed) on the error queue. */
  const move = (m: amqp.GetMessage, key: string): Promise<void> =>
    publisher.publish(inboundExchange, key, m.content, replayProperties(m), true).then(
      (outcome) => {
        if (outcome === 'confirmed') {
          ch.ack(m);
          r.moved++;
          return;
        }
        r.kept++;
        failure ??= new CliError(`exchange "${inboundExchange}" routed nothing for ${key}: is the service's inbound queue missing?`);
      },
      (err: unknown) => {
        r.kept++;
        failure ??= err;
      },
    );

  try {
    // Only the messages present at the start are looked at, so replayed ones that fail again are not met twice.
    while (r.examined < total && !interrupted && !failure && (opts.limit === undefined || selected < opts.limit)) {
      while (inFlight.size >= REPLAY_WINDOW) await Promise.race(inFlight);
      const m = await ch.get(errorQueue, { noAck: false });
      if (!m) break;
      r.examined++;
      const key = originalRoutingKey(m, inboundExchange);
      if (opts.code && codeOf(m) !== opts.code) {
        r.kept++; // left unacked: back in the queue when the channel closes
      } else if (!key) {
        r.kept++;
        r.noRoutingKey++;
      } else {
        selected++;
        const p: Promise<void> = move(m, key).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      if (r.examined % PROGRESS_EVERY === 0) note(`replay: ${summary()}`);
    }
  } catch (err) {
    failure ??= err;
  } finally {
    await Promise.all(inFlight);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Acks went out before this close on the same channel; everything not acked goes back to the queue.
    await ch.close().catch(() => undefined);
  }
  print(`${interrupted ? 'interrupted: ' : ''}${summary()} (${errorQueue} → ${inboundExchange})`);
  if (failure) throw failure;
  if (interrupted) process.exitCode = 130;
}
