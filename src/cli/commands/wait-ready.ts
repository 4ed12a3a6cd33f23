import type { Command } from 'commander';
import { request } from 'node:http';
import { CliError } from '../cli-error';
import { withContext, type CliContext } from '../context';
import { durationOption, examples } from '../options';
import { humanDuration, print } from '../output';

interface WaitReadyOptions {
  url?: string;
  timeout: number;
}

/**
 * For scripts and the README's quick-start: a line after `npm start &` that must wait for the service. Polls the
 * service's /readyz (on HTTP_PORT, as the service reads it) until it answers 200; nothing else is needed.
 */
export function registerWaitReady(program: Command): void {
  program
    .command('wait-ready')
    .description(
      'wait until the service answers ready on /readyz (http://127.0.0.1:$HTTP_PORT/readyz, HTTP_PORT as the service reads it, ' +
        'default 8080): for scripts that start the service in the background',
    )
    .option('--url <url>', 'the readiness URL to poll (default: http://127.0.0.1:<HTTP_PORT>/readyz)')
    .addOption(durationOption('--timeout <duration>', 'how long to wait, e.g. 60s, 5m', '120s'))
    .addHelpText(
      'after',
      examples('npm start & workitem wait-ready', 'workitem wait-ready --timeout 30s --url http://workitem:8080/readyz') +
        '\nExit status: 0 ready, 1 not ready in time (the last answer is printed).\n',
    )
    .action((opts: WaitReadyOptions) => withContext((ctx) => waitReady(ctx, opts)));
}

async function waitReady(ctx: CliContext, opts: WaitReadyOptions): Promise<void> {
  const url = opts.url ?? `http://127.0.0.1:${ctx.cfg.httpPort}/readyz`;
  const deadline = Date.now() + opts.timeout;
  let last: string;
  for (;;) {
    const answer = await probe(url);
    if (answer.status === 200) {
      print(`ready (${url})`);
      return;
    }
    last = answer.status ? `${answer.status} ${answer.body.slice(0, 300)}` : answer.error;
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(500, Math.max(0, deadline - Date.now()))));
  }
  throw new CliError(`not ready within ${humanDuration(opts.timeout)} (${url}): ${last}`);
}

function probe(url: string): Promise<{ status?: number; body: string; error: string }> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body: body.replace(/\s+/g, ' '), error: '' }));
      res.on('error', (err) => resolve({ body: '', error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 2 s')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ body: '', error: err.code ?? err.message }));
    req.end();
  });
}
