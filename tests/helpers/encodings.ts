import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { workItemXml, type WorkItemFields } from './work-items';

/**
 * Work items written in the encodings of INTERFACE.md 1.1 ("Encodings"), built from a UTF-8 template with Node's own
 * encoders (never with the service's decoder), and the fixture files in tests/fixtures/xml/encodings made from them.
 */
export type BodyEncoding =
  'UTF-8' | 'UTF-8-BOM' | 'UTF-16LE-BOM' | 'UTF-16BE-BOM' | 'UTF-16LE' | 'UTF-16BE' | 'ISO-8859-1' | 'windows-1252' | 'US-ASCII';

/** windows-1252's 0x80–0x9F (the rest is ISO-8859-1); 0x81, 0x8D, 0x8F, 0x90 and 0x9D are undefined. */
const CP1252_HIGH = '€\u0000‚ƒ„…†‡ˆ‰Š‹Œ\u0000Ž\u0000\u0000‘’“”•–—˜™š›œ\u0000žŸ';

/** `text` as bytes of `as`; throws for a character the encoding has no byte for. */
export function encode(text: string, as: BodyEncoding): Buffer {
  switch (as) {
    case 'UTF-8':
      return Buffer.from(text, 'utf8');
    case 'UTF-8-BOM':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
    case 'UTF-16LE':
      return Buffer.from(text, 'utf16le');
    case 'UTF-16BE':
      return Buffer.from(text, 'utf16le').swap16();
    case 'UTF-16LE-BOM':
      return encode(`\uFEFF${text}`, 'UTF-16LE');
    case 'UTF-16BE-BOM':
      return encode(`\uFEFF${text}`, 'UTF-16BE');
    case 'ISO-8859-1':
    case 'US-ASCII':
    case 'windows-1252':
      return Buffer.from(Array.from(text, (ch) => singleByte(ch, as)));
  }
}

function singleByte(ch: string, as: 'ISO-8859-1' | 'US-ASCII' | 'windows-1252'): number {
  const cp = ch.codePointAt(0) ?? 0;
  const max = as === 'US-ASCII' ? 0x7f : 0xff;
  if (as === 'windows-1252') {
    const high = CP1252_HIGH.indexOf(ch);
    if (high !== -1 && ch !== '\u0000') return 0x80 + high;
    if (cp >= 0x80 && cp <= 0x9f) throw new Error(`U+${cp.toString(16)} has no byte in windows-1252`);
  }
  if (cp > max) throw new Error(`${JSON.stringify(ch)} has no byte in ${as}`);
  return cp;
}

/** The name the declaration carries for a body encoding (null: no encoding declaration). */
export function declaredName(as: BodyEncoding): string | null {
  return {
    'UTF-8': 'UTF-8',
    'UTF-8-BOM': 'UTF-8',
    'UTF-16LE-BOM': 'UTF-16',
    'UTF-16BE-BOM': 'UTF-16',
    'UTF-16LE': 'UTF-16LE',
    'UTF-16BE': 'UTF-16BE',
    'ISO-8859-1': 'ISO-8859-1',
    'windows-1252': 'windows-1252',
    'US-ASCII': 'US-ASCII',
  }[as];
}

/** `xml` (which starts with `<?xml version="1.0" encoding="UTF-8"?>`) with another declared encoding, or none. */
export function withDeclaredEncoding(xml: string, name: string | null): string {
  const declaration = '<?xml version="1.0" encoding="UTF-8"?>';
  if (!xml.startsWith(declaration)) throw new Error('expected the template declaration');
  return (name === null ? '<?xml version="1.0"?>' : `<?xml version="1.0" encoding="${name}"?>`) + xml.slice(declaration.length);
}

/** The UTF-8 template written as `as`, declaring `declared` (default: the encoding's own name). */
export function encodeItem(utf8Xml: string, as: BodyEncoding, declared: string | null = declaredName(as)): Buffer {
  return encode(withDeclaredEncoding(utf8Xml, declared), as);
}

/** Text every encoding in a group can carry, so each fixture can be compared with its UTF-8 original. */
export const TEXTS = {
  unicode: {
    subject: 'Ünïcödé 日本語 😀 — “ok”',
    body: '𝄞 music, Ελληνικά, русский, עברית, ½ € ß',
    customer: { name: 'Łukasz Żółć', email: 'lukasz@example.com' },
    contactData: { Emoji: '👍🏽', CJK: '漢字', Accents: 'é ß ¤' },
  },
  latin1: {
    subject: 'Café: Straße, ¤ 5, Ä ½ ÿ',
    body: 'Grüße aus Köln, naïve façade, ±5 °C, ¿sí? « © »',
    customer: { name: 'Zoë Ødegård', email: 'zoe@example.com' },
    contactData: { City: 'Malmö', Note: '¤ £ ¥ µ' },
  },
  cp1252: {
    subject: 'Invoice €1 200 – “urgent”',
    body: '‘quoted’ … Šimon’s œuvre, Ÿ ™ † • „Hallo“ é',
    customer: { name: 'Renée Dupré', email: 'renee@example.com' },
    contactData: { Amount: '€ 99,50', Quote: '„Grüß Gott“' },
  },
  ascii: {
    subject: 'Plain ASCII, refs: CHARREFS',
    body: 'Only 7-bit bytes ~ ` ^ | { } [ ] \\',
    customer: { name: 'Ann Smith', email: 'ann@example.com' },
    contactData: { Plain: 'yes' },
  },
} satisfies Record<string, Partial<WorkItemFields>>;

