import { randomUUID } from 'node:crypto';
import * as amqp from 'amqplib';
import Redis from 'ioredis';
import { parseStringPromise } from 'xml2js';

/**
 * The naive consumer the pipeline is measured against (issue 17): what a developer would write in an
 * afternoon with the same packages, and nothing more. Per message: `xml2js.parseStringPromise` (default
 * options), a check of the required fields, `SET NX` of (source, externalId) → contactId plus one `HSET` of
 * the item, a JSON `contact.created` event (confirmed, `mandatory`), the XML receipt to `reply_to` and its
 * copy to `workitem.receipts` (both confirmed); ack once all three publishes are confirmed. No hardening
 * (no size or depth limits, no DOCTYPE guard, no field validation beyond presence), no metrics, no
 * parking, no replay, no timeouts: an item whose Redis write or publish fails is requeued.
 *
 * One connection with a consume channel and a confirm channel (the amqplib tutorial's shape); one
 * ioredis client with its default options.
 *
 * Started as its own process by relay-vs-pipeline, so it competes for the CPUs like the service does and its
 * CPU is read from /proc the same way.
 * Env: AMQP_URL, REDIS_URL, REDIS_PREFIX, PREFETCH, INBOUND_QUEUE, EVENTS_EXCHANGE, RECEIPTS_EXCHANGE.
 * Prints `ready` once consuming.
 */

interface Doc {
  workItem?: Record<string, unknown[]> & { contactData?: { item?: { _?: string; $?: { key?: string } }[] }[] };
}

async function main(): Promise<void> {
  const url = required('AMQP_URL');
  const prefix = process.env.REDIS_PREFIX ?? 'naive:';
  const prefetch = Number(process.env.PREFETCH ?? 64);
  const queue = required('INBOUND_QUEUE');
  const eventsExchange = required('EVENTS_EXCHANGE');
  const receiptsExchange = required('RECEIPTS_EXCHANGE');

  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const conn = await amqp.connect(url, { clientProperties: { connection_name: 'bench naive consumer' } });
  const pub = await conn.createConfirmChannel();
  const ch = await conn.createChannel();
  await ch.prefetch(prefetch);

  const publish = (exchange: string, routingKey: string, body: Buffer, options: amqp.Options.Publish) =>
    new Promise<void>((resolve, reject) => {
      pub.publish(exchange, routingKey, body, options, (err) => (err ? reject(new Error(String(err))) : resolve()));
    });

  /** The receipt to reply_to and its copy to the receipts exchange, both confirmed. */
  const sendReceipts = (m: amqp.ConsumeMessage, status: string, fields: Record<string, string>) => {
    const attributes = Object.entries(fields)
      .map(([k, v]) => ` ${k}="${v}"`)
      .join('');
    const body = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<workItemReceipt status="${status}"${attributes}/>\n`);
    const props = { contentType: 'application/xml', correlationId: m.properties.correlationId ?? m.properties.messageId, persistent: true };
    return Promise.all([
      m.properties.replyTo ? publish('', m.properties.replyTo, body, props) : undefined,
      publish(receiptsExchange, `${status}.${fields.source || 'unknown'}`, body, props),
    ]);
  };

  const handle = async (m: amqp.ConsumeMessage): Promise<void> => {
    const doc = (await parseStringPromise(m.content.toString('utf8'))) as Doc;
    const w = doc.workItem ?? {};
    const text = (name: string) => {
      const v = w[name]?.[0];
      return typeof v === 'string' ? v.trim() : '';
    };
    const externalId = text('externalId');
    const source = text('source');
    const entrance = text('entrance');
    const subject = text('subject');
    if (!externalId || !source || !entrance || !subject) {
      await sendReceipts(m, 'rejected', { externalId, source });
      return;
    }
    const contactData: Record<string, string> = {};
    for (const item of w.contactData?.[0]?.item ?? []) if (item.$?.key) contactData[item.$.key] = (item._ ?? '').trim();
    const customer = w.customer?.[0] as Record<string, string[]> | undefined;
    const contactId = `wi-${randomUUID()}`;
    const receivedAt = new Date().toISOString();
    const created = await redis.set(`${prefix}id:${source}:${externalId}`, contactId, 'NX');
    if (created === null) {
      await sendReceipts(m, 'duplicate', { externalId, source });
      return;
    }
    const item = {
      contactId,
      externalId,
      source,
      entrance,
      channel: 'email',
      workItem: true,
      taskType: contactData.WorkItemTask ?? '',
      priority: Number(text('priority') || 5),
      subject,
      customer: customer && { name: customer.name?.[0], email: customer.email?.[0], phone: customer.phone?.[0] },
      contactData,
      preview: text('body').slice(0, 200),
      receivedAt,
    };
    await redis.hset(`${prefix}item:${contactId}`, {
      ...item,
      customer: JSON.stringify(item.customer),
      contactData: JSON.stringify(contactData),
    });
    const event = { type: 'contact.created', eventId: randomUUID(), ...item, replayed: false, createdAt: new Date().toISOString() };
    await Promise.all([
      publish(eventsExchange, `contact.created.${entrance}`, Buffer.from(JSON.stringify(event)), {
        contentType: 'application/json',
        messageId: event.eventId,
        persistent: true,
        mandatory: true,
      }),
      sendReceipts(m, 'accepted', { externalId, source, contactId, entrance, receivedAt }),
    ]);
  };

  await ch.consume(queue, (m) => {
    if (!m) return;
    handle(m).then(
      () => ch.ack(m),
      (err: Error) => {
        process.stderr.write(`naive consumer: ${err.message}\n`);
        ch.nack(m, false, true);
      },
    );
  });
  process.stdout.write('ready\n');

  const stop = () => {
    void (async () => {
      await conn.close().catch(() => undefined);
      redis.disconnect();
      process.stdout.write('stopped\n');
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
  process.stderr.write(`naive consumer failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
