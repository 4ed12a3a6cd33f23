import { randomUUID } from 'node:crypto';
import type * as amqp from 'amqplib';
import { PUBLISH_ID_HEADER } from '../adapters/rabbitmq/confirmed-publisher';
import { CliError, NOT_DEPLOYED_HINT } from './cli-error';

export type PublishResult = 'confirmed' | 'returned';

/**
 * Publishes on a confirm channel: each publish resolves once the broker confirmed it, and says whether a
 * `mandatory` message was returned as unroutable (matched by the same publish-id header the service uses, so
 * several publishes may be in flight). Back-pressure is respected and every wait is bounded.
 */
export class ConfirmedChannel {
  private readonly pending = new Map<string, { returned: boolean }>();
  private drained: Promise<void> | null = null;
  private closeReason: Error | undefined;

  constructor(
    private readonly ch: amqp.ConfirmChannel,
    private readonly confirmTimeoutMs: number,
  ) {
    ch.on('return', (msg: amqp.Message) => {
      const id = msg.properties.headers?.[PUBLISH_ID_HEADER];
      const p = typeof id === 'string' ? this.pending.get(id) : undefined;
      if (p) p.returned = true;
    });
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
    while (this.drained) await this.drained;
    const where = `${exchange || '(default exchange)'} with routing key ${routingKey}`;
    if (this.closeReason) throw this.failure(where, this.closeReason);
    const id = randomUUID();
    const state = { returned: false };
    if (mandatory) this.pending.set(id, state);
    const headers = mandatory ? { ...options.headers, [PUBLISH_ID_HEADER]: id } : options.headers;
    try {
      return await new Promise<PublishResult>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new CliError(`publish to ${where} was not confirmed by the broker within ${this.confirmTimeoutMs} ms`)),
          this.confirmTimeoutMs,
        );
        let ok: boolean;
        try {
          ok = this.ch.publish(exchange, routingKey, body, { ...options, headers, mandatory }, (err) => {
            clearTimeout(timer);
            if (err) reject(this.failure(where, this.closeReason ?? err));
            else resolve(state.returned ? 'returned' : 'confirmed');
          });
        } catch (err) {
          clearTimeout(timer);
          reject(this.failure(where, err as Error));
          return;
        }
        if (!ok && !this.drained) {
          this.drained = new Promise<void>((res) => {
            const done = () => {
              clearTimeout(t);
              res();
            };
            const t = setTimeout(done, this.confirmTimeoutMs);
            this.ch.once('drain', done);
            this.ch.once('close', done);
          }).finally(() => {
            this.drained = null;
          });
        }
      });
    } finally {
      this.pending.delete(id);
    }
  }

  private failure(where: string, err: Error): CliError {
    const msg = err.message ?? String(err);
    const noExchange = /NOT_FOUND - no exchange '([^']*)'/.exec(msg);
    if (noExchange) {
      return new CliError(`exchange "${noExchange[1]}" does not exist in this vhost — ${NOT_DEPLOYED_HINT}`);
    }
    return new CliError(`publish to ${where} failed: ${msg}`);
  }
}
