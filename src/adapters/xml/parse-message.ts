import { AppConfig } from '../../config/config';
import { workItemError } from '../../domain/error-codes';
import { ParsedMessage } from '../../domain/work-item';
import { mapMessage, readEcho, validEcho } from './map-message';
import { preflight } from './preflight';
import { Echo, Rejection } from './rejection';
import { parseXmlDocument } from './xml-document';
import { XmlNode } from './xml-node';

export interface ParseOptions {
  taskKey: string;
  entrances: ReadonlySet<string>;
  social: AppConfig['social'];
  limits: AppConfig['limits'];
  attachments: AppConfig['attachments'];
  taskTypes?: AppConfig['taskTypes'];
  taskTypesStrict?: boolean;
}

/**
 * Validates one inbound message body and maps it to a work item or a cancel request.
 * Pure and synchronous (safe to run on a worker thread); never throws: every problem, expected
 * or not, comes back as `{ kind: 'invalid' }` with the first error found.
 */
export function parseMessage(body: Buffer, opts: ParseOptions): ParsedMessage {
  try {
    const text = preflight(body, opts.limits);
    const root = parseXmlDocument(text, opts);
    return mapWithEcho(root, opts);
  } catch (err) {
    if (err instanceof Rejection) return invalid(err);
    // A bug or an unforeseen input must still yield a rejection receipt, not a crashed consumer.
    const detail = err instanceof Error ? err.message : String(err);
    return { kind: 'invalid', error: workItemError('MALFORMED_XML', `the message could not be parsed: ${detail}`) };
  }
}

/** Field problems are found after parsing, so the echo comes from the parsed document. */
function mapWithEcho(root: XmlNode, opts: ParseOptions): ParsedMessage {
  try {
    return mapMessage(root, opts);
  } catch (err) {
    if (err instanceof Rejection) throw new Rejection(err.problem, readEcho(root, opts));
    throw err;
  }
}

function invalid(rejection: Rejection): ParsedMessage {
  const echo: Echo = validEcho(rejection.echo);
  return { kind: 'invalid', error: rejection.problem, ...echo };
}
