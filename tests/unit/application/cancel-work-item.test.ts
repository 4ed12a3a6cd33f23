import { ENTRANCE, testbed } from './fakes/testbed';
import { cancel, cidOf, deliver, delivery, item, parkItems, redelivery, send } from './fakes/messages';

/** `<cancelWorkItem>`: the item's own sender withdraws it. */

describe('cancelling a work item', () => {
  it('withdraws a routed item: contact.withdrawn, receipt cancelled, its state and attachment gone', async () => {
    const tb = testbed();
    const attachment = { fileName: 'a.pdf', contentType: 'application/pdf', data: Buffer.from('%PDF'), sha256: 'cd'.repeat(32) };
    const cid = cidOf((await send(tb, item(1, { attachment }))).outcome);
    expect((await send(tb, cancel(1))).outcome).toEqual({ kind: 'cancelled', contactId: cid });
    expect(tb.messaging.events.map((e) => e.type)).toEqual(['contact.created', 'contact.withdrawn']);
    expect(tb.messaging.events[1]).toMatchObject({ contactId: cid, reason: 'cancelled-by-sender' });
    expect(tb.messaging.receipts.at(-1)?.receipt).toMatchObject({ status: 'cancelled', contactId: cid, externalId: 'CASE-1' });
    expect(tb.store.tombstones.get(cid)).toBe('cancelled');
    expect(tb.attachments.files.has(cid)).toBe(false);
    expect(tb.metrics.outcomes()).toContain('withdrawn');
  });

  it('of an unknown item (or one cancelled already) is rejected NOT_FOUND', async () => {
    const tb = testbed();
    await send(tb, item(1));
    await send(tb, cancel(1));
    const { msg, outcome } = await send(tb, cancel(1));
    expect(outcome).toEqual({ kind: 'rejected', code: 'NOT_FOUND' });
    expect(tb.messaging.errorCopies).toEqual([
      { body: msg.body, msg, error: expect.objectContaining({ path: '/cancelWorkItem/externalId' }) },
    ]);
    expect((await send(tb, cancel(2))).outcome).toEqual({ kind: 'rejected', code: 'NOT_FOUND' });
  });

  it('redelivered after its first handling died past the removal (event or receipt not confirmed): sends both again, counts once', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1))).outcome);
    tb.messaging.failing.add('publishEvent');
    const first = delivery(tb.parser, cancel(1));
    expect(await deliver(tb, first)).toEqual({ kind: 'retry', reason: 'publishEvent not confirmed (test)' });
    expect(tb.store.tombstones.get(cid)).toBe('cancelled');
    tb.messaging.failing.clear();
    expect(await deliver(tb, redelivery(first))).toEqual({ kind: 'cancelled', contactId: cid });
    expect(tb.messaging.events.map((e) => e.type)).toEqual(['contact.created', 'contact.withdrawn']);
    expect(tb.messaging.receipts.at(-1)?.receipt).toMatchObject({ status: 'cancelled', contactId: cid });
    expect(tb.metrics.outcomes().filter((o) => o === 'withdrawn')).toHaveLength(1);
  });

  it('whose contact.withdrawn the broker refuses (a full queue) is retried until the contact center has room', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1))).outcome);
    tb.messaging.fullQueue.add(ENTRANCE);
    const first = delivery(tb.parser, cancel(1));
    expect((await deliver(tb, first)).kind).toBe('retry');
    expect(tb.metrics.refusals).toEqual([ENTRANCE]);
    tb.messaging.fullQueue.clear();
    expect(await deliver(tb, redelivery(first))).toEqual({ kind: 'cancelled', contactId: cid });
    expect(tb.messaging.events.map((e) => e.type)).toEqual(['contact.created', 'contact.withdrawn']);
  });

  it('of a parked item withdraws it; its parked message is dropped at its retry', async () => {
    const tb = testbed();
    const [c1] = await parkItems(tb, 1);
    expect((await send(tb, cancel(1))).outcome).toEqual({ kind: 'cancelled', contactId: c1 });
    expect(await deliver(tb, tb.messaging.takeParked(ENTRANCE))).toEqual({
      kind: 'dropped',
      reason: 'ended, cancelled or expired meanwhile',
    });
    expect(tb.messaging.eventTypes()).toEqual(['contact.withdrawn']);
  });

  it('from another sender is SENDER_NOT_ALLOWED, and the item stays', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1))).outcome);
    const { outcome } = await send(tb, cancel(1), { routingKey: 'workitem.email' });
    expect(outcome).toEqual({ kind: 'rejected', code: 'SENDER_NOT_ALLOWED' });
    expect(tb.messaging.errorCopies[0].error.path).toBe('/cancelWorkItem/source');
    expect(tb.store.stateOf(cid)).toBe('routed');
  });
});