/** Character references are how a US-ASCII message carries anything else. */
export const ASCII_CHAR_REFS = '&#xE9; &#x20AC; &#128512;';

/** A UTF-8 work item with one of the TEXTS (attachment included, to show base64 is untouched). */
export function textItem(text: keyof typeof TEXTS, externalId: string, extra: Partial<WorkItemFields> = {}): string {
  const xml = workItemXml({
    externalId,
    source: 'bank-support',
    entrance: 'loans',
    taskType: 'encoding-check',
    attachment: { fileName: 'note.txt', contentType: 'text/plain', data: Buffer.from('attachment bytes ü\n', 'utf8') },
    ...TEXTS[text],
    ...extra,
  });
  return text === 'ascii' ? xml.replace('CHARREFS', ASCII_CHAR_REFS) : xml;
}

export interface EncodingFixture {
  file: string;
  build: () => Buffer;
}

const ID = 'ENC-1';
/** Where the fixture files live; `UPDATE_ENCODING_FIXTURES=1 npx jest tests/unit/xml/parse-message.encodings` rewrites them. */
export const ENCODING_FIXTURES_DIR = path.resolve(__dirname, '../fixtures/xml/encodings');

/** Accepted: each is the UTF-8 original `textItem(text, 'ENC-1')` in another encoding. */
export const GOOD_FIXTURES: (EncodingFixture & { text: keyof typeof TEXTS; as: BodyEncoding })[] = (
  [
    ['utf-8.xml', 'unicode', 'UTF-8'],
    ['utf-8-bom.xml', 'unicode', 'UTF-8-BOM'],
    ['utf-16le-bom.xml', 'unicode', 'UTF-16LE-BOM'],
    ['utf-16be-bom.xml', 'unicode', 'UTF-16BE-BOM'],
    ['utf-16le-declared.xml', 'unicode', 'UTF-16LE'],
    ['utf-16be-declared.xml', 'unicode', 'UTF-16BE'],
    ['iso-8859-1.xml', 'latin1', 'ISO-8859-1'],
    ['windows-1252.xml', 'cp1252', 'windows-1252'],
    ['us-ascii.xml', 'ascii', 'US-ASCII'],
  ] as const
).map(([file, text, as]) => ({ file, text, as, build: () => encodeItem(textItem(text, ID), as) }));

/** Ascii letters, digits and the XML punctuation in EBCDIC (IBM037), enough for a declaration. */
function ebcdic(text: string): Buffer {
  const table: Record<string, number> = {
    ' ': 0x40,
    '<': 0x4c,
    '?': 0x6f,
    '>': 0x6e,
    '=': 0x7e,
    '"': 0x7f,
    '.': 0x4b,
    '/': 0x61,
    '-': 0x60,
    '\n': 0x25,
  };
  return Buffer.from(
    Array.from(text, (ch) => {
      if (ch in table) return table[ch];
      const c = ch.charCodeAt(0);
      const letter = (base: number, from: string): number => {
        const i = c - from.charCodeAt(0);
        return base + i + (i >= 9 ? 7 : 0) + (i >= 18 ? 8 : 0);
      };
      if (ch >= 'a' && ch <= 'z') return letter(0x81, 'a');
      if (ch >= 'A' && ch <= 'Z') return letter(0xc1, 'A');
      if (ch >= '0' && ch <= '9') return 0xf0 + c - 0x30;
      throw new Error(`no EBCDIC byte for ${ch}`);
    }),
  );
}

const DOCTYPE = '<!DOCTYPE workItem [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>\n';

function withDoctype(xml: string): string {
  const end = xml.indexOf('?>') + 2;
  return `${xml.slice(0, end)}\n${DOCTYPE}${xml.slice(end + 1).replace('<subject>', '<subject>&lol2;')}`;
}

