import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type * as amqp from 'amqplib';
import type { MessageTracing } from './message-tracing';

type Headers = Record<string, unknown>;

/** AMQP header values are strings, or byte arrays from some clients; W3C header names are lower case. */
const headerGetter: TextMapGetter<Headers> = {
  keys: (h) => Object.keys(h),
  get: (h, key) => {
    let v = h[key];
    if (v === undefined) {
      const k = Object.keys(h).find((x) => x.toLowerCase() === key);
      v = k === undefined ? undefined : h[k];
    }
    if (typeof v === 'string') return v;
    if (Buffer.isBuffer(v)) return v.toString('latin1');
    return undefined;
  },
};

const headerSetter: TextMapSetter<Headers> = {
  set: (h, key, value) => {
    h[key] = value;
  },
};

/** Header names the propagator owns: a copy of a sender's message must not keep the sender's. */
const TRACE_HEADERS = ['traceparent', 'tracestate'];

/**
 * Spans with @opentelemetry/api after the messaging conventions for RabbitMQ: `messaging.system` rabbitmq,
 * `messaging.destination.name` = exchange, `messaging.rabbitmq.destination.routing_key`, `messaging.operation.type`
 * process / send (the conventions' name for what they called publish before 1.26), span names `<queue> process` and
 * `<exchange> publish`. Only W3C trace context is read and written (no baggage).
 */
export class OtelTracing implements MessageTracing {
  readonly enabled = true;
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(private readonly tracer: Tracer) {}

  current(): string | undefined {
    const carrier: Headers = {};
    this.propagator.inject(context.active(), carrier, headerSetter);
    const tp = carrier.traceparent as string | undefined;
    if (!tp) return undefined;
    return typeof carrier.tracestate === 'string' && carrier.tracestate ? `${tp}\n${carrier.tracestate}` : tp;
  }

  annotate(attributes: Readonly<Record<string, string | number | boolean>>): void {
    trace.getSpan(context.active())?.setAttributes(attributes);
  }

  resume<T>(name: string, stored: string | undefined, fn: () => Promise<T>): Promise<T> {
    const active = context.active();
    let parent = active;
    let links: Link[] | undefined;
    if (stored) {
      const [traceparent, tracestate] = stored.split('\n');
      const ctx = this.propagator.extract(ROOT_CONTEXT, { traceparent, tracestate }, headerGetter);
      if (trace.getSpanContext(ctx)) {
        parent = ctx;
        const trigger = trace.getSpanContext(active);
        if (trigger) links = [{ context: trigger }];
      }
    }
    const span = this.tracer.startSpan(name, { kind: SpanKind.INTERNAL, links }, parent);
    return this.run(span, parent, fn);
  }

  process<T>(queue: string, msg: amqp.Message, handle: () => Promise<T>): Promise<T> {
    const p = msg.properties;
    // From the root, never from whatever is active when the client calls back: no header, a new trace.
    const parent = p.headers ? this.propagator.extract(ROOT_CONTEXT, p.headers, headerGetter) : ROOT_CONTEXT;
    const attributes: Attributes = {
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': msg.fields.exchange,
      'messaging.destination.subscription.name': queue,
      'messaging.rabbitmq.message.delivery_tag': msg.fields.deliveryTag,
      'messaging.message.body.size': msg.content.length,
    };
    if (msg.fields.routingKey) attributes['messaging.rabbitmq.destination.routing_key'] = msg.fields.routingKey;
    if (p.messageId) attributes['messaging.message.id'] = String(p.messageId);
    if (p.correlationId) attributes['messaging.message.conversation_id'] = String(p.correlationId);
    const span = this.tracer.startSpan(`${queue} process`, { kind: SpanKind.CONSUMER, attributes }, parent);
    return this.run(span, parent, handle);
  }

  async publish<T>(
    exchange: string,
    routingKey: string,
    bodySize: number,
    options: amqp.Options.Publish,
    destination: string | undefined,
    send: (options: amqp.Options.Publish) => Promise<T>,
  ): Promise<T> {
    let parent = context.active();
    // No span active (a dashboard replay of an error copy): continue the trace the message carries, if any.
    if (!trace.getSpanContext(parent) && options.headers) parent = this.propagator.extract(ROOT_CONTEXT, options.headers, headerGetter);
    const attributes: Attributes = {
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.destination.name': exchange,
      'messaging.message.body.size': bodySize,
    };
    if (routingKey) attributes['messaging.rabbitmq.destination.routing_key'] = routingKey;
    if (options.messageId) attributes['messaging.message.id'] = options.messageId;
    if (options.correlationId) attributes['messaging.message.conversation_id'] = options.correlationId;
    const name = `${exchange || destination || routingKey || '(default)'} publish`;
    const span = this.tracer.startSpan(name, { kind: SpanKind.PRODUCER, attributes }, parent);
    const headers: Headers = { ...options.headers };
    for (const h of TRACE_HEADERS) delete headers[h];
    this.propagator.inject(trace.setSpan(parent, span), headers, headerSetter);
    return this.run(span, parent, async () => {
      const outcome = await send({ ...options, headers });
      // Confirmed but no queue took it (mandatory): the item is parked again, not an error of the publish.
      if ((outcome as unknown) === 'returned') span.setAttribute('workitem.publish.returned', true);
      return outcome;
    });
  }

  /** fn runs with `span` active; the span ends when fn settles, marked as an error when it throws. */
  private run<T>(span: Span, parent: Context, fn: () => Promise<T>): Promise<T> {
    let running: Promise<T>;
    try {
      running = context.with(trace.setSpan(parent, span), fn);
    } catch (err) {
      running = Promise.reject(err);
    }
    return running.then(
      (value) => {
        span.end();
        return value;
      },
      (err: unknown) => {
        const e = err as Error;
        span.recordException(e);
        span.setStatus({ code: SpanStatusCode.ERROR, message: e?.message });
        span.setAttribute('error.type', e?.name ?? 'Error');
        span.end();
        throw err;
      },
    );
  }
}
