import { handleDeadLetter } from '../../../src/application/handle-dead-letter';
import type { DeadLettered, InboundMessage } from '../../../src/ports/messaging';
import { delivery, item, SOURCE } from './fakes/messages';
import { testbed, type Testbed } from './fakes/testbed';

/** What the broker dead-lettered before the service settled it, against in-memory fakes. */

function deadLettered(tb: Testbed, dead: Partial<DeadLettered>, over: Partial<InboundMessage> = {}): InboundMessage {
  return {
    ...delivery(tb.parser, item(1)),
    deadLettered: { reason: 'expired', queue: 'workitem.inbound', holds: 'workItems', ...dead },
    ...over,
  };
}

describe('handleDeadLetter', () => {
  it('an item whose expiration ran out in the queue: EXPIRED_IN_QUEUE copy, rejected receipt, counted', async () => {
    const tb = testbed();
    const msg = deadLettered(tb, { reason: 'expired', expiration: '1500' });
    expect(await handleDeadLetter(tb.d, msg)).toEqual({ kind: 'rejected', code: 'EXPIRED_IN_QUEUE' });
    expect(tb.messaging.errorCopies).toHaveLength(1);
    expect(tb.messaging.errorCopies[0].msg).toBe(msg);
    expect(tb.messaging.errorCopies[0].error).toMatchObject({ code: 'EXPIRED_IN_QUEUE', path: '/' });
    expect(tb.messaging.errorCopies[0].error.message).toMatch(/expiration \(1500 ms\) ran out in queue workitem\.inbound/);
    expect(tb.messaging.receipts).toEqual([
      {
        target: { replyTo: 'sender-replies', correlationId: 'corr-1', sender: SOURCE },
        receipt: expect.objectContaining({
          status: 'rejected',
          source: SOURCE,
          error: expect.objectContaining({ code: 'EXPIRED_IN_QUEUE' }),
        }),
      },
    ]);
    expect(tb.metrics.items).toEqual([
      { outcome: 'received', labels: {} },
      { outcome: 'rejected', labels: { code: 'EXPIRED_IN_QUEUE' } },
    ]);
    expect(tb.messaging.events).toEqual([]);
  });

  it('an item that reached the delivery limit: DELIVERY_LIMIT, never EXPIRED_IN_QUEUE (and not counted received again)', async () => {
    const tb = testbed();
    const outcome = await handleDeadLetter(tb.d, deadLettered(tb, { reason: 'delivery_limit', queue: 'workitem.inbound.large' }));
    expect(outcome).toEqual({ kind: 'rejected', code: 'DELIVERY_LIMIT' });
    expect(tb.messaging.errorCopies.map((c) => c.error.code)).toEqual(['DELIVERY_LIMIT']);
    expect(tb.messaging.errorCopies[0].error.message).toMatch(/delivery limit of queue workitem\.inbound\.large/);
    expect(tb.messaging.receipts.map((r) => r.receipt.error?.code)).toEqual(['DELIVERY_LIMIT']);
    expect(tb.metrics.outcomes()).toEqual(['rejected']);
  });

  it('without a reply_to the receipt still goes to the receipts exchange (the adapter sends the copy)', async () => {
    const tb = testbed();
    await handleDeadLetter(tb.d, deadLettered(tb, {}, { properties: { headers: {}, other: {} } }));
    expect(tb.messaging.receipts.map((r) => r.target)).toEqual([{ replyTo: undefined, correlationId: undefined, sender: SOURCE }]);
  });

  it('a control event: the error copy only, no receipt, no item counted', async () => {
    const tb = testbed();
    const msg = deadLettered(tb, { reason: 'expired', queue: 'workitem.control', holds: 'controlEvents' });
    expect(await handleDeadLetter(tb.d, msg)).toEqual({ kind: 'rejected', code: 'EXPIRED_IN_QUEUE' });
    expect(tb.messaging.errorCopies.map((c) => c.error.code)).toEqual(['EXPIRED_IN_QUEUE']);
    expect(tb.messaging.receipts).toEqual([]);
    expect(tb.metrics.items).toEqual([]);
  });

  it("a parked item's retry message at the delivery limit: error copy only; the item stays parked in the store", async () => {
    const tb = testbed();
    const msg = deadLettered(tb, { reason: 'delivery_limit' }, { parked: { contactId: 'wi-1', entrance: 'support' } });
    expect((await handleDeadLetter(tb.d, msg)).kind).toBe('dropped');
    expect(tb.messaging.errorCopies.map((c) => c.error.code)).toEqual(['DELIVERY_LIMIT']);
    expect(tb.messaging.receipts).toEqual([]);
    expect(tb.log.warnings()).toEqual(['retry message of a parked item dead-lettered by the broker; the item stays parked']);
  });

  it.each(['rejected', 'maxlen', 'unknown'] as const)('reason %s (no code for it): copied as it came, no receipt', async (reason) => {
    const tb = testbed();
    expect((await handleDeadLetter(tb.d, deadLettered(tb, { reason }))).kind).toBe('dropped');
    expect(tb.messaging.deadLetterCopies).toHaveLength(1);
    expect(tb.messaging.errorCopies).toEqual([]);
    expect(tb.messaging.receipts).toEqual([]);
  });

  it('a queue the service does not know: copied as it came, even for a reason with a code', async () => {
    const tb = testbed();
    await handleDeadLetter(tb.d, deadLettered(tb, { reason: 'expired', queue: 'elsewhere', holds: 'other' }));
    expect(tb.messaging.deadLetterCopies).toHaveLength(1);
    expect(tb.messaging.receipts).toEqual([]);
  });

  it('a copy the broker did not confirm: retry (requeued in the dead-letter queue), nothing sent', async () => {
    const tb = testbed();
    tb.messaging.failing.add('publishErrorCopy');
    expect((await handleDeadLetter(tb.d, deadLettered(tb, {}))).kind).toBe('retry');
    expect(tb.messaging.receipts).toEqual([]);
    tb.messaging.failing.clear();
    expect(await handleDeadLetter(tb.d, deadLettered(tb, {}))).toEqual({ kind: 'rejected', code: 'EXPIRED_IN_QUEUE' });
  });
});
