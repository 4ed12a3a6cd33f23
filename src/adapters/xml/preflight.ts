import { AppConfig } from '../../config/config';
import { decodeBody } from './encoding';
import { reject } from './rejection';
import { describeCodePoint, firstIllegalXmlChar } from './xml-chars';

/**
 * Cheap checks on the raw body before any XML parser sees it: size (in bytes, before decoding), encoding
 * (encoding.ts), then, on the decoded text, characters and markup we never accept (DOCTYPE, entities,
 * processing instructions) — whatever the encoding was. Returns the decoded text; throws a Rejection for the
 * first problem.
 */
export function preflight(body: Buffer, limits: Pick<AppConfig['limits'], 'maxMessageBytes'>): string {
  if (body.length > limits.maxMessageBytes) {
    reject('TOO_LARGE', `message is ${body.length} bytes; the limit is ${limits.maxMessageBytes}`);
  }
  const text = decodeBody(body);
  const trimmed = text.trimStart();
  if (trimmed === '') {
    reject('MALFORMED_XML', text === '' ? 'message is empty' : 'message is empty (only whitespace or byte-order marks)');
  }
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    reject('MALFORMED_XML', 'expected an XML document (application/xml); the body looks like JSON');
  }
  rejectIllegalCharacters(text);
  rejectForbiddenMarkup(text);
  return text;
}

function rejectIllegalCharacters(text: string): void {
  const match = firstIllegalXmlChar(text);
  if (match) {
    reject('MALFORMED_XML', `character ${describeCodePoint(match[0])} at offset ${match.index} is not allowed in XML`);
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
