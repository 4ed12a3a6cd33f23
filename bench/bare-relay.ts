import { randomUUID } from 'node:crypto';
import * as amqp from 'amqplib';

/**
 * The bare relay the pipeline is measured against (issue 8): the least a consumer with the service's
 * delivery guarantees must do per message, and nothing else: no parsing, no Redis, no validation.
 * Consumes the inbound quorum queue with the same prefetch, publishes a ~same-size JSON event
 * (mandatory, like the service's event) and a receipt copy to the receipts exchange (not mandatory,
 * like the service's copy) on a confirm channel of a second connection, waits for both confirms, acks.
 *
 * Started as its own process by relay-vs-pipeline (so it competes for the CPUs like the service does).
 * Env: AMQP_URL, PREFETCH, INBOUND_QUEUE, EVENTS_EXCHANGE, RECEIPTS_EXCHANGE. Prints `ready` once consuming.
 */
async function main(): Promise<void> {
  const url = required('AMQP_URL');
  const prefetch = Number(process.env.PREFETCH ?? 64);
  const queue = required('INBOUND_QUEUE');
  const eventsExchange = required('EVENTS_EXCHANGE');
  const receiptsExchange = required('RECEIPTS_EXCHANGE');

  const consumeConn = await amqp.connect(url, { clientProperties: { connection_name: 'bench relay consume' } });
  const publishConn = await amqp.connect(url, { clientProperties: { connection_name: 'bench relay publish' } });
  const pub = await publishConn.createConfirmChannel();
  let returned = 0;
  pub.on('return', () => returned++);
  const ch = await consumeConn.createChannel();
  await ch.prefetch(prefetch);

  const confirmed = (exchange: string, routingKey: string, body: Buffer, options: amqp.Options.Publish) =>
    new Promise<void>((resolve, reject) => {
      pub.publish(exchange, routingKey, body, options, (err) => (err ? reject(new Error(String(err))) : resolve()));
    });

  const handle = async (m: amqp.ConsumeMessage): Promise<void> => {
    const externalId = m.properties.messageId ?? '';
    const contactId = `wi-${randomUUID()}`;
    const eventId = randomUUID();
    const receivedAt = new Date().toISOString();
    const event = Buffer.from(
      JSON.stringify({
        type: 'contact.created',
        eventId,
        contactId,
        replayed: false,
        externalId,
        source: 'bank-support',
        entrance: 'loans',
        // the original bytes stand in for the real event's fields, so both carry about as many bytes
        payload: m.content.toString('utf8'),
        receivedAt,
        createdAt: receivedAt,
      }),
    );
    const receipt = Buffer.from(
      `<workItemReceipt status="accepted" externalId="${externalId}" source="bank-support" contactId="${contactId}" entrance="loans" receivedAt="${receivedAt}"/>`,
    );
    const props = { persistent: true, timestamp: Math.floor(Date.now() / 1000), appId: 'bench-relay' };
    try {
      await Promise.all([
        confirmed(eventsExchange, 'contact.created.loans', event, {
          ...props,
          mandatory: true,
          messageId: eventId,
          type: 'contact.created',
          contentType: 'application/json',
        }),
        confirmed(receiptsExchange, 'accepted.bank-support', receipt, {
          ...props,
          messageId: randomUUID(),
          contentType: 'application/xml',
          correlationId: m.properties.correlationId ?? m.properties.messageId,
        }),
      ]);
      ch.ack(m);
    } catch {
      ch.nack(m, false, true);
    }
  };

  await ch.consume(queue, (m) => {
    if (m) void handle(m);
  });
  process.stdout.write('ready\n');

  const stop = () => {
    void (async () => {
      await consumeConn.close().catch(() => undefined);
      await publishConn.close().catch(() => undefined);
      process.stdout.write(`stopped (returned ${returned})\n`);
      process.exit(0);
    })();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
}

main().catch((err: Error) => {
  process.stderr.write(`bare relay failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
