import {
  BAD_FIXTURES,
  GOOD_FIXTURES,
  TEXTS,
  encode,
  encodeItem,
  encodingFixture,
  textItem,
  withDeclaredEncoding,
  type BodyEncoding,
} from '../../helpers/encodings';
import { ParsedMessage } from '../../../src/domain/work-item';
import { expectInvalid, expectItem, parse, withLimits } from './xml-test-helpers';

/**
 * Issue 16, INTERFACE.md 1.1 "Encodings": UTF-8 (default), UTF-16 (LE/BE, BOM), ISO-8859-1, windows-1252 and
 * US-ASCII are decoded as declared; anything else, or bytes that contradict the declaration, is MALFORMED_XML
 * naming the encoding. The fixtures (tests/fixtures/xml/encodings) come from tests/helpers/encodings.ts.
 */
const utf8Original = (text: keyof typeof TEXTS, externalId = 'ENC-1'): ParsedMessage => parse(textItem(text, externalId));

function timed(fn: () => ParsedMessage): ParsedMessage {
  const start = process.hrtime.bigint();
  const result = fn();
  expect(Number(process.hrtime.bigint() - start) / 1e6).toBeLessThan(5_000); // a quadratic path, not a slow box
  return result;
}

describe('parseMessage: accepted encodings', () => {
  it.each(GOOD_FIXTURES.map((f) => [f.file, f] as const))('%s yields exactly the work item of its UTF-8 original', (_, f) => {
    const bytes = encodingFixture(f);
    expect(bytes.equals(f.build())).toBe(true); // the file is what the builder makes (UPDATE_ENCODING_FIXTURES=1 rewrites)
    const item = expectItem(parse(bytes));
    expect(item).toEqual(expectItem(utf8Original(f.text)));
    const text = TEXTS[f.text];
    expect(item.subject).toBe(f.text === 'ascii' ? 'Plain ASCII, refs: é € 😀' : text.subject);
    expect(item.body).toBe(text.body);
    expect(item.customer?.name).toBe(text.customer.name);
    for (const [key, value] of Object.entries(text.contactData)) expect(item.contactData[key]).toBe(value);
    expect(item.attachment?.data.toString('utf8')).toBe('attachment bytes ü\n');
  });

  it('the fixtures really are in their encodings (no accidental UTF-8)', () => {
    const bytes = (file: string): Buffer => encodingFixture(GOOD_FIXTURES.find((f) => f.file === file)!);
    expect(bytes('utf-16le-bom.xml').subarray(0, 4)).toEqual(Buffer.from([0xff, 0xfe, 0x3c, 0x00]));
    expect(bytes('utf-16be-bom.xml').subarray(0, 4)).toEqual(Buffer.from([0xfe, 0xff, 0x00, 0x3c]));
    expect(bytes('utf-16le-declared.xml').subarray(0, 2)).toEqual(Buffer.from([0x3c, 0x00]));
    expect(bytes('iso-8859-1.xml').includes(Buffer.from('Caf\u00e9', 'latin1'))).toBe(true);
    expect(bytes('windows-1252.xml').includes(Buffer.from([0x80, 0x31]))).toBe(true); // "€1"
    expect(bytes('windows-1252.xml').includes(Buffer.from([0x93, 0x75]))).toBe(true); // "“u"
    expect(bytes('us-ascii.xml').every((b) => b < 0x80)).toBe(true);
  });

  it.each([
    ['UTF-8', ['utf-8', 'utf8', 'Utf-8']],
    ['ISO-8859-1', ['iso-8859-1', 'latin1', 'Latin1', 'ISO_8859-1', 'l1', 'ISO-IR-100', 'csISOLatin1']],
    ['windows-1252', ['Windows-1252', 'cp1252', 'CP1252']],
    ['US-ASCII', ['us-ascii', 'ASCII', 'ascii', 'ANSI_X3.4-1968', 'csASCII']],
  ] as const)('%s under its aliases, in any letter case', (as, names) => {
    const text = { 'UTF-8': 'unicode', 'ISO-8859-1': 'latin1', 'windows-1252': 'cp1252', 'US-ASCII': 'ascii' }[as] as keyof typeof TEXTS;
    const expected = expectItem(utf8Original(text));
    for (const name of names) expect(expectItem(parse(encodeItem(textItem(text, 'ENC-1'), as, name)))).toEqual(expected);
  });

  it.each([
    ['UTF-16LE-BOM', ['UTF-16', 'utf-16', 'UTF-16LE', 'utf16le', null]],
    ['UTF-16BE-BOM', ['UTF-16', 'UTF-16BE', 'utf-16be', null]],
    ['UTF-16LE', ['UTF-16LE', 'utf-16le']],
    ['UTF-16BE', ['UTF-16BE', 'UTF16BE']],
  ] as const)('%s: a BOM with UTF-16 of its byte order (or no encoding at all); without a BOM the byte order named', (as, names) => {
    const expected = expectItem(utf8Original('unicode'));
    for (const name of names) expect(expectItem(parse(encodeItem(textItem('unicode', 'ENC-1'), as, name)))).toEqual(expected);
  });

  it('without a declaration or a BOM the body is UTF-8; a declaration without encoding too', () => {
    const expected = expectItem(utf8Original('unicode'));
    const xml = textItem('unicode', 'ENC-1');
    expect(expectItem(parse(xml.slice(xml.indexOf('?>') + 3)))).toEqual(expected);
    expect(expectItem(parse(withDeclaredEncoding(xml, null)))).toEqual(expected);
    expect(expectItem(parse(encode(xml.slice(xml.indexOf('?>') + 3), 'UTF-16LE-BOM')))).toEqual(expected); // BOM, no declaration
  });

  it('the declaration may use single quotes and spaces around "="', () => {
    const xml = textItem('latin1', 'ENC-1').replace('encoding="UTF-8"', "encoding = 'ISO-8859-1'");
    expect(expectItem(parse(encode(xml, 'ISO-8859-1')))).toEqual(expectItem(utf8Original('latin1')));
  });

  it('XML-illegal characters are refused in every encoding, raw or referenced', () => {
    for (const as of ['UTF-16LE-BOM', 'UTF-16BE', 'ISO-8859-1', 'windows-1252', 'US-ASCII'] as BodyEncoding[]) {
      const raw = textItem('ascii', 'ENC-1', { subject: 'a\u0001b' });
      expect(expectInvalid(parse(encodeItem(raw, as)), 'MALFORMED_XML').message).toMatch(/U\+0001/);
      const ref = textItem('ascii', 'ENC-1').replace(/Plain ASCII, refs: [^<]*/, 'a&#1;b');
      expectInvalid(parse(encodeItem(ref, as)), 'MALFORMED_XML');
    }
    const nul = encodeItem(textItem('unicode', 'ENC-1', { subject: 'a\u0000b' }), 'UTF-16LE-BOM');
    expect(expectInvalid(parse(nul), 'MALFORMED_XML').message).toMatch(/U\+0000/);
    const latinNul = encodeItem(textItem('latin1', 'ENC-1', { subject: 'a\u0000b' }), 'ISO-8859-1');
    expect(expectInvalid(parse(latinNul), 'MALFORMED_XML').message).toMatch(/NUL byte at byte \d+ \(encoding ISO-8859-1\)/);
  });
});

