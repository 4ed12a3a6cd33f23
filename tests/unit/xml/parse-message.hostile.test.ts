import { ParsedMessage } from '../../../src/domain/work-item';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseMessage } from '../../../src/adapters/xml/parse-message';
import { OPTS, expectInvalid, expectItem, fixture, parse, examplesDir, withLimits, workItemXml } from './xml-test-helpers';

/** Hostile inputs must be stopped quickly, by the first violated limit, without side effects. */
function timed(fn: () => ParsedMessage): ParsedMessage {
  const start = process.hrtime.bigint();
  const result = fn();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  expect(ms).toBeLessThan(5_000); // generous: a regression here means a quadratic path, not a slow box
  return result;
}

describe('parseMessage: body and encoding checks', () => {
  it('rejects an empty or whitespace-only body', () => {
    expectInvalid(parse(''), 'MALFORMED_XML', '/');
    expectInvalid(parse(' \n\t '), 'MALFORMED_XML', '/');
  });

  it('rejects JSON with a message saying XML is expected', () => {
    expect(expectInvalid(parse('{"externalId":"x"}'), 'MALFORMED_XML').message).toMatch(/expected an XML document/);
    expectInvalid(parse('  [1,2]'), 'MALFORMED_XML');
  });

  it('rejects a body over maxMessageBytes with TOO_LARGE before parsing', () => {
    const opts = withLimits({ maxMessageBytes: 1024 });
    expect(expectItem(parse(workItemXml(), opts)).externalId).toBe('CASE-1');
    expectInvalid(parse(workItemXml({ body: 'x'.repeat(2000) }), opts), 'TOO_LARGE', '/');
    expectInvalid(parse(Buffer.alloc(2000, 0x20), opts), 'TOO_LARGE');
  });

  it('rejects invalid UTF-8', () => {
    const xml = Buffer.from(workItemXml({ subject: 'ZZ' }));
    const at = xml.indexOf('ZZ');
    xml[at] = 0xc3; // a lead byte followed by 'Z' is not a valid sequence
    expect(expectInvalid(parse(xml), 'MALFORMED_XML').message).toMatch(/UTF-8/);
    expectInvalid(parse(Buffer.concat([Buffer.from('<workItem version="1"><subject>'), Buffer.from([0xff, 0xfe, 0xfd])])), 'MALFORMED_XML');
  });

  it('rejects UTF-16 with a BOM (LE and BE) that declares UTF-8 (more in parse-message.encodings.test.ts)', () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(workItemXml(), 'utf16le')]);
    const be = Buffer.from(le);
    be.swap16();
    expect(expectInvalid(parse(le), 'MALFORMED_XML').message).toMatch(
      /declares encoding "UTF-8" but starts with a UTF-16LE byte-order mark/,
    );
    expect(expectInvalid(parse(be), 'MALFORMED_XML').message).toMatch(
      /declares encoding "UTF-8" but starts with a UTF-16BE byte-order mark/,
    );
    expect(
      expectItem(parse(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(workItemXml().replace('UTF-8', 'UTF-16'), 'utf16le')])))
        .externalId,
    ).toBe('CASE-1');
  });

  it('rejects UTF-16 without a BOM', () => {
    const le = Buffer.from(workItemXml(), 'utf16le');
    const be = Buffer.from(le);
    be.swap16();
    expect(expectInvalid(parse(le), 'MALFORMED_XML').message).toMatch(/UTF-16/);
    expect(expectInvalid(parse(be), 'MALFORMED_XML').message).toMatch(/UTF-16/);
  });

  it('accepts (and strips) a UTF-8 BOM', () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(workItemXml())]);
    expect(expectItem(parse(body)).externalId).toBe('CASE-1');
  });

  it('rejects NUL bytes', () => {
    const xml = workItemXml({ subject: 'a\u0000b' });
    expect(expectInvalid(parse(xml), 'MALFORMED_XML').message).toMatch(/NUL/);
  });

  it.each(['\u0001', '\u0008', '\u000B', '\u000C', '\u001F', '\uFFFE'])('rejects the XML-illegal character %j', (ch) => {
    expectInvalid(parse(workItemXml({ subject: `a${ch}b` })), 'MALFORMED_XML');
  });

  it('rejects character references to XML-illegal characters', () => {
    expectInvalid(parse(workItemXml({ subject: 'a&#1;b' })), 'MALFORMED_XML');
    expectInvalid(parse(workItemXml({ subject: 'a&#x0;b' })), 'MALFORMED_XML');
  });

  it('rejects a declared encoding that is not supported, accepts the supported ones', () => {
    const sjis = workItemXml().replace('encoding="UTF-8"', "encoding='Shift_JIS'");
    expect(expectInvalid(parse(sjis), 'MALFORMED_XML').message).toMatch(/encoding "Shift_JIS" is not supported/);
    expect(expectItem(parse(workItemXml().replace('encoding="UTF-8"', "encoding='ISO-8859-1'"))).externalId).toBe('CASE-1');
    expect(expectItem(parse(workItemXml().replace('UTF-8', 'utf-8'))).externalId).toBe('CASE-1');
    expect(expectItem(parse(workItemXml().replace(' encoding="UTF-8"', ''))).externalId).toBe('CASE-1');
  });

  it('rejects malformed XML', () => {
    expectInvalid(parse('<workItem version="1"><subject>x</workItem>'), 'MALFORMED_XML');
    expectInvalid(parse('<workItem version="1">'), 'MALFORMED_XML');
    expectInvalid(parse('<workItem version=1></workItem>'), 'MALFORMED_XML');
    expectInvalid(parse('just text'), 'MALFORMED_XML');
    expectInvalid(parse(workItemXml({ subject: 'a &nbsp; b' })), 'MALFORMED_XML');
    expectInvalid(parse(workItemXml({ subject: 'a & b' })), 'MALFORMED_XML');
  });

  it('rejects content after the root element', () => {
    expectInvalid(parse(`${workItemXml()}<workItem version="1"/>`), 'MALFORMED_XML');
    expectInvalid(parse(`${workItemXml()}trailing`), 'MALFORMED_XML');
  });

  it('rejects duplicate attributes (sax would silently keep the first)', () => {
    expectInvalid(parse(workItemXml({}, { rootAttributes: 'version="1" version="2"' })), 'MALFORMED_XML', '/workItem/@version');
  });
});

