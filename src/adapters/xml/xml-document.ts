import { Parser } from 'xml2js';
import { workItemError } from '../../domain/error-codes';
import { Rejection } from './rejection';
import { GuardLimits, SaxGuard, SaxParser } from './sax-guard';
import { ATTRIBUTES_KEY, TEXT_KEY, XmlNode, toXmlNode } from './xml-node';

const OPTIONS = {
  strict: true,
  async: false,
  explicitRoot: true,
  explicitArray: true,
  explicitCharkey: true,
  attrkey: ATTRIBUTES_KEY,
  charkey: TEXT_KEY,
  emptyTag: '',
  trim: false,
  normalize: false,
  normalizeTags: false,
  xmlns: false,
} as const;

/**
 * One xml2js parser per thread, taken for a parse and put back after a clean one. xml2js resets itself when a
 * document ends (a fresh sax parser with its handlers, no listeners), so a reused parser starts every document in
 * the state `new Parser()` would; building one per message (option copies, five `bind`s and two sax parsers) was
 * a measurable share of the per-item cost. A parser whose document failed is dropped, never reused.
 */
let spare: Parser | null = null;

interface XmlParserInternals {
  saxParser: SaxParser & { ended?: boolean; errThrown?: boolean };
}

/**
 * Parses an already pre-checked XML text with an xml2js parser whose sax parser is guarded by the configured
 * limits. Returns the root element; throws a Rejection for the first problem.
 */
export function parseXmlDocument(text: string, cfg: GuardLimits): XmlNode {
  const parser = spare ?? new Parser(OPTIONS);
  spare = null;
  const sax = (parser as unknown as XmlParserInternals).saxParser;
  // What xml2js's reset() sets: after the previous document ended, sax's own end event may have flagged the fresh
  // sax parser as ended (xml2js's onend handler refers to the parser it has at that moment).
  sax.ended = false;
  sax.errThrown = false;
  const guard = new SaxGuard(cfg, !text.includes('&#'));
  guard.install(sax);

  let result: unknown;
  let failure: unknown;
  let settled = false;
  try {
    // Synchronous for a string with async: false; the callback runs before parseString returns.
    parser.parseString(text, (err, parsed) => {
      settled = true;
      if (err) failure ??= err;
      else result ??= parsed;
    });
  } catch (err) {
    // xml2js rethrows errors raised after the root element closed (e.g. trailing garbage).
    failure ??= err;
  }
  if (guard.violation) throw guard.violation;
  if (failure !== undefined) throw malformed(`not well-formed XML: ${describe(failure)}`);
  if (!guard.completed) throw malformed('the message ended before the root element was closed');
  const root = rootOf(result);
  // Only a document that ended normally has been reset by xml2js (its `end` handler ran).
  if (settled) spare = parser;
  return root;
}

function rootOf(result: unknown): XmlNode {
  if (typeof result !== 'object' || result === null) throw malformed('the message has no root element');
  const [name] = Object.keys(result);
  if (name === undefined) throw malformed('the message has no root element');
  return toXmlNode(name, (result as Record<string, unknown>)[name]);
}

function malformed(message: string): Rejection {
  return new Rejection(workItemError('MALFORMED_XML', message));
}

function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s*\n\s*/g, ', ');
}
