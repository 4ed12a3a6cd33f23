import type { Command } from 'commander';
import { examples } from '../options';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run the work-item server in the foreground (the same code as `node dist/main.js`); stops on SIGTERM/SIGINT')
    .addHelpText(
      'after',
      examples(
        'workitem start',
        'AMQP_URL=amqp://user:pass@rabbit:5672/prod REDIS_URL=redis://redis:6379 HTTP_PORT=8080 workitem start',
        'WORKITEM_CONFIG=/etc/workitem/config.json LOG_LEVEL=debug workitem start',
      ) +
        '\nConfiguration comes from the environment only (see docs/operators.md: AMQP_URL, REDIS_URL, REDIS_KEY_PREFIX, HTTP_PORT, WORKITEM_CONFIG, ...).\n',
    )
    .action(async () => {
      // The service module wires itself up, handles its own signals and exits the process when stopped.
      await import('../../main');
    });
}
