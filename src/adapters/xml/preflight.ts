import { AppConfig } from '../../config/config';
import { quote, reject } from './rejection';
import { ILLEGAL_XML_CHAR, describeCodePoint } from './xml-chars';

/**
 * Cheap checks on the raw body before any XML parser sees it: size, encoding, characters,
 * and markup we never accept (DOCTYPE, entities, processing instructions). Returns the
 * decoded text; throws a Rejection for the first problem.
 */
export function preflight(body: Buffer, limits: Pick<AppConfig['limits'], 'maxMessageBytes'>): string {
  if (body.length > limits.maxMessageBytes) {
    reject('TOO_LARGE', `message is ${body.length} bytes; the limit is ${limits.maxMessageBytes}`);
  }
  rejectNonUtf8Encodings(body);
  const text = decodeUtf8(stripUtf8Bom(body));
  const trimmed = text.trimStart();
  if (trimmed === '') reject('MALFORMED_XML', 'message is empty');
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    reject('MALFORMED_XML', 'expected an XML document (application/xml); the body looks like JSON');
  }
  rejectIllegalCharacters(text);
  checkDeclaredEncoding(text);
  rejectForbiddenMarkup(text);
  return text;
}

/** UTF-16 is the usual culprit: a BOM, or NUL bytes next to ASCII. */
function rejectNonUtf8Encodings(body: Buffer): void {
  if (body.length >= 2 && ((body[0] === 0xfe && body[1] === 0xff) || (body[0] === 0xff && body[1] === 0xfe))) {
    reject('MALFORMED_XML', 'message must be UTF-8; it starts with a UTF-16 byte-order mark');
  }
  if (body.indexOf(0) === -1) return;
  const looksUtf16 = body.length >= 2 && (body[0] === 0) !== (body[1] === 0);
  reject(
    'MALFORMED_XML',
    looksUtf16 ? 'message must be UTF-8; it looks like UTF-16' : 'message must be UTF-8 without NUL bytes',
  );
}

function stripUtf8Bom(body: Buffer): Buffer {
  const hasBom = body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf;
  return hasBom ? body.subarray(3) : body;
}

function decodeUtf8(body: Buffer): string {
  try {
    // fatal: a replacement character would silently change the sender's data
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body);
  } catch {
    return reject('MALFORMED_XML', 'message must be UTF-8; it contains invalid UTF-8 byte sequences');
  }
}

function rejectIllegalCharacters(text: string): void {
  const match = ILLEGAL_XML_CHAR.exec(text);
  if (match) {
    reject('MALFORMED_XML', `character ${describeCodePoint(match[0])} at offset ${match.index} is not allowed in XML`);
  }
}

const DECLARATION = /^<\?xml[ \t\r\n]([^]*?)\?>/;
const ENCODING = /\bencoding[ \t\r\n]*=[ \t\r\n]*(["'])([^"']*)\1/;

function checkDeclaredEncoding(text: string): void {
  // A declaration is short; looking at the head keeps a huge body from being scanned twice.
  const declaration = DECLARATION.exec(text.slice(0, 1024));
  const encoding = declaration && ENCODING.exec(declaration[1]);
  if (encoding && encoding[2].toLowerCase() !== 'utf-8') {
    reject('MALFORMED_XML', `declared encoding ${quote(encoding[2])} is not supported; the message must be UTF-8`);
  }
}

/**
 * Finds DOCTYPE, ENTITY and processing instructions in markup. Comments and CDATA sections are
 * skipped because a `<!DOCTYPE html>` or `<?php` quoted inside a CDATA body is data, not markup.
 * Linear: every step moves forward, and an unterminated section ends the scan (the parser then
 * reports it as malformed).
 */
function rejectForbiddenMarkup(text: string): void {
  for (let i = text.indexOf('<'); i !== -1; i = text.indexOf('<', i + 1)) {
    if (text.startsWith('<![CDATA[', i)) {
      i = skipPast(text, ']]>', i + 9);
    } else if (text.startsWith('<!--', i)) {
      i = skipPast(text, '-->', i + 4);
    } else if (text.startsWith('<!', i)) {
      rejectDeclaration(text.slice(i + 2, i + 9).toUpperCase());
    } else if (text.startsWith('<?', i)) {
      i = checkProcessingInstruction(text, i);
    }
    if (i === -1) return;
  }
}

function skipPast(text: string, terminator: string, from: number): number {
  const end = text.indexOf(terminator, from);
  return end === -1 ? -1 : end + terminator.length - 1;
}

function rejectDeclaration(keyword: string): void {
  if (keyword.startsWith('DOCTYPE')) reject('FORBIDDEN_XML', 'DOCTYPE declarations are not accepted');
  if (keyword.startsWith('ENTITY')) reject('FORBIDDEN_XML', 'entity declarations are not accepted');
}

function checkProcessingInstruction(text: string, at: number): number {
  const isDeclaration = /^<\?xml[ \t\r\n?]/.test(text.slice(at, at + 6));
  if (at === 0 && isDeclaration) return skipPast(text, '?>', 2);
  if (/^<\?xml[ \t\r\n?]/i.test(text.slice(at, at + 6))) {
    reject('MALFORMED_XML', 'the XML declaration must be lowercase and at the very start of the message');
  }
  return reject('FORBIDDEN_XML', 'processing instructions are not accepted');
}
