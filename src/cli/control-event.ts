import { randomUUID } from 'node:crypto';
import { CliError } from './cli-error';
import type { CliContext } from './context';

/**
 * Publishes a contact-center control event (JSON) to the control exchange, persistent, confirmed and
 * mandatory: if no queue takes it, the service is not listening and nothing would happen.
 */
export async function publishControlEvent(ctx: CliContext, routingKey: string, body: Record<string, string>): Promise<void> {
  const exchange = ctx.cfg.topology.controlExchange;
  const publisher = await ctx.publisher();
  const result = await publisher.publish(
    exchange,
    routingKey,
    Buffer.from(JSON.stringify(body)),
    {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      persistent: true,
      messageId: randomUUID(),
      type: routingKey,
      timestamp: Math.floor(Date.now() / 1000),
      appId: 'workitem-cli',
    },
    true,
  );
  if (result === 'returned') {
    throw new CliError(
      `${routingKey} was not delivered: the service's control queue is not bound — is the service deployed? (exchange "${exchange}")`,
    );
  }
}
