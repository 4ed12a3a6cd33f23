import type * as amqp from 'amqplib';
import { CliError } from './cli-error';

export type PublishResult = 'confirmed' | 'returned';

/**
 * A confirm channel that publishes one message at a time, so a `basic.return` (which the broker sends
 * before the confirm) belongs to exactly the publish in flight. Throughput is not the CLI's concern;
 * being sure what happened to each message is.
 */
export class ConfirmedChannel {
  private returned = false;
  private queue: Promise<unknown> = Promise.resolve();
  private closeReason: Error | undefined;

  constructor(
    private readonly ch: amqp.ConfirmChannel,
    private readonly confirmTimeoutMs: number,
  ) {
    ch.on('return', () => {
      this.returned = true;
    });
    ch.on('error', (err: Error) => {
      this.closeReason = err;
    });
    ch.on('close', () => {
      this.closeReason ??= new Error('channel closed');
    });
  }

  /** Resolves when the broker confirmed the message: `returned` if `mandatory` and no queue took it. */
  publish(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: amqp.Options.Publish,
    mandatory: boolean,
  ): Promise<PublishResult> {
    const run = this.queue.then(() => this.publishNow(exchange, routingKey, body, options, mandatory));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private publishNow(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: amqp.Options.Publish,
    mandatory: boolean,
  ): Promise<PublishResult> {
    const where = `${exchange || '(default exchange)'} with routing key ${routingKey}`;
    if (this.closeReason) return Promise.reject(this.failure(where, this.closeReason));
    this.returned = false;
    return new Promise<PublishResult>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new CliError(`publish to ${where} was not confirmed by the broker within ${this.confirmTimeoutMs} ms`)),
        this.confirmTimeoutMs,
      );
      try {
        this.ch.publish(exchange, routingKey, body, { ...options, mandatory }, (err) => {
          clearTimeout(timer);
          if (err) reject(this.failure(where, this.closeReason ?? err));
          else resolve(this.returned ? 'returned' : 'confirmed');
        });
      } catch (err) {
        clearTimeout(timer);
        reject(this.failure(where, err as Error));
      }
    });
  }

  private failure(where: string, err: Error): CliError {
    const msg = err.message ?? String(err);
    const noExchange = /NOT_FOUND - no exchange '([^']*)'/.exec(msg);
    if (noExchange) {
      return new CliError(
        `exchange "${noExchange[1]}" does not exist in this vhost — is the service deployed? (it declares the topology when it starts)`,
      );
    }
    return new CliError(`publish to ${where} failed: ${msg}`);
  }
}
