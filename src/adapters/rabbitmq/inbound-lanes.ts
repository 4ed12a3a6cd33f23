import type * as amqp from 'amqplib';
import type { Logger } from '../../ports/logger';
import type { InboundMessage, Settlement } from '../../ports/messaging';
import type { AmqpConnection } from './amqp-connection';
import type { ConfirmedPublisher } from './confirmed-publisher';
import { isDeadLetteredInto, toInboundMessage, toLargeLaneMessage } from './inbound-message';
import type { MessageTracing } from './message-tracing';
import { QueueConsumer, type DeliveryHandler } from './queue-consumer';
import type { RabbitMessaging } from './rabbit-messaging';
import type { Topology } from './topology';

/** Large items are parsed on a worker thread one or two at a time; more would only hold memory. */
const LARGE_PREFETCH = 2;

export interface InboundLanesOptions {
  inboundQueue: string;
  largeQueue: string;
  prefetch: number;
  /** Bodies above this many bytes move from the main lane to the large-item lane before anything else. */
  largeMessageBytes: number;
  topology: Topology;
}

/**
 * The inbound lanes: the main queue (prefetch PREFETCH) and the large-item queue (prefetch 2, a socket of its own, so
 * small deliveries never queue behind MBs). This adapter decides the lane of a raw delivery, which headers it may trust
 * (see toInboundMessage), and hands the application a plain InboundMessage; the Settlement the application returns
 * decides ack or requeue, on the channel that delivered.
 */
export class InboundLanes {
  readonly main: QueueConsumer;
  readonly large: QueueConsumer;

  constructor(
    consumeConn: AmqpConnection,
    largeConsumeConn: AmqpConnection,
    private readonly o: InboundLanesOptions,
    private readonly messaging: RabbitMessaging,
    private readonly bulkPublisher: ConfirmedPublisher,
    private readonly handle: (msg: InboundMessage) => Promise<Settlement>,
    tracing: MessageTracing,
    private readonly log: Logger,
  ) {
    const traced = (queue: string, handler: DeliveryHandler): DeliveryHandler =>
      tracing.enabled ? (m) => tracing.process(queue, m, () => handler(m)) : handler;
    this.main = new QueueConsumer(
      consumeConn,
      o.inboundQueue,
      o.prefetch,
      o.topology,
      traced(o.inboundQueue, (m) => this.onMain(m)),
      log,
    );
    this.large = new QueueConsumer(
      largeConsumeConn,
      o.largeQueue,
      LARGE_PREFETCH,
      o.topology,
      // Trusted only what the service moved there itself; a sender may publish there too (the large-item exchange).
      traced(o.largeQueue, (m) => this.handle(toLargeLaneMessage(m, o))),
      log,
    );
  }

  get consumers(): readonly QueueConsumer[] {
    return [this.main, this.large];
  }

  private async onMain(m: amqp.ConsumeMessage): Promise<Settlement> {
    if (m.content.length > this.o.largeMessageBytes) {
      // Dead-lettered back by the broker (a park retry): its service headers are ours and travel with it.
      await this.messaging.moveToLargeLane(m, isDeadLetteredInto(m, this.o.inboundQueue), this.bulkPublisher);
      if (this.log.isDebugEnabled()) {
        this.log.debug('moved to the large lane', { bytes: m.content.length, messageId: m.properties.messageId as unknown });
      }
      return 'ack';
    }
    return this.handle(toInboundMessage(m, this.o.inboundQueue));
  }
}
