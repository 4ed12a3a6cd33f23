import { processMessage } from '../../../src/application/process-message';
import { TransientError } from '../../../src/ports/messaging';
import { ENTRANCE, MAX_PARKED, testbed } from './fakes/testbed';
import { SOURCE, cidOf, closeEntrance, deliver, delivery, item, redelivery, send } from './fakes/messages';

/** A sender's `<workItem>`: accepted, duplicate, parked or rejected, decided against in-memory ports. */

describe('a work item', () => {
  it('is accepted: contact.created, then the receipt accepted with its contactId', async () => {
    const tb = testbed();
    const { outcome } = await send(tb, item(1));
    const cid = cidOf(outcome);
    expect(outcome).toEqual({ kind: 'accepted', contactId: expect.stringMatching(/^wi-/) });
    expect(tb.messaging.events).toMatchObject([{ type: 'contact.created', contactId: cid, externalId: 'CASE-1', replayed: false }]);
    expect(tb.messaging.receipts).toEqual([
      {
        target: { replyTo: 'sender-replies', correlationId: 'corr-1', sender: SOURCE },
        receipt: expect.objectContaining({ status: 'accepted', contactId: cid, externalId: 'CASE-1', source: SOURCE }),
      },
    ]);
    expect(tb.store.stateOf(cid)).toBe('routed');
    expect(tb.metrics.outcomes()).toEqual(['received', 'accepted']);
  });

  it('sent again is a duplicate: the same contactId, and no second event', async () => {
    const tb = testbed();
    const first = cidOf((await send(tb, item(1))).outcome);
    const { outcome } = await send(tb, item(1, { subject: 'sent again' }));
    expect(outcome).toEqual({ kind: 'duplicate', contactId: first });
    expect(tb.messaging.events).toHaveLength(1);
    expect(tb.messaging.receipts.map((r) => [r.receipt.status, r.receipt.contactId])).toEqual([
      ['accepted', first],
      ['duplicate', first],
    ]);
  });

  it('redelivered once stored (we may have crashed before publishing) publishes its event again, same contactId', async () => {
    const tb = testbed();
    const { msg, outcome } = await send(tb, item(1));
    expect(await deliver(tb, redelivery(msg))).toEqual({ kind: 'accepted', contactId: cidOf(outcome) });
    expect(tb.messaging.events.map((e) => e.contactId)).toEqual([cidOf(outcome), cidOf(outcome)]);
    expect(await tb.store.countUnfinished()).toBe(1);
  });

  it('at a closed entrance is parked: its message to the park queue, receipt buffered, no event', async () => {
    const tb = testbed();
    await closeEntrance(tb);
    const { msg, outcome } = await send(tb, item(1));
    expect(outcome).toEqual({ kind: 'parked', contactId: expect.any(String) });
    expect(tb.messaging.events).toEqual([]);
    expect(tb.messaging.parks).toEqual([{ entrance: ENTRANCE, contactId: cidOf(outcome), body: msg.body, msg }]);
    expect(tb.messaging.receiptStatuses()).toEqual(['buffered']);
  });

  it('beyond maxParked at a closed entrance is rejected PARK_LIMIT with an error copy, and not parked', async () => {
    const tb = testbed();
    await closeEntrance(tb);
    for (let n = 1; n <= MAX_PARKED; n++) await send(tb, item(n));
    const { msg, outcome } = await send(tb, item(99));
    expect(outcome).toEqual({ kind: 'rejected', code: 'PARK_LIMIT' });
    expect(tb.messaging.errorCopies).toMatchObject([{ msg, error: { code: 'PARK_LIMIT', path: '/workItem/entrance' } }]);
    expect(tb.messaging.receipts.at(-1)?.receipt).toMatchObject({
      status: 'rejected',
      externalId: 'CASE-99',
      error: { code: 'PARK_LIMIT' },
    });
    expect(tb.messaging.parks).toHaveLength(MAX_PARKED);
    expect(tb.store.rejections).toEqual([{ metric: 'rejected', taskType: 'callback', entrance: ENTRANCE, code: 'PARK_LIMIT' }]);
  });

  it.each([
    ['workitem.email', 'email', /may only carry items of source "email", not "voicemail"/],
    ['inbound', undefined, /is not of the form workitem.<source>/],
  ])('published with routing key %s is rejected SENDER_NOT_ALLOWED, nothing stored', async (routingKey, sender, why) => {
    const tb = testbed();
    const { outcome } = await send(tb, item(1), { routingKey });
    expect(outcome).toEqual({ kind: 'rejected', code: 'SENDER_NOT_ALLOWED' });
    expect(tb.messaging.errorCopies[0].error).toEqual({
      code: 'SENDER_NOT_ALLOWED',
      path: '/workItem/source',
      message: expect.stringMatching(why),
    });
    expect(tb.messaging.receipts[0]).toMatchObject({ target: { sender }, receipt: { status: 'rejected', source: SOURCE } });
    expect(tb.messaging.events).toEqual([]);
    expect(await tb.store.countUnfinished()).toBe(0);
  });

  it('that does not validate gets an error copy and a rejected receipt naming the problem; nothing is stored', async () => {
    const tb = testbed();
    const error = { code: 'INVALID_FIELD', message: 'priority must be 1 to 10', path: '/workItem/priority' } as const;
    const { msg, outcome } = await send(tb, { kind: 'invalid', error, externalId: 'CASE-1' });
    expect(outcome).toEqual({ kind: 'rejected', code: 'INVALID_FIELD' });
    expect(tb.messaging.errorCopies).toEqual([{ body: msg.body, error, msg }]);
    // No readable <source>: answered as the sender the routing key names.
    expect(tb.messaging.receipts[0].receipt).toEqual({ status: 'rejected', externalId: 'CASE-1', source: SOURCE, error });
    expect(await tb.store.countUnfinished()).toBe(0);
  });

  it('whose event nobody takes is parked instead (receipt buffered) and counted unroutable', async () => {
    const tb = testbed();
    tb.messaging.noListener.add(ENTRANCE);
    const { msg, outcome } = await send(tb, item(1));
    const cid = cidOf(outcome);
    expect(outcome.kind).toBe('parked');
    expect(tb.messaging.returned.map((e) => e.contactId)).toEqual([cid]);
    expect(tb.store.stateOf(cid)).toBe('parked');
    expect(tb.messaging.parks).toEqual([{ entrance: ENTRANCE, contactId: cid, body: msg.body, msg }]);
    expect(tb.metrics.unroutables).toEqual([ENTRANCE]);
  });

  it("whose event the broker refuses (the contact center's queue is full) is parked (receipt buffered), counted refused, with why in its history", async () => {
    const tb = testbed();
    tb.messaging.fullQueue.add(ENTRANCE);
    const { msg, outcome } = await send(tb, item(1));
    const cid = cidOf(outcome);
    expect(outcome.kind).toBe('parked');
    expect(tb.messaging.refused.map((e) => e.contactId)).toEqual([cid]);
    expect(tb.messaging.receipts[0].receipt.status).toBe('buffered');
    expect(tb.store.stateOf(cid)).toBe('parked');
    expect(tb.messaging.parks).toEqual([{ entrance: ENTRANCE, contactId: cid, body: msg.body, msg }]);
    expect(tb.metrics.refusals).toEqual([ENTRANCE]);
    expect(tb.metrics.unroutables).toEqual([]);
    const steps = tb.history.items.get(cid)?.steps ?? [];
    expect(steps.map((s) => [s.step, s.reason])).toEqual([
      ['received', undefined],
      ['buffered', "the broker refused the event (the contact center's queue is full)"],
    ]);
  });

  it('with an attachment stores its bytes before the event, whose link is signed; the stored record keeps the plain URL', async () => {
    const tb = testbed();
    const attachment = { fileName: 'call.wav', contentType: 'audio/wav', data: Buffer.from('RIFF'), sha256: 'ab'.repeat(32) };
    const cid = cidOf((await send(tb, item(1, { attachment }))).outcome);
    expect(tb.attachments.files.get(cid)?.data).toEqual(Buffer.from('RIFF'));
    expect(tb.messaging.events[0]).toMatchObject({
      attachment: { fileName: 'call.wav', size: 4, url: `http://svc/attachments/${cid}/call.wav?sig=1` },
    });
    expect((await tb.store.getItem(cid))?.record.attachment?.url).toBe(`http://svc/attachments/${cid}/call.wav`);
  });

  it('whose event the broker does not confirm throws TransientError before any receipt; the redelivery finishes it', async () => {
    const tb = testbed();
    tb.messaging.failing.add('publishEvent');
    const msg = delivery(tb.parser, item(1));
    // The use case lets it propagate: the message is requeued, not answered.
    await expect(processMessage(tb.d, msg)).rejects.toThrow(TransientError);
    expect(tb.messaging.receipts).toEqual([]);
    tb.messaging.failing.clear();
    const again = await deliver(tb, redelivery(msg));
    expect(again.kind).toBe('accepted');
    expect(tb.messaging.events.map((e) => e.contactId)).toEqual([cidOf(again)]);
    expect(tb.messaging.receipts.map((r) => [r.receipt.status, r.receipt.contactId])).toEqual([['accepted', cidOf(again)]]);
  });
});
