import { randomBytes } from 'node:crypto';
import { Fixture } from '../helpers/fixture';
import { OtlpReceiver, parseTraceparent, SPAN_KIND, type ReceivedSpan } from '../helpers/otlp-receiver';
import { newExternalId, workItemXml } from '../helpers/work-items';
import { waitUntil } from '../helpers/wait';

/**
 * Issue 18 part 1: OpenTelemetry tracing. The real service exports to a tiny OTLP/HTTP receiver in this test; the test
 * checks the W3C headers on what the service publishes against the spans it exported.
 */
const receiver = new OtlpReceiver();
const f = new Fixture({ config: { entrances: { loans: {}, support: {}, social: {} }, park: { retrySeconds: 1 } } });

function tracingEnv(protocol: 'http/protobuf' | 'http/json'): Record<string, string> {
  return {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
    OTEL_SERVICE_NAME: 'workitem-trace-test',
    OTEL_BSP_SCHEDULE_DELAY: '100',
  };
}

function newTraceparent(): { header: string; traceId: string; spanId: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

const header = (props: { headers?: Record<string, unknown> }, name: string) => props.headers?.[name];

/** The span that published a message: its traceparent names it; it must have reached the receiver. */
async function publisherOf(props: { headers?: Record<string, unknown> }, traceId: string): Promise<ReceivedSpan> {
  const tp = parseTraceparent(header(props, 'traceparent'));
  expect(tp.traceId).toBe(traceId);
  const [span] = await receiver.waitForSpans([tp.spanId]);
  expect(span.kind).toBe(SPAN_KIND.producer);
  expect(span.traceId).toBe(traceId);
  expect(span.attributes['messaging.system']).toBe('rabbitmq');
  expect(span.attributes['messaging.operation.type']).toBe('send');
  return span;
}

/** The consumer span of the inbound message whose traceparent named `parentSpanId`. */
function processSpan(traceId: string, parentSpanId: string): Promise<ReceivedSpan> {
  return receiver.waitForSpan(
    (s) => s.traceId === traceId && s.parentSpanId === parentSpanId && s.kind === SPAN_KIND.consumer,
    `the consumer span under ${parentSpanId}`,
  );
}

beforeAll(async () => {
  await receiver.start();
  f.serviceOpts.env = tracingEnv('http/protobuf');
  await f.setup();
}, 60_000);
afterAll(async () => {
  await f.teardown();
  await receiver.stop();
});

describe('tracing (OTEL_TRACES_EXPORTER=otlp)', () => {
  it('continues an inbound traceparent: receipt, receipt copy and event carry spans of the same trace', async () => {
    const sender = newTraceparent();
    const ext = newExternalId('TRACE');
    await f.client.publishWorkItem(workItemXml({ externalId: ext, entrance: 'loans' }), {
      replyTo: true,
      correlationId: ext,
      headers: { traceparent: sender.header, tracestate: 'sender=abc' },
    });
    const [receipt] = await f.client.waitForReceipts(1, 15_000, (r) => r.externalId === ext);
    const [copy] = await f.client.waitForReceiptCopies(1, 15_000, (r) => r.externalId === ext);
    const [event] = await f.client.waitForEvents(1, 15_000, (e) => e.event.externalId === ext);
    expect(receipt.status).toBe('accepted');

    const consumer = await processSpan(sender.traceId, sender.spanId);
    expect(consumer.name).toBe('workitem.inbound process');
    expect(consumer.serviceName).toBe('workitem-trace-test');
    expect(consumer.encoding).toBe('protobuf');
    expect(consumer.traceState).toBe('sender=abc');
    expect(consumer.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'workitem.inbound',
      'messaging.destination.subscription.name': 'workitem.inbound',
      'messaging.rabbitmq.destination.routing_key': 'workitem.bank-support',
      'workitem.outcome': 'accepted',
      'workitem.contact_id': receipt.contactId,
    });

    const eventSpan = await publisherOf(event.properties, sender.traceId);
    expect(eventSpan.name).toBe('contact.events publish');
    expect(eventSpan.parentSpanId).toBe(consumer.spanId);
    expect(eventSpan.attributes).toMatchObject({
      'messaging.destination.name': 'contact.events',
      'messaging.rabbitmq.destination.routing_key': 'contact.created.loans',
      'messaging.message.id': event.event.eventId,
    });
    expect(header(event.properties, 'tracestate')).toBe('sender=abc');

    const copySpan = await publisherOf(copy.properties, sender.traceId);
    expect(copySpan.name).toBe('workitem.receipts publish');
    expect(copySpan.parentSpanId).toBe(consumer.spanId);
    const replySpan = await publisherOf(receipt.properties, sender.traceId);
    expect(replySpan.name).toBe('(reply_to) publish');
    expect(replySpan.parentSpanId).toBe(consumer.spanId);
    expect(replySpan.attributes['messaging.destination.name']).toBe('');
    expect(replySpan.attributes['messaging.message.conversation_id']).toBe(ext);
  });

  it('a message without traceparent starts a new trace', async () => {
    const ext = newExternalId('NOTRACE');
    await f.client.publishWorkItem(workItemXml({ externalId: ext, entrance: 'loans' }), { replyTo: true });
    const [event] = await f.client.waitForEvents(1, 15_000, (e) => e.event.externalId === ext);
    const { traceId, spanId } = parseTraceparent(header(event.properties, 'traceparent'));
    const [eventSpan] = await receiver.waitForSpans([spanId]);
    const [consumer] = await receiver.waitForSpans([eventSpan.parentSpanId]);
    expect(consumer.name).toBe('workitem.inbound process');
    expect(consumer.traceId).toBe(traceId);
    expect(consumer.parentSpanId).toBe('');
    const [copy] = await f.client.waitForReceiptCopies(1, 15_000, (r) => r.externalId === ext);
    expect(parseTraceparent(header(copy.properties, 'traceparent')).traceId).toBe(traceId);
  });

  it("a rejected item's error copy and receipt carry the trace (the sender's traceparent is replaced, not copied)", async () => {
    const sender = newTraceparent();
    const ext = newExternalId('TREJ');
    const bad = workItemXml({ externalId: ext, entrance: 'no-such-entrance' });
    await f.client.publishWorkItem(bad, { replyTo: true, correlationId: ext, headers: { traceparent: sender.header } });
    const [error] = await f.client.waitForErrors(1, 15_000, (e) => e.properties.correlationId === ext);
    const [receipt] = await f.client.waitForReceipts(1, 15_000, (r) => r.externalId === ext);
    expect(receipt.status).toBe('rejected');
    const consumer = await processSpan(sender.traceId, sender.spanId);
    expect(consumer.attributes['workitem.outcome']).toBe('rejected');
    expect(consumer.attributes['workitem.error_code']).toBe(error.code);

    expect(header(error.properties, 'traceparent')).not.toBe(sender.header);
    const errorSpan = await publisherOf(error.properties, sender.traceId);
    expect(errorSpan.name).toBe('workitem.error publish');
    expect(errorSpan.parentSpanId).toBe(consumer.spanId);
    expect(errorSpan.attributes['messaging.rabbitmq.destination.routing_key']).toBe(error.code);
    const receiptSpan = await publisherOf(receipt.properties, sender.traceId);
    expect(receiptSpan.parentSpanId).toBe(consumer.spanId);
  });

  it('a parked item keeps its trace across the park, the TTL retries and the reopen', async () => {
    await f.setEntrance('support', false);
    const sender = newTraceparent();
    const ext = newExternalId('TPARK');
    await f.client.publishWorkItem(workItemXml({ externalId: ext, entrance: 'support' }), {
      replyTo: true,
      correlationId: ext,
      headers: { traceparent: sender.header },
    });
    const [buffered] = await f.client.waitForReceipts(1, 15_000, (r) => r.externalId === ext);
    expect(buffered.status).toBe('buffered');
    const accept = await processSpan(sender.traceId, sender.spanId);
    expect(accept.attributes['workitem.outcome']).toBe('buffered');

    // The park message carries the park publish span's traceparent: after its TTL (1 s) it comes back through the
    // inbound queue, and that delivery's consumer span is a child of the park publish, in the item's trace.
    const park = await receiver.waitForSpan(
      (s) => s.parentSpanId === accept.spanId && s.name === 'workitem.parked.support publish',
      'the park publish span',
    );
    expect(park.traceId).toBe(sender.traceId);
    expect(park.kind).toBe(SPAN_KIND.producer);
    const retry = await processSpan(sender.traceId, park.spanId);
    expect(retry.name).toBe('workitem.inbound process');
    expect(retry.attributes['workitem.outcome']).toBe('reparked');

    await f.setEntrance('support', true);
    const [event] = await f.client.waitForEvents(1, 15_000, (e) => e.event.externalId === ext);
    expect(event.event.contactId).toBe(buffered.contactId);
    // Routed from Redis by the flush: the event's span continues the context stored at accept (the first consumer
    // span), linked to what triggered the flush (the control event, or a TTL retry meeting the open entrance).
    const eventSpan = await publisherOf(event.properties, sender.traceId);
    expect(eventSpan.name).toBe('contact.events publish');
    const [route] = await receiver.waitForSpans([eventSpan.parentSpanId]);
    expect(route.name).toBe('workitem.parked route');
    expect(route.kind).toBe(SPAN_KIND.internal);
    expect(route.parentSpanId).toBe(accept.spanId);
    expect(route.links).toHaveLength(1);
    const [trigger] = await receiver.waitForSpans([route.links[0].spanId]);
    expect(['workitem.control process', 'workitem.inbound process']).toContain(trigger.name);
    if (process.env.TRACE_DUMP) process.stdout.write(`parked item's trace:\n${receiver.formatTrace(sender.traceId)}\n`);
  });

  it('http/json works too; OTEL_TRACES_EXPORTER=none publishes no traceparent and exports nothing', async () => {
    await f.restart({ env: tracingEnv('http/json') });
    const sender = newTraceparent();
    const ext = newExternalId('TJSON');
    await f.client.publishWorkItem(workItemXml({ externalId: ext, entrance: 'loans' }), { headers: { traceparent: sender.header } });
    const [event] = await f.client.waitForEvents(1, 15_000, (e) => e.event.externalId === ext);
    const consumer = await processSpan(sender.traceId, sender.spanId);
    expect(consumer.encoding).toBe('json');
    expect(consumer.serviceName).toBe('workitem-trace-test');
    const eventSpan = await publisherOf(event.properties, sender.traceId);
    expect(eventSpan.encoding).toBe('json');
    expect(eventSpan.parentSpanId).toBe(consumer.spanId);

    await f.restart({ env: { ...tracingEnv('http/json'), OTEL_TRACES_EXPORTER: 'none' } });
    const received = receiver.spans.length;
    const off = newTraceparent();
    const ext2 = newExternalId('TOFF');
    await f.client.publishWorkItem(workItemXml({ externalId: ext2, entrance: 'loans' }), {
      replyTo: true,
      headers: { traceparent: off.header },
    });
    const [offEvent] = await f.client.waitForEvents(1, 15_000, (e) => e.event.externalId === ext2);
    const [offCopy] = await f.client.waitForReceiptCopies(1, 15_000, (r) => r.externalId === ext2);
    expect(header(offEvent.properties, 'traceparent')).toBeUndefined();
    expect(header(offCopy.properties, 'traceparent')).toBeUndefined();
    // Nothing arrives, also not late: a batch would have been sent within 100 ms.
    await expect(waitUntil(() => receiver.spans.length > received, { timeoutMs: 1500 })).rejects.toThrow(/timed out/);
  });
});