describe('parseMessage: refused encodings and contradictions', () => {
  it.each(BAD_FIXTURES.map((f) => [f.file, f] as const))('%s', (_, f) => {
    const bytes = encodingFixture(f);
    expect(bytes.equals(f.build())).toBe(true);
    const error = expectInvalid(parse(bytes), f.code, '/');
    expect(error.message).toMatch(f.message);
  });

  it.each(['EBCDIC-US', 'Shift_JIS', 'UTF-32', 'UTF-7', 'ISO-8859-15', 'GB18030', 'x-unknown'])(
    'declared %s → not supported, naming it',
    (name) => {
      const error = expectInvalid(parse(encodeItem(textItem('ascii', 'ENC-1'), 'US-ASCII', name)), 'MALFORMED_XML', '/');
      expect(error.message).toBe(`encoding "${name}" is not supported (UTF-8, UTF-16, ISO-8859-1, windows-1252, US-ASCII)`);
    },
  );

  it('an unsupported name written in UTF-16 is named too, and a hostile name is quoted and cut short', () => {
    const utf16 = encodeItem(textItem('unicode', 'ENC-1'), 'UTF-16LE-BOM', 'UTF-32');
    expect(expectInvalid(parse(utf16), 'MALFORMED_XML').message).toMatch(/^encoding "UTF-32" is not supported/);
    const error = expectInvalid(parse(encodeItem(textItem('ascii', 'ENC-1'), 'US-ASCII', `x${'A'.repeat(200)}`)), 'MALFORMED_XML');
    expect(error.message.length).toBeLessThan(200);
    expect(error.message).toContain('…');
  });

  it.each([
    [
      'UTF-16BE BOM declaring UTF-16LE',
      'UTF-16BE-BOM',
      'UTF-16LE',
      /declares encoding "UTF-16LE" but starts with a UTF-16BE byte-order mark/,
    ],
    [
      'UTF-16LE BOM declaring ISO-8859-1',
      'UTF-16LE-BOM',
      'ISO-8859-1',
      /declares encoding "ISO-8859-1" but starts with a UTF-16LE byte-order mark/,
    ],
    ['UTF-8 BOM declaring UTF-16', 'UTF-8-BOM', 'UTF-16', /declares encoding "UTF-16" but starts with a UTF-8 byte-order mark/],
    ['UTF-8 BOM declaring US-ASCII', 'UTF-8-BOM', 'US-ASCII', /declares encoding "US-ASCII" but starts with a UTF-8 byte-order mark/],
    ['UTF-8 bytes declaring UTF-16', 'UTF-8', 'UTF-16', /declares encoding "UTF-16" but is not UTF-16/],
    ['UTF-8 bytes declaring UTF-16BE', 'UTF-8', 'UTF-16BE', /declares encoding "UTF-16BE" but is not UTF-16/],
    ['UTF-16LE without a BOM declaring UTF-8', 'UTF-16LE', 'UTF-8', /declares encoding "UTF-8" but looks like UTF-16LE/],
    ['UTF-16BE without a BOM declaring UTF-16LE', 'UTF-16BE', 'UTF-16LE', /declares encoding "UTF-16LE" but looks like UTF-16BE/],
    ['UTF-16BE without a BOM declaring UTF-16', 'UTF-16BE', 'UTF-16', /encoding "UTF-16" needs a byte-order mark.*UTF-16LE.*UTF-16BE/],
    ['UTF-8 with é and ß declaring US-ASCII', 'UTF-8', 'US-ASCII', /not valid US-ASCII: byte 0xC3 at byte \d+/],
    [
      'UTF-8 declaring ISO-8859-1 (Ã and ©, fine) — but its C1 bytes are not',
      'UTF-8',
      'ISO-8859-1',
      /not valid ISO-8859-1: byte 0x[89][0-9A-F] at byte \d+ is a C1 control code/,
    ],
  ] as const)('%s → MALFORMED_XML', (_, as, declared, message) => {
    const text = as.startsWith('UTF-16') ? 'unicode' : 'latin1';
    const body = encodeItem(textItem(as === 'UTF-8' && declared === 'ISO-8859-1' ? 'unicode' : text, 'ENC-1'), as, declared);
    expect(expectInvalid(parse(body), 'MALFORMED_XML', '/').message).toMatch(message);
  });

  it('UTF-16 with neither a BOM nor a declaration is refused as such', () => {
    const xml = textItem('unicode', 'ENC-1');
    const bare = xml.slice(xml.indexOf('?>') + 3);
    expect(expectInvalid(parse(encode(bare, 'UTF-16LE')), 'MALFORMED_XML').message).toBe(
      'message looks like UTF-16LE without a byte-order mark or an encoding declaration; a message without either must be UTF-8',
    );
    expect(expectInvalid(parse(encode(bare, 'UTF-16BE')), 'MALFORMED_XML').message).toMatch(/looks like UTF-16BE/);
  });

  it('invalid UTF-8 names the byte, and says why when nothing was declared', () => {
    const body = Buffer.from(textItem('ascii', 'ENC-1', { subject: 'ZZ' }), 'utf8');
    const at = body.indexOf('ZZ');
    body[at] = 0xc3;
    expect(expectInvalid(parse(body), 'MALFORMED_XML').message).toBe(`message is not valid UTF-8: invalid byte sequence at byte ${at}`);
    const bare = body.subarray(body.indexOf('?>') + 3);
    expect(expectInvalid(parse(bare), 'MALFORMED_XML').message).toBe(
      `message is not valid UTF-8: invalid byte sequence at byte ${at - (body.length - bare.length)}; a message without an encoding declaration must be UTF-8`,
    );
    for (const bad of [
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xe2, 0x82],
    ]) {
      const b = Buffer.concat([body.subarray(0, at), Buffer.from(bad), body.subarray(at + 2)]);
      expect(expectInvalid(parse(b), 'MALFORMED_XML').message).toMatch(new RegExp(`invalid byte sequence at byte ${at}\\b`));
    }
  });

  it('a malformed declaration is refused before anything is decoded', () => {
    const item = textItem('ascii', 'ENC-1');
    expect(expectInvalid(parse(item.replace('encoding="UTF-8"', 'encoding=UTF-8')), 'MALFORMED_XML').message).toMatch(/not a quoted name/);
    expect(expectInvalid(parse(item.replace('encoding="UTF-8"', 'encoding="UTF-8\'')), 'MALFORMED_XML').message).toMatch(
      /not a quoted name/,
    );
    const long = item.replace('encoding="UTF-8"', `encoding="UTF-8"${' '.repeat(2000)}`);
    expect(expectInvalid(parse(long), 'MALFORMED_XML').message).toMatch(
      /declaration is not closed \(no "\?>" within its first 1024 characters\)/,
    );
  });

  it('a second, misplaced declaration cannot switch the encoding', () => {
    const xml = textItem('latin1', 'ENC-1');
    const second = xml.replace('<workItem', '<?xml version="1.0" encoding="ISO-8859-1"?><workItem');
    expect(expectInvalid(parse(encode(second, 'ISO-8859-1')), 'MALFORMED_XML').message).toMatch(/UTF-8/); // decoded as the first says
    expect(expectInvalid(parse(encode(second, 'UTF-8')), 'MALFORMED_XML').message).toMatch(/very start/);
  });
});

