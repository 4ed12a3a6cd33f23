import { EventEmitter } from 'node:events';
import { context, propagation, trace, SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type * as amqp from 'amqplib';
import { ConfigError, loadConfig } from '../../../src/config/config';
import type { AmqpConnection } from '../../../src/adapters/rabbitmq/amqp-connection';
import { ConfirmedPublisher } from '../../../src/adapters/rabbitmq/confirmed-publisher';
import { NO_TRACING, type MessageTracing } from '../../../src/adapters/rabbitmq/message-tracing';
import { OtelTracing } from '../../../src/adapters/rabbitmq/otel-message-tracing';

const SENDER_TRACE = '0af7651916cd43dd8448eb211c80319c';
const SENDER_SPAN = 'b7ad6b7169203331';
const SENDER_TP = `00-${SENDER_TRACE}-${SENDER_SPAN}-01`;

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let tracing: OtelTracing;

beforeAll(() => {
  provider.register();
  tracing = new OtelTracing(trace.getTracer('test'));
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});
beforeEach(() => exporter.reset());

function delivery(headers?: Record<string, unknown>): amqp.Message {
  return {
    content: Buffer.from('<workItem/>'),
    fields: { deliveryTag: 7, redelivered: false, exchange: 'workitem.inbound', routingKey: 'workitem.bank' },
    properties: { headers, messageId: 'm-1', correlationId: 'c-1' } as amqp.MessageProperties,
  } as amqp.Message;
}

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined } as never;

/** A ConfirmedPublisher over a fake confirm channel that records what it was asked to publish. */
async function fakePublisher(t: MessageTracing): Promise<{ publisher: ConfirmedPublisher; published: amqp.Options.Publish[] }> {
  const published: amqp.Options.Publish[] = [];
  const ch = Object.assign(new EventEmitter(), {
    publish: (_e: string, _r: string, _b: Buffer, options: amqp.Options.Publish, cb: (err: unknown) => void) => {
      published.push(options);
      setImmediate(() => cb(null));
      return true;
    },
  });
  const conn = new EventEmitter() as unknown as AmqpConnection;
  const publisher = new ConfirmedPublisher(conn, { exchanges: [], queues: [] }, silent, 1000, undefined, t);
  const ready = new Promise((resolve) => publisher.once('ready', resolve));
  (conn as unknown as EventEmitter).emit('up', { createConfirmChannel: async () => ch });
  await ready;
  return { publisher, published };
}

