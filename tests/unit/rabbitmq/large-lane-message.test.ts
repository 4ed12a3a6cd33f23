import type * as amqp from 'amqplib';
import { INTERNAL_HEADERS, toLargeLaneMessage } from '../../../src/adapters/rabbitmq/inbound-message';

/**
 * toLargeLaneMessage: what the large-item queue delivers is trusted per message, by the route it took. Moved there by
 * the service (default exchange, routing key = the queue's name) it is ours; published there by a sender through the
 * large-item exchange (contract 1.2) it is a sender's message: internal headers dropped, routing key and exchange its own.
 */

const QUEUES = { inboundQueue: 'workitem.inbound', largeQueue: 'workitem.inbound.large' };
const CONTACT_ID = 'wi-0f8fad5b-d9cb-469f-a165-70867728950e';

const OURS = {
  'x-workitem-contact-id': CONTACT_ID,
  'x-workitem-entrance': 'loans',
  'x-original-routing-key': 'workitem.acme',
  'x-original-exchange': 'workitem.inbound',
};

function delivery(exchange: string, routingKey: string, headers: Record<string, unknown>): amqp.Message {
  return {
    content: Buffer.from('<workItem/>'),
    fields: { deliveryTag: 1, redelivered: false, exchange, routingKey } as amqp.MessageFields,
    properties: { headers, messageId: 'm-1' } as amqp.MessageProperties,
  };
}

describe('toLargeLaneMessage', () => {
  it('moved by the service (default exchange, the queue as routing key): its headers are trusted', () => {
    const m = toLargeLaneMessage(delivery('', 'workitem.inbound.large', { ...OURS, 'x-other': 1 }), QUEUES);
    expect(m).toMatchObject({ senderRoutingKey: 'workitem.acme', senderExchange: 'workitem.inbound' });
    expect(m.parked).toEqual({ contactId: CONTACT_ID, entrance: 'loans' });
    expect(m.properties.headers).toMatchObject({ ...OURS, 'x-other': 1 });
  });

  it('moved by the service without a contact id (a sender item moved for its size): original routing key trusted, not parked', () => {
    const { 'x-workitem-contact-id': _c, 'x-workitem-entrance': _e, ...moved } = OURS;
    const m = toLargeLaneMessage(delivery('', 'workitem.inbound.large', moved), QUEUES);
    expect(m).toMatchObject({ senderRoutingKey: 'workitem.acme', senderExchange: 'workitem.inbound', parked: undefined });
  });

  it("published by a sender to the large-item exchange: our headers dropped, the delivery's routing key and exchange", () => {
    const m = toLargeLaneMessage(delivery('workitem.inbound.large', 'workitem.bank', { ...OURS, 'x-other': 1 }), QUEUES);
    expect(m).toMatchObject({
      exchange: 'workitem.inbound.large',
      routingKey: 'workitem.bank',
      senderRoutingKey: 'workitem.bank',
      senderExchange: 'workitem.inbound.large',
      parked: undefined,
    });
    for (const h of INTERNAL_HEADERS) expect(m.properties.headers).not.toHaveProperty(h);
    expect(m.properties.headers).toEqual({ 'x-other': 1 });
  });

  it('any other route is not ours either: a default-exchange delivery with another routing key, or another exchange', () => {
    for (const [exchange, key] of [
      ['', 'workitem.inbound'],
      ['workitem.inbound', 'workitem.inbound.large'],
    ]) {
      const m = toLargeLaneMessage(delivery(exchange, key, OURS), QUEUES);
      expect(m).toMatchObject({ senderRoutingKey: key, senderExchange: exchange, parked: undefined });
    }
  });
});