describe('parseMessage: forbidden XML (DOCTYPE, entities, processing instructions)', () => {
  it('rejects an XXE external entity', () => {
    expectInvalid(parse(fixture('xxe-external-entity.xml')), 'FORBIDDEN_XML');
  });

  it('rejects a parameter entity', () => {
    expectInvalid(parse(fixture('xxe-parameter-entity.xml')), 'FORBIDDEN_XML');
  });

  it('rejects billion laughs quickly', () => {
    expectInvalid(
      timed(() => parse(fixture('billion-laughs.xml'))),
      'FORBIDDEN_XML',
    );
  });

  it('rejects DOCTYPE and ENTITY in any letter case, anywhere outside CDATA and comments', () => {
    expectInvalid(parse('<!doctype workItem><workItem version="1"/>'), 'FORBIDDEN_XML');
    expectInvalid(parse(workItemXml({}, { extra: '<!ENTITY x "y">' })), 'FORBIDDEN_XML');
  });

  it('rejects processing instructions other than the leading XML declaration', () => {
    expectInvalid(parse(fixture('processing-instruction.xml')), 'FORBIDDEN_XML');
    expectInvalid(parse(workItemXml({ subject: 'x<?php echo 1; ?>' })), 'FORBIDDEN_XML');
  });

  it('rejects a misplaced XML declaration as MALFORMED_XML', () => {
    expectInvalid(parse(`\n${workItemXml()}`), 'MALFORMED_XML');
  });

  it('treats DOCTYPE, PI and markup inside CDATA and comments as text (CDATA counts as text)', () => {
    const item = expectItem(parse(fixture('cdata-body.xml')));
    expect(item.externalId).toBe('CASE-<7>');
    expect(item.subject).toBe('Tags & entities: <b> "q" \'a\' \u263A A');
    expect(item.body).toBe('<!DOCTYPE html><html><?php echo 1; ?> & <b>bold</b></html>');
    expect(item.taskType).toBe('html-mail');
  });
});

