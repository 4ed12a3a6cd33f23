import { quote, reject } from './rejection';

/**
 * The character encodings a message may be written in (INTERFACE.md 1.1, "Encodings"), and how its bytes become
 * the text the parser sees. Detection follows XML 1.0 Appendix F: a byte-order mark, else the first bytes, then
 * the XML declaration's `encoding`. A message without either is UTF-8. Everything after this step works on the
 * decoded text, so DOCTYPE/entity/PI refusal and the character rules hold for every encoding alike.
 *
 * Decisions where XML 1.0 leaves room (README "Encodings"):
 * - UTF-16 needs a byte-order mark; without one the declaration must say UTF-16LE or UTF-16BE. A BOM may go with
 *   a declared UTF-16LE/UTF-16BE when its byte order agrees.
 * - ISO-8859-1 is decoded as itself (not as windows-1252, which WHATWG's "latin1" label means), and its bytes
 *   0x80–0x9F are refused: they are C1 control codes, which no ISO-8859-1 text carries; in practice they are
 *   windows-1252 text (€, “ ”) declared as ISO-8859-1, and decoding them as controls would silently corrupt it.
 * - windows-1252's five undefined bytes (0x81, 0x8D, 0x8F, 0x90, 0x9D) are refused for the same reason.
 * - Bytes that are invalid for the encoding are refused, never replaced (a U+FFFD would change the sender's data).
 */
export type Encoding = 'UTF-8' | 'UTF-16LE' | 'UTF-16BE' | 'ISO-8859-1' | 'windows-1252' | 'US-ASCII';

/** A declared name resolves to one of these; plain "UTF-16" takes its byte order from the BOM. */
type DeclaredEncoding = Encoding | 'UTF-16';

const SUPPORTED = 'UTF-8, UTF-16, ISO-8859-1, windows-1252, US-ASCII';

/** Lower-cased IANA names and aliases (https://www.iana.org/assignments/character-sets), plus common spellings. */
const ALIASES: ReadonlyMap<string, DeclaredEncoding> = new Map(
  Object.entries({
    'UTF-8': ['utf-8', 'utf8', 'csutf8'],
    'UTF-16': ['utf-16', 'utf16', 'csutf16'],
    'UTF-16LE': ['utf-16le', 'utf16le', 'csutf16le'],
    'UTF-16BE': ['utf-16be', 'utf16be', 'csutf16be'],
    'ISO-8859-1': ['iso-8859-1', 'iso8859-1', 'iso_8859-1', 'iso-ir-100', 'latin1', 'latin-1', 'l1', 'ibm819', 'cp819', 'csisolatin1'],
    'windows-1252': ['windows-1252', 'cp1252', 'x-cp1252', 'cswindows1252'],
    'US-ASCII': [
      'us-ascii',
      'ascii',
      'us',
      'iso646-us',
      'iso_646.irv:1991',
      'ansi_x3.4-1968',
      'ansi_x3.4-1986',
      'iso-ir-6',
      'ibm367',
      'cp367',
      'csascii',
    ],
  } satisfies Record<DeclaredEncoding, string[]>).flatMap(([name, aliases]) => aliases.map((a) => [a, name as DeclaredEncoding] as const)),
);

/** windows-1252 bytes 0x80–0x9F; the rest of it is ISO-8859-1. The five undefined bytes stand for themselves here. */
const CP1252_80_TO_9F =
  '\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\u008D\u017D\u008F' +
  '\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\u009D\u017E\u0178';

/** How the first bytes say the text is laid out, before the declaration is read. */
type Layout =
  | { kind: 'bytes' } // ASCII-compatible: UTF-8 or a single-byte encoding, told apart by the declaration
  | { kind: 'utf8-bom' }
  | { kind: 'utf16'; order: 'UTF-16LE' | 'UTF-16BE'; bom: boolean };

/** A declaration is short; reading only the head keeps a huge body from being scanned twice. */
const HEAD_CHARS = 1024;
const DECLARATION_START = /^<\?xml[ \t\r\n]/;
const XML_START = Buffer.from('<?xml');
const ENCODING_NAME = /(?:^|[ \t\r\n])encoding[ \t\r\n]*=/;
const ENCODING = /(?:^|[ \t\r\n])encoding[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|'([^']*)')/;

