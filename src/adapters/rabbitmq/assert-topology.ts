import type * as amqp from 'amqplib';
import type { Topology } from './topology';

/** Declares every exchange, queue and binding. Idempotent; run on every (re)connect. */
export async function assertTopology(ch: amqp.Channel, topology: Topology): Promise<void> {
  for (const ex of topology.exchanges) {
    await ch.assertExchange(ex.name, ex.type, { durable: true, autoDelete: false });
  }
  for (const q of topology.queues) {
    await ch.assertQueue(q.name, { durable: true, arguments: q.arguments });
    for (const b of q.bindings) await ch.bindQueue(q.name, b.exchange, b.routingKey);
  }
}