describe('parseMessage: limits and hostile input in other encodings', () => {
  it('maxMessageBytes counts bytes before decoding', () => {
    const body = encodeItem(textItem('unicode', 'ENC-1'), 'UTF-16LE-BOM');
    expectItem(parse(body, withLimits({ maxMessageBytes: body.length })));
    expect(expectInvalid(parse(body, withLimits({ maxMessageBytes: body.length - 1 })), 'TOO_LARGE').message).toBe(
      `message is ${body.length} bytes; the limit is ${body.length - 1}`,
    );
  });

  it.each(['UTF-16LE-BOM', 'UTF-16BE', 'ISO-8859-1', 'windows-1252'] as BodyEncoding[])('text limits count characters (%s)', (as) => {
    const opts = withLimits({ maxTextChars: 100 });
    const ch = as === 'windows-1252' ? '€' : 'é';
    expect(expectItem(parse(encodeItem(textItem('ascii', 'ENC-1', { body: ch.repeat(100) }), as), opts)).body).toBe(ch.repeat(100));
    expectInvalid(parse(encodeItem(textItem('ascii', 'ENC-1', { body: ch.repeat(101) }), as), opts), 'TOO_LARGE', '/workItem/body');
  });

  it('a huge body of nothing but byte-order marks is refused quickly', () => {
    const opts = withLimits({ maxMessageBytes: 8 * 1024 * 1024 });
    const utf16 = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < utf16.length; i += 2) utf16.writeUInt16LE(0xfeff, i);
    expect(
      expectInvalid(
        timed(() => parse(utf16, opts)),
        'MALFORMED_XML',
        '/',
      ).message,
    ).toBe('message is empty (only whitespace or byte-order marks)');
    const utf8 = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < utf8.length; i += 3) utf8.set([0xef, 0xbb, 0xbf], i);
    expectInvalid(
      timed(() => parse(utf8, opts)),
      'MALFORMED_XML',
      '/',
    );
    expectInvalid(
      timed(() => parse(Buffer.from([0xff, 0xfe]), opts)),
      'MALFORMED_XML',
      '/',
    );
    expectInvalid(
      timed(() => parse(Buffer.from([0xef, 0xbb, 0xbf]), opts)),
      'MALFORMED_XML',
      '/',
    );
    expectInvalid(parse(utf16, withLimits({ maxMessageBytes: 1024 })), 'TOO_LARGE');
  });

  it.each(['UTF-16LE-BOM', 'UTF-16BE-BOM', 'UTF-16LE', 'ISO-8859-1', 'windows-1252', 'US-ASCII'] as BodyEncoding[])(
    'DOCTYPE, entities and processing instructions stay forbidden in %s',
    (as) => {
      const item = textItem('ascii', 'ENC-1');
      const end = item.indexOf('?>') + 3;
      const doctype = `${item.slice(0, end)}<!DOCTYPE workItem SYSTEM "http://127.0.0.1:9/x.dtd">\n${item.slice(end)}`;
      expect(expectInvalid(parse(encodeItem(doctype, as)), 'FORBIDDEN_XML').message).toMatch(/DOCTYPE/);
      const laughs = `${item.slice(0, end)}<!DOCTYPE lolz [${Array.from({ length: 10 }, (_, i) => `<!ENTITY l${i + 1} "${`&l${i};`.repeat(10)}">`).join('')}]>\n${item.slice(end).replace('<subject>', '<subject>&l10;')}`;
      expectInvalid(
        timed(() => parse(encodeItem(laughs, as))),
        'FORBIDDEN_XML',
      );
      const pi = item.replace('<subject>', '<?php echo 1; ?><subject>');
      expect(expectInvalid(parse(encodeItem(pi, as)), 'FORBIDDEN_XML').message).toMatch(/processing instructions/);
      const entity = item.replace('</workItem>', '<!ENTITY x "y"></workItem>');
      expectInvalid(parse(encodeItem(entity, as)), 'FORBIDDEN_XML');
      // Quoted in CDATA it is data, as in UTF-8.
      const cdata = textItem('ascii', 'ENC-1', { body: 'BODY' }).replace('BODY', '<![CDATA[<!DOCTYPE html><?php ?>]]>');
      expect(expectItem(parse(encodeItem(cdata, as))).body).toBe('<!DOCTYPE html><?php ?>');
    },
  );

  it('a UTF-16 DOCTYPE is refused even where a byte scan for "<!DOCTYPE" would see nothing', () => {
    const item = textItem('unicode', 'ENC-1');
    const end = item.indexOf('?>') + 3;
    const body = encodeItem(`${item.slice(0, end)}<!DOCTYPE workItem>\n${item.slice(end)}`, 'UTF-16BE-BOM');
    expect(body.includes('<!DOCTYPE')).toBe(false);
    expect(body.includes('DOCTYPE')).toBe(false);
    expect(expectInvalid(parse(body), 'FORBIDDEN_XML').message).toBe('DOCTYPE declarations are not accepted');
  });
});

