import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ReceiptData } from '../../domain/receipt';
import { parseReceipt } from '../../adapters/xml/render-receipt';
import { CliError, UsageError } from '../cli-error';
import { CliContext, withContext } from '../context';
import { durationOption, examples } from '../options';
import { humanDuration, print, printable, printJson } from '../output';

interface SendOptions {
  source?: string;
  routingKey?: string;
  large?: boolean;
  wait?: boolean;
  timeout: number;
  correlationId?: string;
  json?: boolean;
}

export function registerSend(program: Command): void {
  program
    .command('send')
    .description(
      'publish a work-item XML file to the inbound exchange (or with --large the large-item exchange; routing key workitem.<source>), persistent and confirmed by the broker; ' +
        'with --wait, wait for the receipt and print it',
    )
    .argument(
      '<file.xml>',
      'the message body: a <workItem>, <updateWorkItem>, <cancelWorkItem>, <holdWorkItem> or <resumeWorkItem> document',
    )
    .option('--source <source>', 'source for the routing key (default: the <source> element of the file)')
    .option('--routing-key <key>', 'routing key to publish with (default: workitem.<source>)')
    .option('--large', 'publish to the large-item exchange (an item over limits.largeMessageBytes goes straight to its lane)')
    .option('--wait', 'wait for the receipt on an exclusive reply queue; exit 1 if rejected or none arrives in time')
    .addOption(durationOption('--timeout <duration>', 'how long --wait waits, e.g. 10s, 2m', '10s'))
    .option('--correlation-id <id>', 'correlation_id of the message (default with --wait: a random UUID)')
    .option('--json', 'print the result (receipt) as JSON')
    .addHelpText(
      'after',
      examples(
        'workitem send loan-review.xml',
        'workitem send loan-review.xml --wait',
        'workitem send case.xml --source bank-support --wait --timeout 30s --json',
        'workitem send voicemail-2mb.xml --large --wait',
        'workitem send cancel.xml --routing-key workitem.bank-support --correlation-id my-123',
      ) +
        '\nExit status: 0 published (or receipt accepted/buffered/scheduled/duplicate/updated/cancelled/held/resumed), 1 rejected, no receipt in time, or broker error.\n',
    )
    .action((file: string, opts: SendOptions) => withContext((ctx) => send(ctx, file, opts)));
}

function sourceOf(xml: string): string | undefined {
  return /<source>\s*([^<\s]+)\s*<\/source>/.exec(xml.slice(0, 65_536))?.[1];
}

async function send(ctx: CliContext, file: string, opts: SendOptions): Promise<void> {
  let body: Buffer;
  try {
    body = readFileSync(file);
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let routingKey = opts.routingKey;
  if (!routingKey) {
    const source = opts.source ?? sourceOf(body.toString('utf8'));
    if (!source) throw new UsageError(`no <source> found in ${file}: pass --source or --routing-key`);
    routingKey = `workitem.${source}`;
  }
  const exchange = opts.large ? ctx.cfg.topology.inboundLargeExchange : ctx.cfg.topology.inboundExchange;
  const messageId = randomUUID();
  const correlationId = opts.correlationId ?? (opts.wait ? randomUUID() : undefined);

  const receipt = opts.wait ? await openReplyQueue(ctx, correlationId!) : undefined;
  await publishAsSender(ctx, exchange, routingKey, body, { messageId, correlationId, replyTo: receipt?.queue });
  const published = { file, exchange, routingKey, messageId, correlationId };
  if (!receipt) {
    if (opts.json) printJson({ published });
    else print(`published ${printable(file)} to ${exchange} with routing key ${routingKey} (message_id ${messageId})`);
    return;
  }

  const r = await receipt.next(opts.timeout).catch((err: Error) => {
    const why = err instanceof ReceiptTimeout ? `no receipt within ${humanDuration(opts.timeout)} — is the service running?` : err.message;
    throw new CliError(
      `published (message_id ${messageId}) but ${why} Every receipt is also copied to exchange "${ctx.cfg.topology.receiptsExchange}".`,
    );
  });
  if (opts.json) printJson({ published, receipt: r });
  else print(describeReceipt(r));
  if (r.status === 'rejected') process.exitCode = 1;
}

/** A receipt as `send --wait`, `hold` and `resume` print it: one `name: value` line per attribute it has. */
export function describeReceipt(r: ReceiptData): string {
  const rows: [string, string | undefined][] = [
    ['status', r.status],
    ['contactId', r.contactId],
    ['externalId', r.externalId],
    ['source', r.source],
    ['entrance', r.entrance],
    ['receivedAt', r.receivedAt],
  ];
  if (r.error) rows.push(['error', r.error.code], ['path', r.error.path], ['message', r.error.message]);
  return rows
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${`${k}:`.padEnd(12)}${printable(v)}`)
    .join('\n');
}

export class ReceiptTimeout extends Error {}

/**
 * An exclusive, server-named reply queue; `next` resolves with the reply carrying our correlation_id, read by `read`
 * (default: a receipt).
 */
export async function openReplyQueue<T = ReceiptData>(
  ctx: CliContext,
  correlationId: string,
  read: (body: Buffer, type: string | undefined) => T = (body) => parseReceipt(body) as T,
) {
  const ch = await ctx.channel();
  const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
  let deliver: ((r: T) => void) | undefined;
  let fail: ((err: Error) => void) | undefined;
  const arrived = new Promise<T>((resolve, reject) => {
    deliver = resolve;
    fail = reject;
  });
  arrived.catch(() => undefined);
  await ch.consume(
    queue,
    (msg) => {
      if (!msg) return fail?.(new Error('the reply queue was cancelled by the broker.'));
      if (msg.properties.correlationId !== correlationId) return;
      try {
        deliver?.(read(msg.content, msg.properties.type as string | undefined));
      } catch (err) {
        fail?.(new Error(`the receipt is unreadable (${(err as Error).message}).`));
      }
    },
    { noAck: true },
  );
  return {
    queue,
    next(timeoutMs: number): Promise<T> {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ReceiptTimeout()), timeoutMs);
      });
      return Promise.race([arrived, timeout]).finally(() => clearTimeout(timer));
    },
  };
}

/**
 * Publishes an XML document as a sender does (persistent, confirmed, mandatory, the sender's properties); a message no
 * queue takes is a CliError (the service's topology is not deployed in this vhost).
 */
export async function publishAsSender(
  ctx: CliContext,
  exchange: string,
  routingKey: string,
  body: Buffer,
  props: { messageId: string; correlationId?: string; replyTo?: string },
): Promise<void> {
  const publisher = await ctx.publisher();
  const result = await publisher.publish(
    exchange,
    routingKey,
    body,
    {
      contentType: 'application/xml',
      contentEncoding: 'utf-8',
      persistent: true,
      ...props,
      timestamp: Math.floor(Date.now() / 1000),
      appId: 'workitem-cli',
    },
    true,
  );
  if (result === 'returned') {
    throw new CliError(`not delivered: no queue is bound to "${exchange}" for routing key ${routingKey} — is the service deployed?`);
  }
}
