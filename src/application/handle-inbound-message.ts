import { TransientError, type InboundMessage } from '../ports/messaging';
import type { Deps } from './deps';
import { outcomeName, type Outcome } from './outcome';
import { retryParked } from './parked-items';
import { processMessage } from './process-message';

/**
 * Consume → parse → validate → persist → publish → receipt. Returns when the outcome is confirmed by the broker, or
 * `retry` when a step could not be confirmed now (the adapter then requeues the message). Any other error is a bug
 * and propagates (the adapter requeues it too, and logs its stack).
 */
export async function handleInboundMessage(d: Deps, msg: InboundMessage): Promise<Outcome> {
  // One child logger per message; later steps add contactId/externalId/source to it.
  const md: Deps = { ...d, log: d.log.child({ messageId: msg.properties.messageId }) };
  let outcome: Outcome;
  try {
    outcome = await (msg.parked ? retryParked(md, msg, msg.parked) : processMessage(md, msg));
  } catch (err) {
    if (!(err instanceof TransientError)) throw err;
    md.log.warn('message requeued after a transient failure', { error: err.message });
    outcome = { kind: 'retry', reason: err.message };
  }
  if (d.tracing?.enabled) d.tracing.annotate(outcomeAttributes(outcome));
  return outcome;
}

/** What the message's span records about the outcome. */
function outcomeAttributes(o: Outcome): Record<string, string> {
  const attrs: Record<string, string> = { 'workitem.outcome': outcomeName(o) };
  if ('contactId' in o) attrs['workitem.contact_id'] = o.contactId;
  if (o.kind === 'rejected') attrs['workitem.error_code'] = o.code;
  return attrs;
}
