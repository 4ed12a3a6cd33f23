import type * as amqp from 'amqplib';
import type { Tracing } from '../../ports/tracing';

/** What the RabbitMQ adapters need on top of the application's port: a span per delivery and per publish. */
export interface MessageTracing extends Tracing {
  /**
   * Runs `handle` in a CONSUMER span `<queue> process` whose parent is the delivery's W3C `traceparent` (and
   * `tracestate`) header; a delivery without one starts a new trace.
   */
  process<T>(queue: string, msg: amqp.Message, handle: () => Promise<T>): Promise<T>;
  /**
   * Runs `send` in a PRODUCER span `<destination> publish` (a child of the active span; with none, of the trace the
   * message already carries): `send` gets the options with that span's `traceparent`/`tracestate` headers.
   * destination names the span when the exchange is the default one and the routing key is no fixed queue (a reply_to).
   */
  publish<T>(
    exchange: string,
    routingKey: string,
    bodySize: number,
    options: amqp.Options.Publish,
    destination: string | undefined,
    send: (options: amqp.Options.Publish) => Promise<T>,
  ): Promise<T>;
}

/** Tracing off: nothing is created; callers test `enabled` and take their untraced path. */
export const NO_TRACING: MessageTracing = Object.freeze({
  enabled: false,
  current: () => undefined,
  annotate: () => undefined,
  resume: <T>(_name: string, _stored: string | undefined, fn: () => Promise<T>) => fn(),
  process: <T>(_queue: string, _msg: amqp.Message, handle: () => Promise<T>) => handle(),
  publish: <T>(
    _exchange: string,
    _routingKey: string,
    _bodySize: number,
    options: amqp.Options.Publish,
    _destination: string | undefined,
    send: (options: amqp.Options.Publish) => Promise<T>,
  ) => send(options),
});