/** Decodes a message body to text, or throws a MALFORMED_XML Rejection that names the encoding. */
export function decodeBody(body: Buffer): string {
  const layout = detectLayout(body);
  const bomLength = layout.kind === 'utf8-bom' ? 3 : layout.kind === 'utf16' && layout.bom ? 2 : 0;
  const declared = declaredEncoding(body, layout, bomLength);
  const encoding = resolve(layout, declared);
  return decode(body, bomLength, encoding, declared === undefined);
}

function detectLayout(body: Buffer): Layout {
  const b0 = body[0];
  const b1 = body[1];
  const b2 = body[2];
  const b3 = body[3];
  if (b0 === 0xef && b1 === 0xbb && b2 === 0xbf) return { kind: 'utf8-bom' };
  if ((b0 === 0xff && b1 === 0xfe && b2 === 0 && b3 === 0) || (b0 === 0 && b1 === 0 && b2 === 0xfe && b3 === 0xff)) {
    unsupported('UTF-32', 'a UTF-32 byte-order mark');
  }
  if (b0 === 0xff && b1 === 0xfe) return { kind: 'utf16', order: 'UTF-16LE', bom: true };
  if (b0 === 0xfe && b1 === 0xff) return { kind: 'utf16', order: 'UTF-16BE', bom: true };
  if ((b0 === 0x3c && b1 === 0 && b2 === 0 && b3 === 0) || (b0 === 0 && b1 === 0 && b2 === 0 && b3 === 0x3c)) {
    unsupported('UTF-32', 'bytes that look like UTF-32');
  }
  if (b0 === 0x4c && b1 === 0x6f && b2 === 0xa7 && b3 === 0x94) unsupported('EBCDIC', 'an EBCDIC "<?xml"');
  // One NUL byte in the first pair, next to an ASCII character: UTF-16 without a byte-order mark.
  if (body.length >= 2 && (b0 === 0) !== (b1 === 0)) return { kind: 'utf16', order: b0 === 0 ? 'UTF-16BE' : 'UTF-16LE', bom: false };
  return { kind: 'bytes' };
}

interface Declared {
  /** As the sender wrote it, for messages. */
  name: string;
  encoding: DeclaredEncoding;
}

/**
 * XML 1.0 §2.8 XMLDecl after `<?xml` and its first space: VersionInfo EncodingDecl? SDDecl? S?, in that order.
 * The SAX parser does not check it, so without this a declaration of garbage would be accepted.
 */
const S = String.raw`[ \t\r\n]`;
const EQ = `${S}*=${S}*`;
const quoted = (value: string): string => `(?:"${value}"|'${value}')`;
const XML_DECLARATION_GRAMMAR = new RegExp(
  `^${S}*version${EQ}${quoted(String.raw`1\.[0-9]+`)}` +
    `(?:${S}+encoding${EQ}${quoted('[A-Za-z][A-Za-z0-9._-]*')})?` +
    `(?:${S}+standalone${EQ}${quoted('(?:yes|no)')})?${S}*$`,
);

function checkDeclarationGrammar(attributes: string): void {
  if (XML_DECLARATION_GRAMMAR.test(attributes)) return;
  reject(
    'MALFORMED_XML',
    'the XML declaration is not well-formed: expected <?xml version="1.0" encoding="…" standalone="yes|no"?> ' +
      '(version first and required, then the optional encoding, then the optional standalone)',
  );
}

function declaredEncoding(body: Buffer, layout: Layout, bomLength: number): Declared | undefined {
  const attributes = declarationAttributes(body, layout, bomLength);
  if (attributes === undefined) return undefined;
  const value = ENCODING.exec(attributes);
  if (!value) {
    if (ENCODING_NAME.test(attributes)) reject('MALFORMED_XML', 'the encoding in the XML declaration is not a quoted name');
    checkDeclarationGrammar(attributes);
    return undefined;
  }
  if (ENCODING_NAME.test(attributes.slice(value.index + value[0].length))) {
    reject('MALFORMED_XML', 'the XML declaration names its encoding more than once');
  }
  const name = value[1] ?? value[2] ?? '';
  const encoding = ALIASES.get(name.toLowerCase());
  if (!encoding) unsupported(name);
  checkDeclarationGrammar(attributes);
  return { name, encoding };
}

