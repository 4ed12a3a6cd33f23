import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { parseItemInfo } from '../../adapters/xml/render-item-info';
import { escapeText, parseReceipt } from '../../adapters/xml/render-receipt';
import { NAME_PATTERN } from '../../domain/names';
import type { ItemInfo, ReceiptData } from '../../domain/receipt';
import { CliError, UsageError } from '../cli-error';
import { CliContext, withContext } from '../context';
import { durationOption, examples } from '../options';
import { humanDuration, print, printable, printJson, renderTable } from '../output';
import { ReceiptTimeout, openReplyQueue, publishAsSender } from './send';

interface GetOptions {
  source: string;
  timeout: number;
  json?: boolean;
}

type Reply = { info: ItemInfo } | { receipt: ReceiptData };

export function registerGet(program: Command): void {
  program
    .command('get')
    .description(
      'ask the service about an item as its sender does (<getWorkItem>, routing key workitem.<source>): its state, fields and history steps, answered to an exclusive reply queue',
    )
    .argument('<externalId>', "the sender's id of the item")
    .requiredOption('--source <source>', 'the source the item was sent as (the query is published as that sender)')
    .addOption(durationOption('--timeout <duration>', 'how long to wait for the answer, e.g. 10s, 2m', '10s'))
    .option('--json', 'print the answer as JSON ({info} or {receipt})')
    .addHelpText(
      'after',
      examples('workitem get CASE-2026-000123 --source bank-support', 'workitem get CASE-2026-000123 --source bank-support --json') +
        '\nExit status: 0 found, 1 not found (NOT_FOUND), rejected, no answer in time, or broker error.\n',
    )
    .action((externalId: string, opts: GetOptions) => withContext((ctx) => get(ctx, externalId, opts)));
}

async function get(ctx: CliContext, externalId: string, opts: GetOptions): Promise<void> {
  if (!NAME_PATTERN.test(opts.source)) throw new UsageError(`"${opts.source}" is not a source name`);
  if (externalId.trim() === '') throw new UsageError('externalId must not be empty');
  const body = Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<getWorkItem version="1"><externalId>${escapeText(externalId)}</externalId>` +
      `<source>${opts.source}</source></getWorkItem>\n`,
    'utf8',
  );
  const correlationId = randomUUID();
  const replies = await openReplyQueue<Reply>(ctx, correlationId, (content, type) =>
    type === 'workItemInfo' ? { info: parseItemInfo(content) } : { receipt: parseReceipt(content) },
  );
  const routingKey = `workitem.${opts.source}`;
  const exchange = ctx.cfg.topology.inboundExchange;
  await publishAsSender(ctx, exchange, routingKey, body, { messageId: randomUUID(), correlationId, replyTo: replies.queue });
  const reply = await replies.next(opts.timeout).catch((err: Error) => {
    throw new CliError(
      err instanceof ReceiptTimeout ? `no answer within ${humanDuration(opts.timeout)} — is the service running?` : err.message,
    );
  });
  if (opts.json) printJson(reply);
  else print('info' in reply ? describeInfo(reply.info) : describeRejection(reply.receipt));
  if ('receipt' in reply) process.exitCode = 1;
}

function describeInfo(i: ItemInfo): string {
  const rows: [string, string | number | undefined][] = [
    ['state', i.state],
    ['contactId', i.contactId],
    ['externalId', i.externalId],
    ['source', i.source],
    ['entrance', i.entrance],
    ['priority', i.priority],
    ['receivedAt', i.receivedAt],
    ['updatedAt', i.updatedAt],
    ['revision', i.revision],
    ['dueAt', i.dueAt],
    ['expiresAt', i.expiresAt],
    ['heldUntil', i.heldUntil],
  ];
  const head = rows
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${`${k}:`.padEnd(12)}${printable(String(v))}`)
    .join('\n');
  if (i.steps.length === 0) return `${head}\n(no history kept)`;
  const table = renderTable(
    [
      { header: 'AT', value: (s: ItemInfo['steps'][number]) => s.at },
      { header: 'STEP', value: (s: ItemInfo['steps'][number]) => s.name },
    ],
    i.steps,
  );
  return `${head}\n\n${table.trimEnd()}`;
}

function describeRejection(r: ReceiptData): string {
  if (r.error?.code === 'NOT_FOUND') return `not found: ${printable(r.error.message)}`;
  return `rejected: ${r.error?.code ?? '?'} at ${r.error?.path ?? '?'}: ${printable(r.error?.message ?? '')}`;
}
