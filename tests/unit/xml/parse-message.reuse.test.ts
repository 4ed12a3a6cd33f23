import { ParsedMessage } from '../../../src/domain/work-item';
import { OPTS, parse, workItemXml } from './xml-test-helpers';

/**
 * The XML adapter reuses one xml2js parser per thread (and one prototype for attribute objects). Whatever the
 * previous document was (valid, malformed at any point, stopped by the guard), the next one must come out exactly as
 * from a freshly loaded parser.
 */
const DOCUMENTS: Record<string, string> = {
  valid: workItemXml(),
  'valid, other fields': workItemXml({
    externalId: 'CASE-2',
    customer: '<name>Jane</name><email>jane@example.com</email>',
    contactData: '<item key="WorkItemTask">loan-review</item><item key="CaseUrl">https://bank.example/2</item>',
  }),
  cancel: '<cancelWorkItem><externalId>CASE-1</externalId><source>bank-support</source></cancelWorkItem>',
  'trailing garbage': `${workItemXml()}trailing`,
  'second root': `${workItemXml()}<workItem version="1"/>`,
  truncated: workItemXml().slice(0, 120),
  'unclosed root': '<workItem version="1"><externalId>CASE-1</externalId>',
  'duplicate attribute on the root': workItemXml({}, { rootAttributes: 'version="1" version="1"' }),
  'duplicate attribute on an item': workItemXml({ contactData: '<item key="WorkItemTask">a</item><item key="X" key="Y">b</item>' }),
  'character reference to a control character': workItemXml({ subject: 'bad &#1; char' }),
  'character reference, allowed': workItemXml({ subject: 'caf&#233; &#x1F600;' }),
  'unknown entity': workItemXml({ subject: '&nbsp;' }),
  'mismatched tag': workItemXml({ subject: 'x</body>' }),
  'reserved element name': workItemXml({ constructor: 'x' }),
  'namespaced attribute': workItemXml({}, { rootAttributes: 'version="1" a:b="c"' }),
  'unknown root': '<order version="1"/>',
  'too deep': `<workItem version="1">${'<a>'.repeat(40)}${'</a>'.repeat(40)}</workItem>`,
  'text outside the root': `${workItemXml()}<!-- ok -->x`,
};

function freshParse(xml: string): ParsedMessage {
  let result: ParsedMessage | undefined;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { parseMessage } = require('../../../src/adapters/xml/parse-message') as typeof import('../../../src/adapters/xml/parse-message');
    result = parseMessage(Buffer.from(xml, 'utf8'), OPTS);
  });
  return result!;
}

describe('parseMessage with a reused parser', () => {
  const names = Object.keys(DOCUMENTS);
  const expected = new Map(names.map((n) => [n, freshParse(DOCUMENTS[n])]));

  it('covers both outcomes', () => {
    const kinds = new Set([...expected.values()].map((r) => r.kind));
    expect(kinds).toEqual(new Set(['workItem', 'cancel', 'invalid']));
  });

  it.each(names)('every document parses as from a fresh parser right after "%s"', (before) => {
    for (const name of names) {
      parse(DOCUMENTS[before]);
      expect({ name, result: parse(DOCUMENTS[name]) }).toEqual({ name, result: expected.get(name) });
    }
  });

  it('reports a duplicate attribute of the current document, with its path and echo', () => {
    parse(DOCUMENTS['valid, other fields']);
    expect(parse(DOCUMENTS['duplicate attribute on an item'])).toEqual({
      kind: 'invalid',
      error: { code: 'MALFORMED_XML', message: 'duplicate attribute "key"', path: '/workItem/contactData/item[2]/@key' },
      externalId: 'CASE-1',
      source: 'bank-support',
    });
    expect(parse(DOCUMENTS['duplicate attribute on the root'])).toMatchObject({
      kind: 'invalid',
      error: { code: 'MALFORMED_XML', message: 'duplicate attribute "version"', path: '/workItem/@version' },
    });
  });

  it('repeats give the same answer (valid and invalid, many times in a row)', () => {
    for (let i = 0; i < 50; i++) {
      for (const name of ['valid', 'duplicate attribute on an item', 'truncated', 'valid, other fields']) {
        expect(parse(DOCUMENTS[name])).toEqual(expected.get(name));
      }
    }
  });
});
