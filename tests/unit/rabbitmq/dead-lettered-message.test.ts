import type * as amqp from 'amqplib';
import { toDeadLetteredMessage } from '../../../src/adapters/rabbitmq/inbound-message';

/** toDeadLetteredMessage: the broker's x-death header (as RabbitMQ 3.10 sets it) mapped to the port's message. */

const QUEUES = { inboundQueue: 'workitem.inbound', largeQueue: 'workitem.inbound.large', controlQueue: 'workitem.control' };

function fromDeadLetterQueue(headers: Record<string, unknown>, props: Partial<amqp.MessageProperties> = {}): amqp.Message {
  return {
    content: Buffer.from('<workItem/>'),
    fields: { deliveryTag: 1, redelivered: false, exchange: '', routingKey: 'workitem.dead-letters' } as amqp.MessageFields,
    properties: { headers, replyTo: 'replies', correlationId: 'c-1', ...props } as amqp.MessageProperties,
  };
}

const death = (reason: string, queue: string, exchange: string, key: string, extra: object = {}) => ({
  count: 1,
  reason,
  queue,
  time: { '!': 'timestamp', value: 1796678781 },
  exchange,
  'routing-keys': [key],
  ...extra,
});

describe('toDeadLetteredMessage', () => {
  it("a sender's item that expired in the inbound queue: reason, queue, expiration, and its own exchange and key", () => {
    const m = toDeadLetteredMessage(
      fromDeadLetterQueue({
        'x-death': [death('expired', 'workitem.inbound', 'workitem.inbound', 'workitem.acme', { 'original-expiration': '1' })],
        'x-first-death-reason': 'expired',
      }),
      QUEUES,
    );
    expect(m.deadLettered).toEqual({ reason: 'expired', queue: 'workitem.inbound', holds: 'workItems', expiration: '1' });
    expect(m).toMatchObject({ exchange: 'workitem.inbound', routingKey: 'workitem.acme', senderRoutingKey: 'workitem.acme' });
    expect(m.properties).toMatchObject({ replyTo: 'replies', correlationId: 'c-1' });
    expect(m.parked).toBeUndefined();
  });

  it('reads the most recent death, not the first: a parked message that then reached the delivery limit', () => {
    const m = toDeadLetteredMessage(
      fromDeadLetterQueue({
        'x-death': [
          death('delivery_limit', 'workitem.inbound', '', 'workitem.inbound'),
          death('expired', 'workitem.parked.loans', '', 'workitem.parked.loans'),
        ],
        'x-first-death-reason': 'expired',
        'x-first-death-queue': 'workitem.parked.loans',
        'x-workitem-contact-id': 'wi-0f8fad5b-d9cb-469f-a165-70867728950e',
        'x-workitem-entrance': 'loans',
        'x-original-routing-key': 'workitem.acme',
      }),
      QUEUES,
    );
    expect(m.deadLettered).toEqual({ reason: 'delivery_limit', queue: 'workitem.inbound', holds: 'workItems' });
    expect(m.parked).toEqual({ contactId: 'wi-0f8fad5b-d9cb-469f-a165-70867728950e', entrance: 'loans' });
    expect(m.senderRoutingKey).toBe('workitem.acme');
  });

  it("the large-item lane is the service's own: its original routing key is trusted", () => {
    const m = toDeadLetteredMessage(
      fromDeadLetterQueue({
        'x-death': [death('delivery_limit', 'workitem.inbound.large', '', 'workitem.inbound.large')],
        'x-original-routing-key': 'workitem.acme',
        'x-original-exchange': 'workitem.inbound',
      }),
      QUEUES,
    );
    expect(m.deadLettered?.holds).toBe('workItems');
    expect(m).toMatchObject({ senderRoutingKey: 'workitem.acme', senderExchange: 'workitem.inbound' });
  });

  it("the large-item lane, reached through the large-item exchange (contract 1.2): a sender's message, nothing of ours trusted", () => {
    const m = toDeadLetteredMessage(
      fromDeadLetterQueue({
        'x-death': [death('delivery_limit', 'workitem.inbound.large', 'workitem.inbound.large', 'workitem.acme')],
        'x-original-routing-key': 'workitem.someone-else',
        'x-original-exchange': 'workitem.inbound',
        'x-workitem-contact-id': 'wi-0f8fad5b-d9cb-469f-a165-70867728950e',
        'x-workitem-entrance': 'loans',
      }),
      QUEUES,
    );
    expect(m.deadLettered).toMatchObject({ holds: 'workItems', queue: 'workitem.inbound.large' });
    expect(m).toMatchObject({ senderRoutingKey: 'workitem.acme', senderExchange: 'workitem.inbound.large', parked: undefined });
    expect(Object.keys(m.properties.headers).filter((h) => h.startsWith('x-workitem') || h.startsWith('x-original'))).toEqual([]);
  });

  it("a sender's forged x-original-routing-key on an item from the inbound exchange is not trusted", () => {
    const m = toDeadLetteredMessage(
      fromDeadLetterQueue({
        'x-death': [death('expired', 'workitem.inbound', 'workitem.inbound', 'workitem.acme')],
        'x-original-routing-key': 'workitem.someone-else',
      }),
      QUEUES,
    );
    expect(m.senderRoutingKey).toBe('workitem.acme');
  });

  it('control events, other queues, other reasons, no death record', () => {
    const control = toDeadLetteredMessage(
      fromDeadLetterQueue({ 'x-death': [death('expired', 'workitem.control', 'contactcenter.events', 'entrance.closed')] }),
      QUEUES,
    );
    expect(control.deadLettered).toMatchObject({ holds: 'controlEvents', reason: 'expired' });
    expect(control.routingKey).toBe('entrance.closed');
    const other = toDeadLetteredMessage(fromDeadLetterQueue({ 'x-death': [death('maxlen', 'elsewhere', '', 'elsewhere')] }), QUEUES);
    expect(other.deadLettered).toEqual({ reason: 'maxlen', queue: 'elsewhere', holds: 'other' });
    const strange = toDeadLetteredMessage(fromDeadLetterQueue({ 'x-death': [death('new-reason', 'workitem.inbound', '', 'x')] }), QUEUES);
    expect(strange.deadLettered?.reason).toBe('unknown');
    const none = toDeadLetteredMessage(fromDeadLetterQueue({}), QUEUES);
    expect(none.deadLettered).toEqual({ reason: 'unknown', queue: '', holds: 'other' });
    expect(none.routingKey).toBe('workitem.dead-letters');
  });
});
