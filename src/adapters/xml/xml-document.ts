import { Parser } from 'xml2js';
import { workItemError } from '../../domain/error-codes';
import { Rejection } from './rejection';
import { GuardLimits, SaxGuard, SaxParser } from './sax-guard';
import { ATTRIBUTES_KEY, TEXT_KEY, XmlNode, toXmlNode } from './xml-node';

/**
 * Parses an already pre-checked XML text with a fresh xml2js parser whose sax parser is guarded
 * by the configured limits. Returns the root element; throws a Rejection for the first problem.
 */
export function parseXmlDocument(text: string, cfg: GuardLimits): XmlNode {
  const parser = new Parser({
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
  });
  const guard = new SaxGuard(cfg);
  guard.install((parser as unknown as { saxParser: SaxParser }).saxParser);

  let result: unknown;
  let failure: unknown;
  try {
    // Synchronous for a string with async: false; the callback runs before parseString returns.
    parser.parseString(text, (err, parsed) => {
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
  return rootOf(result);
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