/** Refused with MALFORMED_XML (FORBIDDEN_XML for the DOCTYPE ones), each message matching `message`. */
export const BAD_FIXTURES: (EncodingFixture & { code: 'MALFORMED_XML' | 'FORBIDDEN_XML'; message: RegExp })[] = [
  {
    file: 'bad-utf16le-bom-declares-utf8.xml',
    code: 'MALFORMED_XML',
    message: /declares encoding "UTF-8" but starts with a UTF-16LE byte-order mark/,
    build: () => encodeItem(textItem('unicode', ID), 'UTF-16LE-BOM', 'UTF-8'),
  },
  {
    file: 'bad-utf8-bom-declares-latin1.xml',
    code: 'MALFORMED_XML',
    message: /declares encoding "ISO-8859-1" but starts with a UTF-8 byte-order mark/,
    build: () => encodeItem(textItem('latin1', ID), 'UTF-8-BOM', 'ISO-8859-1'),
  },
  {
    file: 'bad-utf16-without-bom.xml',
    code: 'MALFORMED_XML',
    message: /encoding "UTF-16" needs a byte-order mark/,
    build: () => encodeItem(textItem('unicode', ID), 'UTF-16LE', 'UTF-16'),
  },
  {
    file: 'bad-utf16-odd-length.xml',
    code: 'MALFORMED_XML',
    message: /not valid UTF-16LE: an odd number of bytes/,
    build: () => Buffer.concat([encodeItem(textItem('unicode', ID), 'UTF-16LE-BOM'), Buffer.from([0x0a])]),
  },
  {
    file: 'bad-utf16-lone-surrogate.xml',
    code: 'MALFORMED_XML',
    message: /not valid UTF-16BE: unpaired surrogate U\+D83D at byte \d+/,
    build: () => encodeItem(textItem('unicode', ID, { subject: 'half \uD83D emoji' }), 'UTF-16BE-BOM'),
  },
  {
    file: 'bad-latin1-with-cp1252-bytes.xml',
    code: 'MALFORMED_XML',
    message: /not valid ISO-8859-1: byte 0x80 at byte \d+ is a C1 control code.*windows-1252/,
    build: () => encodeItem(textItem('cp1252', ID), 'windows-1252', 'ISO-8859-1'),
  },
  {
    file: 'bad-ascii-with-cp1252-bytes.xml',
    code: 'MALFORMED_XML',
    message: /not valid US-ASCII: byte 0x80 at byte \d+/,
    build: () => encodeItem(textItem('cp1252', ID), 'windows-1252', 'US-ASCII'),
  },
  {
    file: 'bad-cp1252-undefined-byte.xml',
    code: 'MALFORMED_XML',
    message: /not valid windows-1252: byte 0x81 at byte \d+ is not defined in windows-1252/,
    build: () => {
      const body = encodeItem(textItem('cp1252', ID, { subject: 'undefined XX byte' }), 'windows-1252');
      body[body.indexOf('XX')] = 0x81;
      return body;
    },
  },
  {
    file: 'bad-utf8-invalid-bytes.xml',
    code: 'MALFORMED_XML',
    message: /not valid UTF-8: invalid byte sequence at byte \d+/,
    build: () => encodeItem(textItem('latin1', ID), 'ISO-8859-1', 'UTF-8'),
  },
  {
    file: 'bad-shift-jis.xml',
    code: 'MALFORMED_XML',
    message: /^encoding "Shift_JIS" is not supported \(UTF-8, UTF-16, ISO-8859-1, windows-1252, US-ASCII\)$/,
    build: () => encodeItem(textItem('ascii', ID), 'US-ASCII', 'Shift_JIS'),
  },
  {
    file: 'bad-utf32-bom.xml',
    code: 'MALFORMED_XML',
    message: /encoding "UTF-32" is not supported \(.*\); the message starts with a UTF-32 byte-order mark/,
    build: () => {
      const chars = Array.from(`\uFEFF${withDeclaredEncoding(textItem('ascii', ID), 'UTF-32')}`);
      const body = Buffer.alloc(4 * chars.length);
      chars.forEach((ch, i) => body.writeUInt32LE(ch.codePointAt(0) ?? 0, 4 * i));
      return body;
    },
  },
  {
    file: 'bad-ebcdic.xml',
    code: 'MALFORMED_XML',
    message: /encoding "EBCDIC" is not supported/,
    build: () => ebcdic('<?xml version="1.0" encoding="IBM037"?>\n<workItem version="1"/>\n'),
  },
  {
    file: 'bad-two-encodings.xml',
    code: 'MALFORMED_XML',
    message: /names its encoding more than once/,
    build: () => encodeItem(textItem('latin1', ID), 'ISO-8859-1', 'UTF-8" encoding="ISO-8859-1'),
  },
  {
    file: 'bad-utf16le-bom-doctype.xml',
    code: 'FORBIDDEN_XML',
    message: /DOCTYPE declarations are not accepted/,
    build: () => encodeItem(withDoctype(textItem('unicode', ID)), 'UTF-16LE-BOM'),
  },
  {
    file: 'bad-utf16be-doctype.xml',
    code: 'FORBIDDEN_XML',
    message: /DOCTYPE declarations are not accepted/,
    build: () => encodeItem(withDoctype(textItem('unicode', ID)), 'UTF-16BE'),
  },
  {
    file: 'bad-latin1-doctype.xml',
    code: 'FORBIDDEN_XML',
    message: /DOCTYPE declarations are not accepted/,
    build: () => encodeItem(withDoctype(textItem('latin1', ID)), 'ISO-8859-1'),
  },
];

/** A fixture file's bytes; with UPDATE_ENCODING_FIXTURES=1, (re)written from its builder first. */
export function encodingFixture(f: EncodingFixture): Buffer {
  const file = path.join(ENCODING_FIXTURES_DIR, f.file);
  if (process.env.UPDATE_ENCODING_FIXTURES === '1') writeFileSync(file, f.build());
  return readFileSync(file);
}
