#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './cli-error';
import { registerEnd } from './commands/end';
import { registerEntrance } from './commands/entrance';
import { registerErrors } from './commands/errors';
import { registerGet } from './commands/get';
import { registerHistory } from './commands/history';
import { registerHold, registerResume } from './commands/hold';
import { registerItems } from './commands/items';
import { registerReport } from './commands/report';
import { registerSend } from './commands/send';
import { registerStart } from './commands/start';
import { registerWaitReady } from './commands/wait-ready';
import { registerWatch } from './commands/watch';
import { examples } from './options';

function version(): string {
  try {
    return (JSON.parse(readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function buildProgram(): Command {
  const program = new Command('workitem')
    .description(
      'Operate the work-item server: run it, send work items, watch its events, open/close entrances, end contacts, hold and resume items, list items and their history, report, replay the error queue.\n' +
        'Reads the same environment as the service: AMQP_URL, REDIS_URL, REDIS_KEY_PREFIX, WORKITEM_CONFIG.',
    )
    .version(version(), '-V, --version')
    // Settings below are inherited by every subcommand registered afterwards.
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      examples(
        'workitem start',
        'workitem watch &   # a stand-in contact center: prints the events',
        'workitem wait-ready   # until the service answers ready on /readyz',
        'workitem send loan-review.xml --wait',
        'workitem entrance close loans',
        'workitem items --entrance loans --json',
        'workitem end wi-0b9f6c1e-6d1a-4b5e-9a43-2f7f0d1c2e3a',
        'workitem hold bank-support CASE-2026-000123 --until 2026-12-08T08:00:00Z',
        'workitem resume bank-support CASE-2026-000123',
        'workitem history wi-0b9f6c1e-6d1a-4b5e-9a43-2f7f0d1c2e3a',
        'workitem report --since 7d',
        'workitem errors list --code FORBIDDEN_XML',
        'workitem errors replay --code UNKNOWN_ENTRANCE --yes',
      ) + '\nExit status: 0 ok, 1 failure, 2 usage error.\n',
    );
  registerStart(program);
  registerSend(program);
  registerEntrance(program);
  registerEnd(program);
  registerItems(program);
  registerGet(program);
  registerHold(program);
  registerResume(program);
  registerHistory(program);
  registerReport(program);
  registerErrors(program);
  registerWatch(program);
  registerWaitReady(program);
  return program;
}

async function main(): Promise<void> {
  // `workitem items | head`: a reader that went away is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT_OK);
    throw err;
  });
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed help or the usage problem; --help and --version are the successful ones.
      process.exitCode = err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
      return;
    }
    if (err instanceof CliError) {
      process.stderr.write(`workitem: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`workitem: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = EXIT_FAILURE;
  }
}

void main();