describe('parseMessage: the XML declaration itself', () => {
  const BODY =
    '<workItem version="1"><externalId>D-1</externalId><source>bank-support</source><entrance>loans</entrance>' +
    '<subject>s</subject><contactData><item key="WorkItemTask">t</item></contactData></workItem>';

  it.each([
    '<?xml version="1.0"?>',
    "<?xml version='1.1' encoding='UTF-8' standalone='yes'?>",
    '<?xml version="1.0" standalone="no" ?>',
    '<?xml\tversion = "1.0"\n encoding="utf-8"?>',
  ])('accepts %s', (decl) => {
    expect(expectItem(parse(`${decl}\n${BODY}`)).externalId).toBe('D-1');
  });

  it.each([
    ['without version', '<?xml encoding="UTF-8"?>'],
    ['with a misspelt version', '<?xml versoin="1.0"?>'],
    ['with version 2.0', '<?xml version="2.0"?>'],
    ['of garbage', '<?xml hello world?>'],
    ['in the wrong order', '<?xml encoding="UTF-8" version="1.0"?>'],
    ['with standalone="maybe"', '<?xml version="1.0" standalone="maybe"?>'],
    ['with an unknown attribute', '<?xml version="1.0" charset="UTF-8"?>'],
  ])('refuses a declaration %s as MALFORMED_XML', (_label, decl) => {
    expect(expectInvalid(parse(`${decl}\n${BODY}`), 'MALFORMED_XML').message).toMatch(/XML declaration/);
  });
});
