import { controlEventMessage } from '../adapters/rabbitmq/control-event-message';
import { CliError } from './cli-error';
import type { CliContext } from './context';

/** Publishes a contact-center control event; if no queue takes it, the service is not listening. */
export async function publishControlEvent(ctx: CliContext, routingKey: string, body: Record<string, string>): Promise<void> {
  const exchange = ctx.cfg.topology.controlExchange;
  const publisher = await ctx.publisher();
  const { content, options } = controlEventMessage(routingKey, body, 'workitem-cli');
  const result = await publisher.publish(exchange, routingKey, content, options, true);
  if (result === 'returned') {
    throw new CliError(
      `${routingKey} was not delivered: the service's control queue is not bound — is the service deployed? (exchange "${exchange}")`,
    );
  }
}
