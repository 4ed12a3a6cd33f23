import { randomUUID } from 'node:crypto';
import type * as amqp from 'amqplib';
import { ConfirmChannelPublisher, PUBLISH_ID_HEADER, type PublishFailure } from '../adapters/rabbitmq/confirmed-publisher';
import { CliError, NOT_DEPLOYED_HINT } from './cli-error';

export type PublishResult = 'confirmed' | 'returned';

/**
 * Publishes on a confirm channel: each publish resolves once the broker confirmed it, and says whether a
 * `mandatory` message was returned as unroutable (matched by the same publish-id header the service uses, so
 * several publishes may be in flight). Back-pressure is respected and every wait is bounded: the service's
 * ConfirmChannelPublisher does that; this adds what a one-shot command needs, an error an operator can act on (a
 * channel closed by the broker fails the next publish at once, with the broker's reason).
 */
export class ConfirmedChannel {
  private readonly core: ConfirmChannelPublisher;
  private closeReason: Error | undefined;

  constructor(
    ch: amqp.ConfirmChannel,
    private readonly confirmTimeoutMs: number,
  ) {
    this.core = new ConfirmChannelPublisher(ch, confirmTimeoutMs, (f, exchange, routingKey) =>
      this.publishError(f, where(exchange, routingKey)),
    );
    ch.on('error', (err: Error) => {
      this.closeReason = err;
    });
    ch.on('close', () => {
      this.closeReason ??= new Error('channel closed');
    });
  }

  async publish(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: amqp.Options.Publish,
    mandatory: boolean,
  ): Promise<PublishResult> {
    while (this.core.backPressure) await this.core.backPressure;
    if (this.closeReason) throw this.failure(where(exchange, routingKey), this.closeReason);
    // A fresh id even when the message carries one (a replayed error copy carries the one the service gave it).
    const id = randomUUID();
    const headers = mandatory ? { ...options.headers, [PUBLISH_ID_HEADER]: id } : options.headers;
    return this.core.publish(exchange, routingKey, body, { ...options, headers }, mandatory, id);
  }

  private publishError(f: PublishFailure, target: string): CliError {
    if (f.kind === 'timeout') {
      return new CliError(`publish to ${target} was not confirmed by the broker within ${this.confirmTimeoutMs} ms`);
    }
    // A nack or close after an error on the channel: the broker's reason says more than "channel closed".
    return this.failure(target, f.kind === 'nacked' ? (this.closeReason ?? f.cause) : f.cause);
  }

  private failure(target: string, err: Error): CliError {
    const msg = err.message ?? String(err);
    const noExchange = /NOT_FOUND - no exchange '([^']*)'/.exec(msg);
    if (noExchange) {
      return new CliError(`exchange "${noExchange[1]}" does not exist in this vhost — ${NOT_DEPLOYED_HINT}`);
    }
    return new CliError(`publish to ${target} failed: ${msg}`);
  }
}

function where(exchange: string, routingKey: string): string {
  return `${exchange || '(default exchange)'} with routing key ${routingKey}`;
}
