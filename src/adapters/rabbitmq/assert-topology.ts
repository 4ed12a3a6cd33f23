import type * as amqp from 'amqplib';
import type { Logger } from '../../ports/logger';
import { UPGRADABLE_QUEUE_ARGUMENTS, type QueueSpec, type Topology } from './topology';

/**
 * Declares every exchange, queue and binding. Idempotent; run on every (re)connect, on a channel of its own (a
 * refused declare closes the channel it was made on), before the caller opens its channel.
 *
 * Upgrade: RabbitMQ cannot change a queue's arguments (a redeclare with others is 406 PRECONDITION_FAILED, and a
 * policy does not override queue arguments). A queue marked `upgradable` that an older version declared with other
 * dead-letter arguments or another delivery limit is used as it is: one warning per queue and process says what it
 * means and how to re-create it (docs/contract.md, "Upgrading the broker topology"). Any other mismatch still fails.
 */
export async function assertTopology(model: amqp.ChannelModel, topology: Topology, log?: Logger): Promise<void> {
  if (topology.exchanges.length === 0 && topology.queues.length === 0) return;
  let ch = await openChannel(model);
  try {
    for (const ex of topology.exchanges) {
      await ch.assertExchange(ex.name, ex.type, { durable: true, autoDelete: false });
    }
    for (const q of topology.queues) {
      try {
        await ch.assertQueue(q.name, { durable: true, arguments: q.arguments });
      } catch (err) {
        const mismatch = upgradableMismatch(q, err);
        if (!mismatch) throw err;
        ch = await openChannel(model);
        await ch.checkQueue(q.name);
        warnOnce(log, q, mismatch);
      }
      for (const b of q.bindings) await ch.bindQueue(q.name, b.exchange, b.routingKey);
    }
  } finally {
    await ch.close().catch(() => undefined);
  }
}

async function openChannel(model: amqp.ChannelModel): Promise<amqp.Channel> {
  const ch = await model.createChannel();
  ch.on('error', () => undefined); // a refused declare: the awaited call rejects with it
  return ch;
}

/** The argument a 406 names ("inequivalent arg 'x-dead-letter-exchange' for queue ..."), if the queue may keep it. */
function upgradableMismatch(q: QueueSpec, err: unknown): string | null {
  if (!q.upgradable) return null;
  const m = /PRECONDITION_FAILED - inequivalent arg '([^']+)'/.exec((err as Error).message ?? '');
  return m && UPGRADABLE_QUEUE_ARGUMENTS.includes(m[1]) ? m[1] : null;
}

const warned = new Set<string>();

function warnOnce(log: Logger | undefined, q: QueueSpec, argument: string): void {
  if (warned.has(q.name)) return;
  warned.add(q.name);
  log?.warn(
    `UPGRADE: queue ${q.name} was declared by an older version (its ${argument} differs): kept as it is, so a message ` +
      `that expires or reaches the delivery limit there goes straight to the error queue, without a receipt. ` +
      `Re-create the queue to get the new arguments: drain it, delete it (rabbitmqctl delete_queue ${q.name} --if-empty) ` +
      `and restart the service; see docs/contract.md "Upgrading the broker topology".`,
    { queue: q.name, argument, wanted: q.arguments },
  );
}
