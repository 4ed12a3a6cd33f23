import type { InboundMessage } from '../ports/messaging';
import type { Deps } from './deps';
import type { Outcome } from './outcome';
import { retryParked } from './parked-items';
import { processMessage } from './process-message';

/**
 * Consume → parse → validate → persist → publish → receipt. Returns when the outcome is confirmed by the
 * broker; throws TransientError when it could not be (the adapter then requeues the message).
 */
export async function handleInboundMessage(d: Deps, msg: InboundMessage): Promise<Outcome> {
  // One child logger per message; later steps add contactId/externalId/source to it.
  const md: Deps = { ...d, log: d.log.child({ messageId: msg.properties.messageId }) };
  const outcome = await (msg.parked ? retryParked(md, msg, msg.parked) : processMessage(md, msg));
  if (d.tracing?.enabled) d.tracing.annotate(outcomeAttributes(outcome));
  return outcome;
}

/** What the message's span records about the outcome. */
function outcomeAttributes(o: Outcome): Record<string, string> {
  const attrs: Record<string, string> = { 'workitem.outcome': o.kind };
  if ('contactId' in o) attrs['workitem.contact_id'] = o.contactId;
  if (o.kind === 'rejected') attrs['workitem.error_code'] = o.code;
  return attrs;
}
