import { parseControlEvent } from '../../../src/application/handle-control-event';

const b = (o: unknown) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o));
const CID = 'wi-123e4567-e89b-12d3-a456-426614174000';

describe('control events', () => {
  it('reads each control event of the contract', () => {
    expect(parseControlEvent('entrance.closed', b({ entrance: 'loans' }))).toEqual({
      type: 'entrance.closed',
      entrance: 'loans',
      by: 'contact-center',
    });
    expect(parseControlEvent('entrance.opened', b({ entrance: 'loans', by: 'ops' }))).toEqual({
      type: 'entrance.opened',
      entrance: 'loans',
      by: 'ops',
    });
    expect(parseControlEvent('contact.ended', b({ contactId: CID }))).toEqual({ type: 'contact.ended', contactId: CID });
    expect(parseControlEvent('contact.rejected', b({ contactId: CID, reason: 'entrance-closed' }))).toEqual({
      type: 'contact.rejected',
      contactId: CID,
      reason: 'entrance-closed',
    });
    expect(parseControlEvent('server.started', b({}))).toEqual({ type: 'server.started' });
    expect(parseControlEvent('server.started', Buffer.alloc(0))).toEqual({ type: 'server.started' });
  });

  it.each([
    ['entrance.closed', '{'],
    ['entrance.closed', '[]'],
    ['entrance.closed', { entrance: 5 }],
    ['contact.ended', { contactId: 'nope' }],
    ['contact.ended', {}],
    ['something.else', {}],
  ])('%s %j is reported, not thrown', (rk, body) => {
    expect(typeof parseControlEvent(rk, b(body))).toBe('string');
  });

  it('contact.ended carries an optional disposition; a malformed one is left out and reported, the end still stands', () => {
    expect(parseControlEvent('contact.ended', b({ contactId: CID, disposition: { code: 'resolved', text: 'Loan approved' } }))).toEqual({
      type: 'contact.ended',
      contactId: CID,
      disposition: { code: 'resolved', text: 'Loan approved' },
    });
    expect(parseControlEvent('contact.ended', b({ contactId: CID, disposition: { code: 'a.B_c-9' } }))).toEqual({
      type: 'contact.ended',
      contactId: CID,
      disposition: { code: 'a.B_c-9' },
    });
    expect(parseControlEvent('contact.ended', b({ contactId: CID, disposition: null }))).toEqual({ type: 'contact.ended', contactId: CID });
    for (const bad of [
      'resolved',
      [],
      {},
      { code: '' },
      { code: 'x'.repeat(65) },
      { code: 'has space' },
      { code: 'ok', text: 5 },
      { code: 'ok', text: 'x'.repeat(1025) },
    ]) {
      const ev = parseControlEvent('contact.ended', b({ contactId: CID, disposition: bad }));
      expect(ev).toMatchObject({ type: 'contact.ended', contactId: CID, dispositionIgnored: expect.any(String) });
      expect(ev).not.toHaveProperty('disposition');
    }
    expect(
      parseControlEvent('contact.ended', b({ contactId: CID, disposition: { code: 'x'.repeat(64), text: 'y'.repeat(1024) } })),
    ).toHaveProperty('disposition.code', 'x'.repeat(64));
  });
});