describe('OtelTracing', () => {
  it('a delivery continues its traceparent and tracestate; publishes inside are its children and carry their own', async () => {
    const { publisher, published } = await fakePublisher(tracing);
    await tracing.process('workitem.inbound', delivery({ traceparent: SENDER_TP, tracestate: 'sender=1' }), () =>
      publisher.publish(
        'contact.events',
        'contact.created.loans',
        Buffer.from('{}'),
        { messageId: 'e-1', headers: { traceparent: 'stale' } },
        true,
      ),
    );
    const spans = exporter.getFinishedSpans();
    const consumer = spans.find((s) => s.kind === SpanKind.CONSUMER)!;
    const producer = spans.find((s) => s.kind === SpanKind.PRODUCER)!;
    expect(consumer.name).toBe('workitem.inbound process');
    expect(consumer.spanContext().traceId).toBe(SENDER_TRACE);
    expect(consumer.parentSpanContext?.spanId).toBe(SENDER_SPAN);
    expect(consumer.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'workitem.inbound',
      'messaging.rabbitmq.destination.routing_key': 'workitem.bank',
      'messaging.rabbitmq.message.delivery_tag': 7,
      'messaging.message.id': 'm-1',
    });
    expect(producer.name).toBe('contact.events publish');
    expect(producer.parentSpanContext?.spanId).toBe(consumer.spanContext().spanId);
    expect(producer.attributes).toMatchObject({ 'messaging.operation.type': 'send', 'messaging.message.id': 'e-1' });
    expect(published[0].headers).toMatchObject({
      traceparent: `00-${SENDER_TRACE}-${producer.spanContext().spanId}-01`,
      tracestate: 'sender=1',
    });
  });

  it('without a traceparent (or with a malformed one) a delivery starts a new trace', async () => {
    await tracing.process('q', delivery(), async () => undefined);
    await tracing.process('q', delivery({ traceparent: 'garbage' }), async () => undefined);
    const [a, b] = exporter.getFinishedSpans();
    expect(a.parentSpanContext).toBeUndefined();
    expect(b.parentSpanContext).toBeUndefined();
    expect(a.spanContext().traceId).not.toBe(b.spanContext().traceId);
  });

  it('a traceparent sent as bytes (some clients) or with another case is read', async () => {
    await tracing.process('q', delivery({ Traceparent: Buffer.from(SENDER_TP) }), async () => undefined);
    expect(exporter.getFinishedSpans()[0].spanContext().traceId).toBe(SENDER_TRACE);
  });

  it('current() stores the context; resume() continues it and links what triggered the work', async () => {
    let stored: string | undefined;
    await tracing.process('q', delivery({ traceparent: SENDER_TP, tracestate: 'sender=1' }), async () => {
      stored = tracing.current();
    });
    const accept = exporter.getFinishedSpans()[0];
    expect(stored).toBe(`00-${SENDER_TRACE}-${accept.spanContext().spanId}-01\nsender=1`);
    exporter.reset();
    await tracing.process('workitem.control', delivery(), () => tracing.resume('workitem.parked route', stored, async () => undefined));
    const route = exporter.getFinishedSpans().find((s) => s.name === 'workitem.parked route')!;
    const control = exporter.getFinishedSpans().find((s) => s.name === 'workitem.control process')!;
    expect(route.spanContext().traceId).toBe(SENDER_TRACE);
    expect(route.parentSpanContext?.spanId).toBe(accept.spanContext().spanId);
    expect(route.links.map((l) => l.context.spanId)).toEqual([control.spanContext().spanId]);
    expect(route.spanContext().traceState?.get('sender')).toBe('1');
  });

  it('a failing handler marks its span as an error and rethrows', async () => {
    await expect(tracing.process('q', delivery(), async () => Promise.reject(new Error('redis down')))).rejects.toThrow('redis down');
    const [span] = exporter.getFinishedSpans();
    expect(span.status.code).toBe(2);
    expect(span.status.message).toBe('redis down');
  });

  it('a publish with no active span continues the trace the message carries (a replayed copy)', async () => {
    const { publisher, published } = await fakePublisher(tracing);
    await publisher.publish('workitem.inbound', 'workitem.bank', Buffer.from('x'), { headers: { traceparent: SENDER_TP } }, true);
    const [span] = exporter.getFinishedSpans();
    expect(span.parentSpanContext?.spanId).toBe(SENDER_SPAN);
    expect(published[0].headers?.traceparent).toBe(`00-${SENDER_TRACE}-${span.spanContext().spanId}-01`);
  });
});

describe('tracing off', () => {
  it('publishes the options unchanged (no trace header) and creates no span', async () => {
    const { publisher, published } = await fakePublisher(NO_TRACING);
    const headers = { 'x-wi-publish-id': 'p-1', traceparent: SENDER_TP };
    await publisher.publish('contact.events', 'k', Buffer.from('{}'), { messageId: 'e-1', headers }, true);
    expect(published[0].headers).toBe(headers);
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    expect(NO_TRACING.current()).toBeUndefined();
  });

  it('OTEL_* settings are validated: none by default, otlp, http/protobuf or http/json', () => {
    const cfg = loadConfig({});
    expect(cfg.tracing).toEqual({ exporter: 'none', protocol: 'http/protobuf' });
    expect(loadConfig({ OTEL_TRACES_EXPORTER: '', OTEL_EXPORTER_OTLP_PROTOCOL: '' }).tracing.exporter).toBe('none');
    expect(
      loadConfig({
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      }).tracing,
    ).toEqual({ exporter: 'otlp', protocol: 'http/json' });
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(ConfigError);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL.*grpc is not supported/);
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'jaeger' })).toThrow(/OTEL_TRACES_EXPORTER/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });
});