/**
 * What stands between `<?xml ` and `?>` when the text after the BOM starts with a declaration (a misplaced one is
 * refused later, as markup). The declaration is ASCII in every supported encoding, so bytes are read as latin1.
 */
function declarationAttributes(body: Buffer, layout: Layout, bomLength: number): string | undefined {
  if (layout.kind === 'utf16') {
    const end = Math.min(body.length, bomLength + 2 * HEAD_CHARS) & ~1;
    const head = Buffer.from(body.subarray(bomLength, Math.max(end, bomLength)));
    if (layout.order === 'UTF-16BE') head.swap16();
    const text = head.toString('utf16le');
    if (!DECLARATION_START.test(text)) return undefined;
    const close = text.indexOf('?>');
    return close === -1 ? unclosedDeclaration() : text.slice(6, close);
  }
  // The hot path (every UTF-8 item): byte compares instead of a string and a regular expression.
  for (let i = 0; i < XML_START.length; i++) if (body[bomLength + i] !== XML_START[i]) return undefined;
  const space = body[bomLength + XML_START.length];
  if (space !== 0x20 && space !== 0x09 && space !== 0x0d && space !== 0x0a) return undefined;
  const last = Math.min(body.length, bomLength + HEAD_CHARS) - 1;
  for (let i = bomLength + XML_START.length + 1; i < last; i++) {
    if (body[i] === 0x3f && body[i + 1] === 0x3e) return body.toString('latin1', bomLength + XML_START.length + 1, i);
  }
  return unclosedDeclaration();
}

function unclosedDeclaration(): never {
  return reject('MALFORMED_XML', `the XML declaration is not closed (no "?>" within its first ${HEAD_CHARS} characters)`);
}

function resolve(layout: Layout, declared: Declared | undefined): Encoding {
  const said = declared?.encoding;
  switch (layout.kind) {
    case 'utf8-bom':
      if (said !== undefined && said !== 'UTF-8') contradiction(declared, 'starts with a UTF-8 byte-order mark');
      return 'UTF-8';
    case 'utf16':
      if (layout.bom) {
        if (said === undefined || said === 'UTF-16' || said === layout.order) return layout.order;
        return contradiction(declared, `starts with a ${layout.order} byte-order mark`);
      }
      if (said === layout.order) return layout.order;
      if (said === 'UTF-16') {
        reject(
          'MALFORMED_XML',
          `encoding ${quote(declared?.name ?? '')} needs a byte-order mark (FF FE or FE FF); without one, declare "UTF-16LE" or "UTF-16BE"`,
        );
      }
      if (said === undefined) {
        reject(
          'MALFORMED_XML',
          `message looks like ${layout.order} without a byte-order mark or an encoding declaration; a message without either must be UTF-8`,
        );
      }
      return contradiction(declared, `looks like ${layout.order}`);
    case 'bytes':
      if (said === 'UTF-16' || said === 'UTF-16LE' || said === 'UTF-16BE') {
        contradiction(declared, 'is not UTF-16 (its declaration is written one byte per character)');
      }
      return said ?? 'UTF-8';
  }
}

function decode(body: Buffer, from: number, encoding: Encoding, defaulted: boolean): string {
  switch (encoding) {
    case 'UTF-8':
      rejectNulBytes(body, from, encoding);
      return decodeUtf8(body, from, defaulted);
    case 'UTF-16LE':
    case 'UTF-16BE':
      return decodeUtf16(body, from, encoding);
    case 'ISO-8859-1': {
      rejectNulBytes(body, from, encoding);
      const text = body.toString('latin1', from);
      const c1 = /[\x80-\x9f]/.exec(text);
      if (c1) {
        invalidByte(
          body,
          from + c1.index,
          encoding,
          'is a C1 control code, not a character; for windows-1252 text (€, “ ”) declare encoding="windows-1252"',
        );
      }
      return text;
    }
    case 'windows-1252': {
      // Not TextDecoder: Node 20's 'windows-1252' decoder is ISO-8859-1 (0x80 comes out as U+0080, not €).
      rejectNulBytes(body, from, encoding);
      const text = body.toString('latin1', from);
      const undefinedByte = /[\x81\x8d\x8f\x90\x9d]/.exec(text);
      if (undefinedByte) invalidByte(body, from + undefinedByte.index, encoding, 'is not defined in windows-1252');
      return text.replace(/[\x80-\x9f]/g, (c) => CP1252_80_TO_9F[c.charCodeAt(0) - 0x80]);
    }
    case 'US-ASCII': {
      rejectNulBytes(body, from, encoding);
      const text = body.toString('latin1', from);
      const high = /[^\x00-\x7f]/.exec(text);
      if (high) invalidByte(body, from + high.index, encoding, 'is not US-ASCII (only 0x00–0x7F are)');
      return text;
    }
  }
}

