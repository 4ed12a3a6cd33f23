import { Parser } from 'xml2js';
import { preflight } from './preflight';
import { Rejection } from './rejection';

/**
 * Reads back a document the service writes (a receipt, a workItemInfo, a notification: for tests, the CLI and the
 * examples' checks): the same preflight as inbound messages (no DOCTYPE, entities or processing instructions, bounded
 * size), then xml2js with attributes under `$` and text under `_`. Returns the root element; throws an Error starting
 * `not a <what>:` when the body is not one.
 */
export function readOwnDocument(buf: Buffer, rootName: string, what: string, maxBytes: number): Record<string, unknown> {
  let text: string;
  try {
    text = preflight(buf, { maxMessageBytes: maxBytes });
  } catch (err) {
    throw new Error(`not a ${what}: ${err instanceof Rejection ? err.problem.message : String(err)}`, { cause: err });
  }
  let parsed: unknown;
  let failure: unknown;
  const parser = new Parser({ strict: true, async: false, explicitArray: true, explicitRoot: true, charkey: '_', attrkey: '$' });
  try {
    parser.parseString(text, (err, result) => (err ? (failure = err) : (parsed = result)));
  } catch (err) {
    failure = err;
  }
  if (failure !== undefined) throw new Error(`not a ${what}: ${failure instanceof Error ? failure.message : String(failure)}`);
  const root = (parsed as Record<string, unknown> | null)?.[rootName];
  if (root === undefined) throw new Error(`not a ${what}: the root element must be <${rootName}>`);
  return typeof root === 'object' && root !== null ? (root as Record<string, unknown>) : {};
}
