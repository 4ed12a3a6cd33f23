import { handleControlEvent, type ControlEvent } from '../../../src/application/handle-control-event';
import { ENTRANCE, testbed, type Testbed } from './fakes/testbed';
import { cidOf, closeEntrance, item, openEntrance, send } from './fakes/messages';

/** The contact center's control events, against the in-memory store. */

const control = (tb: Testbed, ev: ControlEvent) => handleControlEvent(tb.d, ev, 'test-owner');

describe('control events', () => {
  it('entrance.closed closes the entrance (who and when kept); the next item is parked', async () => {
    const tb = testbed();
    await closeEntrance(tb);
    expect(await tb.store.entrances([ENTRANCE])).toEqual([
      { name: ENTRANCE, open: false, since: tb.clock.iso(), by: 'contact-center', parked: 0 },
    ]);
    expect((await send(tb, item(1))).outcome.kind).toBe('parked');
  });

  it('entrance.opened for an entrance already open still flushes (an operator nudging stuck items)', async () => {
    const tb = testbed();
    tb.messaging.noListener.add(ENTRANCE);
    const cid = cidOf((await send(tb, item(1))).outcome); // parked: nobody listened
    tb.messaging.noListener.clear();
    await openEntrance(tb);
    expect(tb.messaging.events.map((e) => e.contactId)).toEqual([cid]);
    expect(tb.store.stateOf(cid)).toBe('routed');
  });

  it('for an entrance that is not configured is ignored with a warning', async () => {
    const tb = testbed();
    await control(tb, { type: 'entrance.closed', entrance: 'nowhere', by: 'cc' });
    expect(await tb.store.isOpen('nowhere')).toBe(true);
    expect(tb.log.warnings()).toEqual(['control event for an unknown entrance ignored']);
  });

  it('contact.ended removes the item and its attachment and counts it completed; a second one is harmless', async () => {
    const tb = testbed();
    const attachment = { fileName: 'a.txt', contentType: 'text/plain', data: Buffer.from('hi'), sha256: 'ef'.repeat(32) };
    const cid = cidOf((await send(tb, item(1, { attachment }))).outcome);
    await control(tb, { type: 'contact.ended', contactId: cid });
    await control(tb, { type: 'contact.ended', contactId: cid });
    expect(tb.store.tombstones.get(cid)).toBe('ended');
    expect(tb.attachments.files.size).toBe(0);
    expect(tb.metrics.outcomes().filter((o) => o === 'completed')).toHaveLength(1);
  });

  it('contact.ended with a disposition: the ended step keeps code and text, completed is counted by code', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1))).outcome);
    const text = 'Loan approved, customer informed '.repeat(20).slice(0, 600);
    await control(tb, { type: 'contact.ended', contactId: cid, disposition: { code: 'resolved', text } });
    const steps = (await tb.history.read(cid))?.steps ?? [];
    expect(steps[steps.length - 1]).toMatchObject({ step: 'ended', code: 'resolved', reason: text });
    expect(tb.metrics.items.filter((i) => i.outcome === 'completed')).toEqual([
      { outcome: 'completed', labels: { entrance: ENTRANCE, taskType: expect.any(String), code: 'resolved' } },
    ]);
    expect(tb.store.dispositions).toEqual(['resolved']);
  });

  it('contact.ended with a malformed disposition ends the item without one, with a warning', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1))).outcome);
    await control(tb, { type: 'contact.ended', contactId: cid, dispositionIgnored: '"disposition.code" must match' });
    expect(tb.store.tombstones.get(cid)).toBe('ended');
    expect(tb.log.warnings()).toEqual(['contact.ended with a malformed disposition: the disposition is ignored, the item ends']);
    const steps = (await tb.history.read(cid))?.steps ?? [];
    expect(steps[steps.length - 1]).not.toHaveProperty('code');
    expect(tb.metrics.items.find((i) => i.outcome === 'completed')?.labels).not.toHaveProperty('code');
    expect(tb.store.dispositions).toEqual([]);
  });

  it('contact.rejected parks a routed item (its record as the parked message); for an item not routed it is ignored', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1))).outcome);
    await control(tb, { type: 'contact.rejected', contactId: cid, reason: 'no agent' });
    await control(tb, { type: 'contact.rejected', contactId: cid, reason: 'again' });
    expect(tb.store.stateOf(cid)).toBe('parked');
    expect(tb.messaging.parks).toHaveLength(1);
    expect(JSON.parse(tb.messaging.parks[0].body.toString())).toMatchObject({ contactId: cid, externalId: 'CASE-1' });
    expect(tb.metrics.outcomes()).toContain('buffered');
    expect(tb.log.warnings()).toEqual(['contact.rejected for an item that is not routed; ignored']);
  });

  it('server.started replays the routed items', async () => {
    const tb = testbed();
    const cid = cidOf((await send(tb, item(1))).outcome);
    await control(tb, { type: 'server.started' });
    expect(tb.messaging.events.map((e) => [e.contactId, 'replayed' in e && e.replayed])).toEqual([
      [cid, false],
      [cid, true],
    ]);
  });
});