/** NUL is never allowed in XML; in a one-byte-per-ASCII encoding it usually means UTF-16 sent without a BOM. */
function rejectNulBytes(body: Buffer, from: number, encoding: Encoding): void {
  const at = body.indexOf(0, from);
  if (at !== -1) reject('MALFORMED_XML', `message contains a NUL byte at byte ${at} (encoding ${encoding}); NUL is not allowed in XML`);
}

function decodeUtf8(body: Buffer, from: number, defaulted: boolean): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(from === 0 ? body : body.subarray(from));
  } catch {
    const why = defaulted ? '; a message without an encoding declaration must be UTF-8' : '';
    return reject('MALFORMED_XML', `message is not valid UTF-8: invalid byte sequence at byte ${firstInvalidUtf8(body, from)}${why}`);
  }
}

function decodeUtf16(body: Buffer, from: number, encoding: 'UTF-16LE' | 'UTF-16BE'): string {
  const bytes = body.length - from;
  if (bytes % 2 !== 0)
    reject('MALFORMED_XML', `message is not valid ${encoding}: an odd number of bytes (${bytes} after the byte-order mark)`);
  try {
    return new TextDecoder(encoding.toLowerCase(), { fatal: true, ignoreBOM: true }).decode(body.subarray(from));
  } catch {
    return reject('MALFORMED_XML', `message is not valid ${encoding}: ${describeUnpairedSurrogate(body, from, encoding)}`);
  }
}

function invalidByte(body: Buffer, at: number, encoding: Encoding, why: string): never {
  const hex = (body[at] ?? 0).toString(16).toUpperCase().padStart(2, '0');
  return reject('MALFORMED_XML', `message is not valid ${encoding}: byte 0x${hex} at byte ${at} ${why}`);
}

function unsupported(name: string, seen?: string): never {
  const where = seen ? `; the message starts with ${seen}` : '';
  return reject('MALFORMED_XML', `encoding ${quote(name)} is not supported (${SUPPORTED})${where}`);
}

function contradiction(declared: Declared | undefined, fact: string): never {
  return reject('MALFORMED_XML', `message declares encoding ${quote(declared?.name ?? '')} but ${fact}`);
}

/** Error path only: the offset of the first byte that starts an invalid UTF-8 sequence (WHATWG rules). */
function firstInvalidUtf8(body: Buffer, from: number): number {
  for (let i = from; i < body.length;) {
    const b = body[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lower = 0x80;
    let upper = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lower = 0xa0;
      if (b === 0xed) upper = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lower = 0x90;
      if (b === 0xf4) upper = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      const c = body[i + k];
      if (c === undefined || c < (k === 1 ? lower : 0x80) || c > (k === 1 ? upper : 0xbf)) return i;
    }
    i += need + 1;
  }
  return body.length;
}

/** Error path only: where the first unpaired surrogate of a UTF-16 body is. */
function describeUnpairedSurrogate(body: Buffer, from: number, encoding: 'UTF-16LE' | 'UTF-16BE'): string {
  const unit = (at: number): number => (encoding === 'UTF-16LE' ? body.readUInt16LE(at) : body.readUInt16BE(at));
  for (let i = from; i + 1 < body.length; i += 2) {
    const u = unit(i);
    if (u >= 0xd800 && u <= 0xdbff) {
      const next = i + 3 < body.length ? unit(i + 2) : -1;
      if (next >= 0xdc00 && next <= 0xdfff) {
        i += 2;
        continue;
      }
    } else if (u < 0xdc00 || u > 0xdfff) continue;
    return `unpaired surrogate U+${u.toString(16).toUpperCase()} at byte ${i}`;
  }
  return 'invalid code unit sequence';
}
