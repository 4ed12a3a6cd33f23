import { randomUUID } from 'node:crypto';
import type * as amqp from 'amqplib';

/**
 * A contact-center control event as the contact center sends it (JSON, persistent, `type` = routing key), for
 * the CLI and the dashboard, which publish the same events: confirmed and `mandatory`, since an event no queue
 * takes means the service is not listening.
 */
export function controlEventMessage(routingKey: string, body: object, appId: string): { content: Buffer; options: amqp.Options.Publish } {
  return {
    content: Buffer.from(JSON.stringify(body)),
    options: {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      persistent: true,
      messageId: randomUUID(),
      type: routingKey,
      timestamp: Math.floor(Date.now() / 1000),
      appId,
    },
  };
}
