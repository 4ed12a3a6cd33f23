import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { escapeText } from '../../adapters/xml/render-receipt';
import { NAME_PATTERN } from '../../domain/names';
import { CliError, UsageError } from '../cli-error';
import { CliContext, withContext } from '../context';
import { durationOption, examples } from '../options';
import { humanDuration, print, printJson } from '../output';
import { ReceiptTimeout, describeReceipt, openReplyQueue, publishAsSender } from './send';

/** Contract 1.2: `workitem hold` and `workitem resume` publish `<holdWorkItem>` / `<resumeWorkItem>` as the item's sender. */

interface HoldOptions {
  until?: string;
  reason?: string;
  timeout: number;
  json?: boolean;
}

interface ResumeOptions {
  timeout: number;
  json?: boolean;
}

const EXIT_HELP =
  '\nExit status: 0 answered (receipt held/resumed), 1 rejected (NOT_FOUND, NOT_HELD, …), no receipt in time, or broker error.\n';

export function registerHold(program: Command): void {
  program
    .command('hold')
    .description(
      'put an item on hold as its sender does (<holdWorkItem>, routing key workitem.<source>): a routed item leaves the agents\u2019 queue, a parked or scheduled one stops waiting, until a resume or --until; prints the receipt',
    )
    .argument('<source>', 'the source the item was sent as (published as that sender)')
    .argument('<externalId>', "the sender's id of the item")
    .option('--until <time>', 'resume it by itself then: an ISO-8601 date-time with a zone, e.g. 2026-12-08T08:00:00Z')
    .option('--reason <text>', 'why (at most 256 characters; shown in its history)')
    .addOption(durationOption('--timeout <duration>', 'how long to wait for the receipt, e.g. 10s, 2m', '10s'))
    .option('--json', 'print the receipt as JSON')
    .addHelpText(
      'after',
      examples(
        'workitem hold bank-support CASE-2026-000123',
        'workitem hold bank-support CASE-2026-000123 --until 2026-12-08T08:00:00Z --reason "waiting for documents"',
        'workitem items --state held',
      ) + EXIT_HELP,
    )
    .action((source: string, externalId: string, opts: HoldOptions) =>
      withContext((ctx) =>
        publishAndPrint(
          ctx,
          source,
          externalId,
          'holdWorkItem',
          (opts.until ? `<until>${escapeText(opts.until)}</until>` : '') +
            (opts.reason ? `<reason>${escapeText(opts.reason)}</reason>` : ''),
          opts,
        ),
      ),
    );
}

export function registerResume(program: Command): void {
  program
    .command('resume')
    .description(
      'resume a held item as its sender does (<resumeWorkItem>, routing key workitem.<source>): routed again with its contactId (parked at a closed entrance, scheduled again for a future activateAt); prints the receipt',
    )
    .argument('<source>', 'the source the item was sent as (published as that sender)')
    .argument('<externalId>', "the sender's id of the item")
    .addOption(durationOption('--timeout <duration>', 'how long to wait for the receipt, e.g. 10s, 2m', '10s'))
    .option('--json', 'print the receipt as JSON')
    .addHelpText('after', examples('workitem resume bank-support CASE-2026-000123') + EXIT_HELP)
    .action((source: string, externalId: string, opts: ResumeOptions) =>
      withContext((ctx) => publishAndPrint(ctx, source, externalId, 'resumeWorkItem', '', opts)),
    );
}

async function publishAndPrint(
  ctx: CliContext,
  source: string,
  externalId: string,
  root: 'holdWorkItem' | 'resumeWorkItem',
  inner: string,
  opts: { timeout: number; json?: boolean },
): Promise<void> {
  if (!NAME_PATTERN.test(source)) throw new UsageError(`"${source}" is not a source name`);
  if (externalId.trim() === '') throw new UsageError('externalId must not be empty');
  const body = Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<${root} version="1"><externalId>${escapeText(externalId)}</externalId>` +
      `<source>${source}</source>${inner}</${root}>\n`,
    'utf8',
  );
  const correlationId = randomUUID();
  const receipts = await openReplyQueue(ctx, correlationId);
  await publishAsSender(ctx, ctx.cfg.topology.inboundExchange, `workitem.${source}`, body, {
    messageId: randomUUID(),
    correlationId,
    replyTo: receipts.queue,
  });
  const r = await receipts.next(opts.timeout).catch((err: Error) => {
    throw new CliError(
      err instanceof ReceiptTimeout ? `no receipt within ${humanDuration(opts.timeout)} — is the service running?` : err.message,
    );
  });
  if (opts.json) printJson(r);
  else print(describeReceipt(r));
  if (r.status === 'rejected') process.exitCode = 1;
}