describe('parseMessage: size and depth limits', () => {
  it('rejects 10 000-deep nesting with TOO_DEEP at the first level too deep', () => {
    const deep = `<workItem version="1">${'<a>'.repeat(10_000)}${'</a>'.repeat(10_000)}</workItem>`;
    const error = expectInvalid(
      timed(() => parse(deep)),
      'TOO_DEEP',
    );
    expect(error.path).toBe('/workItem/a/a/a/a/a/a/a/a'); // maxDepth 8 by default
  });

  it('accepts nesting up to maxDepth', () => {
    const opts = withLimits({ maxDepth: 3 });
    expect(expectItem(parse(workItemXml({ customer: '<name>A</name>' }), opts)).customer).toEqual({ name: 'A' });
    expectInvalid(parse(workItemXml({ customer: '<name><x/></name>' }), opts), 'TOO_DEEP', '/workItem/customer/name/x');
  });

  it('rejects 100 000 children with TOO_LARGE', () => {
    const many = workItemXml({ contactData: '<item key="WorkItemTask">t</item>' + '<item key="k">v</item>'.repeat(100_000) });
    expect(
      expectInvalid(
        timed(() => parse(many)),
        'TOO_LARGE',
      ).message,
    ).toMatch(/more than 500 elements/);
  });

  it('rejects 100 000 attributes with TOO_LARGE', () => {
    const attrs = Array.from({ length: 100_000 }, (_, i) => `a${i}="v"`).join(' ');
    const error = expectInvalid(
      timed(() => parse(`<workItem version="1" ${attrs}/>`)),
      'TOO_LARGE',
      '/workItem',
    );
    expect(error.message).toMatch(/more than 16 attributes/);
  });

  it('rejects a 1 MiB attribute value with TOO_LARGE', () => {
    const xml = workItemXml({}, { extra: `<social platform="facebook" pageId="${'9'.repeat(1024 * 1024)}"/>` });
    expectInvalid(
      timed(() => parse(xml)),
      'TOO_LARGE',
      '/workItem/social/@pageId',
    );
  });

  it('bounds attribute values by maxAttributeChars', () => {
    const opts = withLimits({ maxAttributeChars: 10 });
    expectInvalid(parse(workItemXml({}, { rootAttributes: 'version="1          x"' }), opts), 'TOO_LARGE', '/workItem/@version');
  });

  it('rejects text longer than maxTextChars with TOO_LARGE', () => {
    const opts = withLimits({ maxTextChars: 100 });
    expectInvalid(parse(workItemXml({ body: 'b'.repeat(101) }), opts), 'TOO_LARGE', '/workItem/body');
    expectInvalid(
      parse(workItemXml({ body: `<![CDATA[${'b'.repeat(60)}]]><![CDATA[${'b'.repeat(60)}]]>` }), opts),
      'TOO_LARGE',
      '/workItem/body',
    );
    expect(expectItem(parse(workItemXml({ body: 'b'.repeat(100) }), opts)).body).toHaveLength(100);
  });

  it('bounds element and attribute names, and quotes sender values briefly in messages', () => {
    expectInvalid(parse(workItemXml({ ['n'.repeat(101)]: 'x' })), 'TOO_LARGE', '/workItem');
    expectInvalid(parse(workItemXml({}, { rootAttributes: `version="1" ${'a'.repeat(101)}="x"` })), 'TOO_LARGE', '/workItem');
    const error = expectInvalid(parse(workItemXml({ entrance: 'e'.repeat(10_000) })), 'UNKNOWN_ENTRANCE');
    expect(error.message.length).toBeLessThan(200);
  });

  it('echoes externalId and source read before the limit was hit', () => {
    const result = parse(workItemXml({ body: 'b'.repeat(200) }), withLimits({ maxTextChars: 100 }));
    expect(result).toMatchObject({ kind: 'invalid', externalId: 'CASE-1', source: 'bank-support' });
  });
});

