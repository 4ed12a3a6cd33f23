/**
 * Character rules of XML 1.0 (https://www.w3.org/TR/xml/#charsets), shared by the parser
 * (to reject them) and the receipt renderer (to drop them).
 */
const ILLEGAL_CLASS = '[^\\t\\n\\r\\x20-\\uD7FF\\uE000-\\uFFFD\\u{10000}-\\u{10FFFF}]';

/** First character XML 1.0 does not allow; with the `u` flag a lone surrogate also matches. */
export const ILLEGAL_XML_CHAR = new RegExp(ILLEGAL_CLASS, 'u');
const ILLEGAL_XML_CHARS = new RegExp(ILLEGAL_CLASS, 'gu');

/**
 * Every code unit an illegal character can start with: C0 controls other than tab, LF and CR, surrogates (a lone one is
 * illegal, a pair is fine) and U+FFFE/U+FFFF. Text without any of them has no illegal character, and this test (no
 * `u` flag) is about twice as fast as ILLEGAL_XML_CHAR on the usual ASCII text.
 */
const MAYBE_ILLEGAL = new RegExp('[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\uD800-\\uDFFF\\uFFFE\\uFFFF]');

/** The first character XML 1.0 does not allow (`match.index` is its offset), or null. */
export function firstIllegalXmlChar(text: string): RegExpExecArray | null {
  return MAYBE_ILLEGAL.test(text) ? ILLEGAL_XML_CHAR.exec(text) : null;
}

export function stripIllegalXmlChars(text: string): string {
  return MAYBE_ILLEGAL.test(text) ? text.replace(ILLEGAL_XML_CHARS, '') : text;
}

/** `U+0001`-style name of the first code point of `text`, for error messages. */
export function describeCodePoint(text: string): string {
  const cp = text.codePointAt(0) ?? 0;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Names that collide with members of Object.prototype. xml2js stores element and attribute
 * names as object keys, so such names could shadow or reach prototype machinery; they are
 * never part of the contract, so they are rejected outright.
 */
const RESERVED_NAMES: ReadonlySet<string> = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

export function isReservedName(name: string): boolean {
  return RESERVED_NAMES.has(name);
}
