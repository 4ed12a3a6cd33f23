import { ENTRANCE, testbed } from './fakes/testbed';
import { cidOf, deliver, item, openEntrance, parkItems, redelivery, send, update } from './fakes/messages';

/** `<updateWorkItem>`: compare-and-set in the store, contact.updated for routed items, STALE_UPDATE for old revisions. */

describe('updating a work item', () => {
  it('that is routed publishes contact.updated with the whole contact and what changed; receipt updated', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1))).outcome);
    expect((await send(tb, update(1, { priority: 9, subject: 'Call back 1', revision: 1 }))).outcome).toEqual({
      kind: 'updated',
      contactId: cid,
    });
    expect(tb.messaging.events[1]).toMatchObject({
      type: 'contact.updated',
      contactId: cid,
      priority: 9,
      changed: ['priority'],
      revision: 1,
    });
    expect(tb.messaging.receipts.at(-1)?.receipt).toMatchObject({ status: 'updated', contactId: cid });
    expect((await tb.store.getItem(cid))?.record.priority).toBe(9);
  });

  it('with a revision not above the last applied is rejected STALE_UPDATE and changes nothing', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1))).outcome);
    await send(tb, update(1, { priority: 9, revision: 5 }));
    const { outcome } = await send(tb, update(1, { priority: 2, revision: 5 }));
    expect(outcome).toEqual({ kind: 'rejected', code: 'STALE_UPDATE' });
    expect(tb.messaging.errorCopies[0].error).toMatchObject({ code: 'STALE_UPDATE', path: '/updateWorkItem/@revision' });
    expect(tb.messaging.receipts.at(-1)?.receipt).toMatchObject({ status: 'rejected', contactId: cid });
    expect(tb.messaging.eventTypes()).toEqual(['contact.created', 'contact.updated']);
    expect((await tb.store.getItem(cid))?.record.priority).toBe(9);
  });

  it('that is parked is only stored; the reopen flush publishes contact.created with the change', async () => {
    const tb = testbed();
    const [c1] = await parkItems(tb, 1);
    expect((await send(tb, update(1, { priority: 8 }))).outcome).toEqual({ kind: 'updated', contactId: c1 });
    expect(tb.messaging.events).toEqual([]);
    await openEntrance(tb);
    expect(tb.messaging.events).toMatchObject([{ type: 'contact.created', contactId: c1, priority: 8 }]);
  });

  it('redelivered is not applied again, but its event is published again (a crash may have come before it)', async () => {
    const tb = testbed();
    await send(tb, item(1));
    const { msg } = await send(tb, update(1, { priority: 9, revision: 3 }));
    expect((await deliver(tb, redelivery(msg))).kind).toBe('updated');
    expect(tb.messaging.events.slice(1)).toMatchObject([
      { type: 'contact.updated', changed: ['priority'], revision: 3 },
      { type: 'contact.updated', changed: ['priority'], revision: 3 },
    ]);
    expect(tb.messaging.receiptStatuses()).toEqual(['accepted', 'updated', 'updated']);
    expect(tb.store.rejections).toEqual([]);
  });

  it('sent again without a message_id after another update applies again (only the latest counts as a repeat)', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1))).outcome);
    const eight = update(1, { priority: 8 });
    await send(tb, eight);
    await send(tb, update(1, { priority: 5 }));
    await send(tb, eight);
    expect(tb.messaging.events.slice(1).map((e) => 'priority' in e && e.priority)).toEqual([8, 5, 8]);
    expect((await tb.store.getItem(cid))?.record.priority).toBe(8);
  });

  it('of an unknown item is rejected NOT_FOUND', async () => {
    const tb = testbed();
    expect((await send(tb, update(7, { priority: 1 }))).outcome).toEqual({ kind: 'rejected', code: 'NOT_FOUND' });
    expect(tb.messaging.errorCopies[0].error.path).toBe('/updateWorkItem/externalId');
  });

  it('that meets a concurrent update between its read and its write reads again and merges on top of it', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1))).outcome);
    const read = tb.store.readForUpdate.bind(tb.store);
    tb.store.readForUpdate = async (source, externalId) => {
      const snap = await read(source, externalId);
      tb.store.readForUpdate = read; // once: another instance applies its update right after this read
      await send(tb, update(1, { subject: 'from elsewhere' }));
      return snap;
    };
    await send(tb, update(1, { priority: 2 }));
    expect((await tb.store.getItem(cid))?.record).toMatchObject({ subject: 'from elsewhere', priority: 2 });
  });

  it('whose contact.updated nobody takes parks the item', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1))).outcome);
    tb.messaging.noListener.add(ENTRANCE);
    await send(tb, update(1, { priority: 3 }));
    expect(tb.store.stateOf(cid)).toBe('parked');
    expect(tb.messaging.parks).toMatchObject([{ entrance: ENTRANCE, contactId: cid }]);
    expect(tb.metrics.unroutables).toEqual([ENTRANCE]);
  });
});