describe('parseMessage: names (prototype safety, namespaces)', () => {
  it.each(['__proto__', 'constructor', 'prototype'])('rejects the element name %s as a reserved name', (name) => {
    const error = expectInvalid(parse(workItemXml({ [name]: 'x' })), 'INVALID_FIELD', `/workItem/${name}`);
    expect(error.message).toMatch(/reserved name/);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it.each(['__proto__', 'constructor', 'prototype'])('rejects the attribute name %s as a reserved name', (name) => {
    const error = expectInvalid(
      parse(workItemXml({}, { rootAttributes: `version="1" ${name}="x"` })),
      'INVALID_FIELD',
      `/workItem/@${name}`,
    );
    expect(error.message).toMatch(/reserved name/);
  });

  it('rejects a reserved root element name', () => {
    expectInvalid(parse('<__proto__><polluted>1</polluted></__proto__>'), 'INVALID_FIELD', '/__proto__');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('rejects other Object.prototype member names that would trip up sax or xml2js', () => {
    expectInvalid(
      parse(workItemXml({}, { rootAttributes: 'version="1" hasOwnProperty="x" b="c"' })),
      'INVALID_FIELD',
      '/workItem/@hasOwnProperty',
    );
    expectInvalid(parse(workItemXml({ toString: 'x' })), 'INVALID_FIELD', '/workItem/toString');
  });

  it('keeps __proto__, constructor and prototype contact-data keys as plain data', () => {
    const item = expectItem(parse(fixture('contact-data-proto.xml')));
    const data = item.contactData;
    expect(Object.getPrototypeOf(data)).toBeNull();
    expect(Object.keys(data)).toEqual(['WorkItemTask', '__proto__', 'constructor', 'prototype', 'hasOwnProperty']);
    expect(data['__proto__']).toBe('{"polluted":true}');
    expect(JSON.parse(JSON.stringify(data))).toEqual({
      WorkItemTask: 'proto-check',
      ['__proto__']: '{"polluted":true}',
      constructor: 'ctor',
      prototype: 'proto',
      hasOwnProperty: 'own',
    });
    expect(JSON.stringify(data)).toContain('"__proto__":"{\\"polluted\\":true}"');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
    expect(typeof ({} as { constructor: unknown }).constructor).toBe('function');
  });

  it('uses a contact-data key "__proto__" as the task key without confusion', () => {
    const xml = workItemXml({ contactData: '<item key="__proto__">proto-task</item>' });
    expect(expectItem(parse(xml, { ...OPTS, taskKey: '__proto__' })).taskType).toBe('proto-task');
    expectInvalid(parse(workItemXml({ contactData: '<item key="x">y</item>' }), { ...OPTS, taskKey: '__proto__' }), 'NOT_A_WORKITEM');
  });

  it('rejects namespaced elements and attributes', () => {
    expectInvalid(parse('<wi:workItem xmlns:wi="urn:x" version="1"/>'), 'INVALID_FIELD', '/wi:workItem');
    expectInvalid(parse(workItemXml({}, { rootAttributes: 'version="1" xmlns="urn:workitem"' })), 'INVALID_FIELD', '/workItem/@xmlns');
    expectInvalid(parse(workItemXml({}, { rootAttributes: 'version="1" xml:lang="sv"' })), 'INVALID_FIELD', '/workItem/@xml:lang');
    expectInvalid(parse(workItemXml({ 'x:subject': 'a' })), 'INVALID_FIELD', '/workItem/x:subject');
  });
});

describe('parseMessage: error boundary', () => {
  it('turns an unexpected exception into MALFORMED_XML instead of throwing', () => {
    const broken = { ...OPTS, entrances: undefined as unknown as ReadonlySet<string> };
    expectInvalid(parseMessage(Buffer.from(workItemXml()), broken), 'MALFORMED_XML', '/');
  });

  it('never throws on mutated versions of a valid message', () => {
    const original = readFileSync(path.join(examplesDir(), 'voicemail-with-audio.xml'));
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff; // deterministic, so a failure can be replayed
      return seed % n;
    };
    const kinds = new Set<string>();
    for (let round = 0; round < 2000; round++) {
      const body = Buffer.from(original);
      for (let flips = 1 + random(3); flips > 0; flips--) body[random(body.length)] = random(256);
      const result = parseMessage(body, OPTS);
      kinds.add(result.kind === 'invalid' ? result.error.code : result.kind);
    }
    expect(kinds.has('MALFORMED_XML')).toBe(true);
  });
});

describe('parseMessage: hostile 1.1 elements (updateWorkItem, expiresAt, activateAt)', () => {
  const update = (inner: string, attrs = 'version="1"'): string =>
    `<updateWorkItem ${attrs}><externalId>CASE-1</externalId><source>bank-support</source>${inner}</updateWorkItem>`;

  it('a huge revision (digits up to the attribute limit, exponent, sign tricks) → INVALID_FIELD quickly, never rounded', () => {
    for (const revision of [
      '9'.repeat(4000),
      '9007199254740992', // 2^53: would round to an equal neighbour
      '18446744073709551616',
      '1e308',
      'Infinity',
      'NaN',
      '0x1F',
      '-0',
      '+-1',
      '１２', // full-width digits
      '1\u00005',
    ]) {
      const r = timed(() => parse(update('<priority>8</priority>', `version="1" revision="${revision.replace('\u0000', '&#0;')}"`)));
      expect(r.kind).toBe('invalid');
      if (r.kind === 'invalid') expect(['INVALID_FIELD', 'MALFORMED_XML']).toContain(r.error.code);
    }
    expectInvalid(
      timed(() => parse(update('<priority>8</priority>', `version="1" revision="${'1'.repeat(5000)}"`))),
      'TOO_LARGE',
    );
    expect(parse(update('<priority>8</priority>', `version="1" revision="${'0'.repeat(3000)}7"`))).toMatchObject({
      kind: 'update',
      update: { revision: 7 },
    });
  });

  it('dates far away or malformed in expiresAt and activateAt → INVALID_FIELD, never a wrapped date', () => {
    for (const date of [
      '9999-12-31T23:59:59Z',
      '275760-09-13T00:00:00Z',
      '-271821-04-20T00:00:00Z',
      '0000-00-00T00:00:00Z',
      '2026-12-01T08:00:00+99:99',
      `2026-12-01T08:00:00.${'1'.repeat(60_000)}Z`,
    ]) {
      for (const name of ['expiresAt', 'activateAt']) {
        const r = timed(() => parse(workItemXml({ [name]: date })));
        expect(r.kind).toBe('invalid');
        if (r.kind === 'invalid') expect(['INVALID_FIELD', 'TOO_LARGE']).toContain(r.error.code);
      }
      const r = timed(() => parse(update(`<expiresAt>${date}</expiresAt>`)));
      expect(r.kind).toBe('invalid');
    }
  });

  it('an update with 100 000 contact-data items, or repeated fields, is stopped by the limits', () => {
    const items = '<item key="k">v</item>'.repeat(100_000);
    expectInvalid(
      timed(() => parse(update(`<contactData>${items}</contactData>`))),
      'TOO_LARGE',
    );
    expectInvalid(parse(update('<priority>1</priority><priority>2</priority>')), 'INVALID_FIELD', '/updateWorkItem/priority[2]');
    expectInvalid(parse(update('<__proto__>1</__proto__>')), 'INVALID_FIELD', '/updateWorkItem/__proto__');
    expectInvalid(parse(update('<priority>8</priority>', 'version="1" revision="1" revision="2"')), 'MALFORMED_XML');
  });
});
