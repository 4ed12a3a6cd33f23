import { ReceiptData, parseReceipt, renderReceipt } from '../../../src/adapters/xml/render-receipt';
import { parse } from './xml-test-helpers';

const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

describe('renderReceipt', () => {
  it('renders an accepted receipt exactly as in the contract', () => {
    const xml = renderReceipt({
      status: 'accepted',
      externalId: 'CASE-2026-000123',
      source: 'bank-support',
      contactId: 'wi-0f8fad5b-d9cb-469f-a165-70867728950e',
      entrance: 'loans',
      receivedAt: '2026-11-23T10:00:00.000Z',
    }).toString('utf8');
    expect(xml).toBe(
      `${DECLARATION}\n<workItemReceipt status="accepted" externalId="CASE-2026-000123" source="bank-support" ` +
        'contactId="wi-0f8fad5b-d9cb-469f-a165-70867728950e" entrance="loans" receivedAt="2026-11-23T10:00:00.000Z"/>\n',
    );
  });

  it('keeps the contract attribute order whatever the object order, and omits undefined ones', () => {
    const xml = renderReceipt({ receivedAt: 'T', source: 's', status: 'buffered', entrance: undefined, externalId: 'e' }).toString();
    expect(xml).toBe(`${DECLARATION}\n<workItemReceipt status="buffered" externalId="e" source="s" receivedAt="T"/>\n`);
  });

  it('renders a duplicate of a finished item with its state last (contract 1.2), and reads it back', () => {
    const r: ReceiptData = { status: 'duplicate', externalId: 'e', source: 's', contactId: 'wi-1', entrance: 'loans', state: 'ended' };
    const xml = renderReceipt(r);
    expect(xml.toString()).toBe(
      `${DECLARATION}\n<workItemReceipt status="duplicate" externalId="e" source="s" contactId="wi-1" entrance="loans" state="ended"/>\n`,
    );
    expect(parseReceipt(xml)).toEqual(r);
    expect(() => parseReceipt(Buffer.from('<workItemReceipt status="duplicate" state="gone"/>'))).toThrow(/state/);
  });

  it('renders a rejected receipt with its error element', () => {
    const xml = renderReceipt({
      status: 'rejected',
      externalId: 'CASE-1',
      source: 'bank-support',
      error: { code: 'INVALID_FIELD', path: '/workItem/priority', message: 'priority must be an integer 1..10' },
    }).toString();
    expect(xml).toBe(
      `${DECLARATION}\n<workItemReceipt status="rejected" externalId="CASE-1" source="bank-support">` +
        '<error code="INVALID_FIELD" path="/workItem/priority">priority must be an integer 1..10</error></workItemReceipt>\n',
    );
  });

  it('escapes markup characters and quotes', () => {
    const xml = renderReceipt({
      status: 'rejected',
      externalId: `a&b<c>d"e'f`,
      error: { code: 'MALFORMED_XML', path: '/', message: `<x> & "y" 'z'` },
    }).toString();
    expect(xml).toContain('externalId="a&amp;b&lt;c&gt;d&quot;e&apos;f"');
    expect(xml).toContain('>&lt;x&gt; &amp; &quot;y&quot; &apos;z&apos;</error>');
  });

  it('removes characters XML does not allow and protects whitespace in attributes', () => {
    const xml = renderReceipt({
      status: 'rejected',
      externalId: 'a\u0000b\u0001c\uFFFFd\uD800e\tf\ng\rh',
      error: { code: 'MALFORMED_XML', path: '/', message: 'x\u0007y\r\nz' },
    }).toString();
    expect(xml).toContain('externalId="abcde&#9;f&#10;g&#13;h"');
    expect(xml).toContain('>xy&#13;\nz</error>');
  });

  it('produces a receipt that the service itself parses back (round trip)', () => {
    const cases: ReceiptData[] = [
      { status: 'accepted', externalId: 'E', source: 's', contactId: 'wi-1', entrance: 'loans', receivedAt: '2026-11-23T10:00:00.000Z' },
      { status: 'duplicate', externalId: 'E', source: 's', contactId: 'wi-1' },
      { status: 'cancelled', externalId: 'E', source: 's' },
      { status: 'buffered', externalId: 'E', source: 's', entrance: 'loans' },
      { status: 'rejected', error: { code: 'FORBIDDEN_XML', path: '/', message: 'DOCTYPE declarations are not accepted' } },
      {
        status: 'rejected',
        externalId: `tricky & <"'> \t\n id ☺ 𝄞`,
        source: 'bank-support',
        error: { code: 'ATTACHMENT_REJECTED', path: '/workItem/attachment/@fileName', message: 'multi\nline & <markup> ☺' },
      },
    ];
    for (const receipt of cases) expect(parseReceipt(renderReceipt(receipt))).toEqual(receipt);
  });

  it('round-trips the error of a real rejection', () => {
    const result = parse('<workItem version="1"><externalId>E&amp;1</externalId><source>s</source><priority>99</priority></workItem>');
    if (result.kind !== 'invalid') throw new Error('expected a rejection');
    const receipt: ReceiptData = { status: 'rejected', externalId: result.externalId, source: result.source, error: result.error };
    expect(parseReceipt(renderReceipt(receipt))).toEqual({ ...receipt, externalId: 'E&1' });
  });
});

describe('parseReceipt', () => {
  it('reads an empty error element as an empty message', () => {
    const receipt = parseReceipt(
      Buffer.from('<workItemReceipt status="rejected"><error code="NOT_FOUND" path="/cancelWorkItem"/></workItemReceipt>'),
    );
    expect(receipt).toEqual({ status: 'rejected', error: { code: 'NOT_FOUND', path: '/cancelWorkItem', message: '' } });
  });

  it.each([
    ['another root', '<receipt status="accepted"/>'],
    ['an unknown status', '<workItemReceipt status="maybe"/>'],
    ['an unknown error code', '<workItemReceipt status="rejected"><error code="OOPS" path="/">x</error></workItemReceipt>'],
    ['a DOCTYPE', '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><workItemReceipt status="accepted">&e;</workItemReceipt>'],
    ['malformed XML', '<workItemReceipt status="accepted">'],
    ['an empty body', ''],
  ])('throws for %s', (_label, xml) => {
    expect(() => parseReceipt(Buffer.from(xml))).toThrow(/receipt/);
  });
});
