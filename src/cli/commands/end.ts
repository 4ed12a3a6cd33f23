import type { Command } from 'commander';
import { CONTACT_ID_PATTERN } from '../../domain/work-item';
import { CliError, UsageError } from '../cli-error';
import { withContext } from '../context';
import { publishControlEvent } from '../control-event';
import { examples } from '../options';
import { print } from '../output';

export function registerEnd(program: Command): void {
  program
    .command('end')
    .description(
      'end a contact as if the agent pressed End: publishes contact.ended; the service removes its state and counts it as completed',
    )
    .argument('<contactId>', 'the contactId from the receipt or event (wi-…)')
    .addHelpText('after', examples('workitem end wi-0b9f6c1e-6d1a-4b5e-9a43-2f7f0d1c2e3a', 'workitem items --json   # to find contactIds'))
    .action((contactId: string) =>
      withContext(async (ctx) => {
        if (!CONTACT_ID_PATTERN.test(contactId)) throw new UsageError(`"${contactId}" is not a contactId (expected wi-<uuid>)`);
        // The service would log and ack an End for nobody; the operator should hear of the typo here.
        const store = await ctx.store();
        if (!(await store.getItem(contactId))) {
          throw new CliError(
            `${contactId} is not an unfinished item (already ended, cancelled or expired, or never existed); nothing published`,
          );
        }
        await publishControlEvent(ctx, 'contact.ended', { contactId });
        print(`contact.ended published for ${contactId}`);
      }),
    );
}
