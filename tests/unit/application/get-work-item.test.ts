import { handleControlEvent } from '../../../src/application/handle-control-event';
import type { ParsedMessage } from '../../../src/domain/work-item';
import { testbed, type Testbed } from './fakes/testbed';
import { SOURCE, cidOf, closeEntrance, item, send, update } from './fakes/messages';

/** `<getWorkItem>` (status query) over the in-memory store: answered to reply_to only, changes nothing. */

const get = (n: number, source = SOURCE): ParsedMessage => ({ kind: 'get', query: { externalId: `CASE-${n}`, source } });
const end = (tb: Testbed, contactId: string) => handleControlEvent(tb.d, { type: 'contact.ended', contactId }, 'test-owner');

/** Sends the query and returns its one reply; nothing else may have been published for it. */
async function query(tb: Testbed, parsed: ParsedMessage, routingKey?: string) {
  const before = { receipts: tb.messaging.receipts.length, errors: tb.messaging.errorCopies.length, events: tb.messaging.events.length };
  const replies = tb.messaging.replies.length;
  const { outcome } = await send(tb, parsed, { correlationId: 'q-1', ...(routingKey && { routingKey }) });
  expect(tb.messaging.receipts).toHaveLength(before.receipts);
  expect(tb.messaging.errorCopies).toHaveLength(before.errors);
  expect(tb.messaging.events).toHaveLength(before.events);
  expect(tb.messaging.replies).toHaveLength(replies + 1);
  const reply = tb.messaging.replies.at(-1)!;
  expect(reply.target).toMatchObject({ replyTo: 'sender-replies', correlationId: 'q-1' });
  return { outcome, reply: reply.reply };
}

function info(reply: Awaited<ReturnType<typeof query>>['reply']) {
  if (reply.type !== 'workItemInfo') throw new Error(`expected a workItemInfo, got ${JSON.stringify(reply)}`);
  return reply.info;
}

describe('status query <getWorkItem>', () => {
  it('of a routed item: its state, fields and history steps, to reply_to only; outcome queried, not counted', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1, { dueAt: '2026-12-24T12:00:00Z' }))).outcome);
    const counted = tb.metrics.outcomes().length;
    const { outcome, reply } = await query(tb, get(1));
    expect(outcome).toEqual({ kind: 'queried', found: true, contactId: cid });
    expect(info(reply)).toEqual({
      externalId: 'CASE-1',
      source: SOURCE,
      contactId: cid,
      state: 'routed',
      entrance: 'support',
      priority: 5,
      receivedAt: expect.any(String),
      dueAt: '2026-12-24T12:00:00Z',
      steps: [
        { at: expect.any(String), name: 'received' },
        { at: expect.any(String), name: 'accepted' },
      ],
    });
    expect(tb.metrics.outcomes()).toHaveLength(counted);
    expect(tb.store.rejections).toEqual([]);
  });

  it('of an updated item: revision and updatedAt (the latest update step)', async () => {
    const tb = testbed();
    await send(tb, item(1));
    tb.clock.advance(5000);
    await send(tb, update(1, { priority: 8, revision: 3 }));
    const i = info((await query(tb, get(1))).reply);
    expect(i).toMatchObject({ state: 'routed', priority: 8, revision: 3, updatedAt: tb.clock.iso() });
    expect(i.steps.map((s) => s.name)).toEqual(['received', 'accepted', 'updated']);
  });

  it('of a parked item: buffered (the wire word); of a scheduled one: scheduled, with expiresAt', async () => {
    const tb = testbed();
    await closeEntrance(tb);
    await send(tb, item(1));
    expect(info((await query(tb, get(1))).reply).state).toBe('buffered');
    await send(tb, item(2, { entrance: 'loans', activateAt: tb.clock.iso(3_600_000), expiresAt: tb.clock.iso(7_200_000) }));
    expect(info((await query(tb, get(2))).reply)).toMatchObject({
      state: 'scheduled',
      entrance: 'loans',
      expiresAt: tb.clock.iso(7_200_000),
    });
  });

  it('of an ended item (its finished entry): contactId, state ended and its steps, nothing else', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1))).outcome);
    await end(tb, cid);
    const i = info((await query(tb, get(1))).reply);
    expect(i).toEqual({ externalId: 'CASE-1', source: SOURCE, contactId: cid, state: 'ended', steps: expect.any(Array) });
    expect(i.steps.map((s) => s.name)).toEqual(['received', 'accepted', 'ended']);
  });

  it('unknown, or finished longer ago than dedupe.afterEndSeconds: a rejected NOT_FOUND receipt to reply_to only', async () => {
    const tb = testbed({ afterEndSeconds: 60 });
    const { outcome, reply } = await query(tb, get(9));
    expect(outcome).toEqual({ kind: 'queried', found: false });
    expect(reply).toEqual({
      type: 'workItemReceipt',
      receipt: {
        status: 'rejected',
        externalId: 'CASE-9',
        source: SOURCE,
        error: { code: 'NOT_FOUND', path: '/getWorkItem/externalId', message: expect.any(String) },
      },
    });
    const cid = cidOf((await send(tb, item(1))).outcome);
    await end(tb, cid);
    tb.clock.advance(61_000);
    expect((await query(tb, get(1))).outcome).toEqual({ kind: 'queried', found: false });
  });

  it("another source's item is NOT_FOUND (the query looks under its own source only)", async () => {
    const tb = testbed();
    await send(tb, item(1));
    const { outcome, reply } = await query(tb, get(1, 'email'), 'workitem.email');
    expect(outcome).toEqual({ kind: 'queried', found: false });
    expect(reply).toMatchObject({ type: 'workItemReceipt', receipt: { status: 'rejected', error: { code: 'NOT_FOUND' } } });
  });

  it('naming another source than its routing key: SENDER_NOT_ALLOWED the normal way (error copy, receipts copy)', async () => {
    const tb = testbed();
    await send(tb, item(1));
    const { outcome } = await send(tb, get(1), { routingKey: 'workitem.email' });
    expect(outcome).toEqual({ kind: 'rejected', code: 'SENDER_NOT_ALLOWED' });
    expect(tb.messaging.replies).toEqual([]);
    expect(tb.messaging.errorCopies.map((c) => c.error.code)).toEqual(['SENDER_NOT_ALLOWED']);
    expect(tb.messaging.receipts.at(-1)?.receipt).toMatchObject({ status: 'rejected', error: { path: '/getWorkItem/source' } });
  });

  it('without reply_to: rejected MISSING_FIELD at /getWorkItem with its copies, counted as received and rejected', async () => {
    const tb = testbed();
    await send(tb, item(1));
    const counted = tb.metrics.outcomes().length;
    const { outcome } = await send(tb, get(1), { replyTo: undefined });
    expect(outcome).toEqual({ kind: 'rejected', code: 'MISSING_FIELD' });
    expect(tb.messaging.replies).toEqual([]);
    expect(tb.messaging.errorCopies.map((c) => c.error)).toEqual([
      expect.objectContaining({ code: 'MISSING_FIELD', path: '/getWorkItem' }),
    ]);
    expect(tb.messaging.receipts.at(-1)?.receipt).toMatchObject({ status: 'rejected', externalId: 'CASE-1', source: SOURCE });
    expect(tb.metrics.outcomes().slice(counted)).toEqual(['received', 'rejected']);
    expect(tb.store.rejections).toHaveLength(1);
  });
});
