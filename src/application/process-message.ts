import { workItemError } from '../domain/error-codes';
import type { InboundMessage } from '../ports/messaging';
import { acceptWorkItem } from './accept-work-item';
import { cancelWorkItem } from './cancel-work-item';
import type { Deps } from './deps';
import { senderOf } from './message-sender';
import type { Outcome } from './outcome';
import { rejectMessage } from './reject-message';
import { updateWorkItem } from './update-item';

/**
 * A message from a sender: parse → validate → check the sender → create, cancel or update. forcedContactId: a parked
 * original whose Redis state was lost is rebuilt under its old contactId.
 */
export async function processMessage(d: Deps, msg: InboundMessage, forcedContactId?: string): Promise<Outcome> {
  const parsed = await d.parser.parse(msg.body);
  const labels =
    parsed.kind === 'workItem'
      ? { entrance: parsed.item.entrance, taskType: parsed.item.taskType }
      : parsed.kind === 'invalid'
        ? { entrance: parsed.entrance, taskType: parsed.taskType }
        : {};
  d.metrics.item('received', labels);
  if (parsed.kind === 'invalid') {
    return rejectMessage(d, msg, parsed.error, { externalId: parsed.externalId, source: parsed.source, ...labels });
  }
  const claimed = parsed.kind === 'workItem' ? parsed.item : parsed.kind === 'cancel' ? parsed.cancel : parsed.update;
  const sender = senderOf(msg);
  if (sender !== claimed.source) {
    const root = parsed.kind === 'workItem' ? 'workItem' : parsed.kind === 'cancel' ? 'cancelWorkItem' : 'updateWorkItem';
    const message = sender
      ? `routing key "${msg.senderRoutingKey}" may only carry items of source "${sender}", not "${claimed.source}"`
      : `routing key "${msg.senderRoutingKey}" is not of the form workitem.<source>: publish items of source "${claimed.source}" with routing key "workitem.${claimed.source}"`;
    const error = workItemError('SENDER_NOT_ALLOWED', message, `/${root}/source`);
    return rejectMessage(d, msg, error, { externalId: claimed.externalId, source: claimed.source, ...labels });
  }
  if (parsed.kind === 'cancel') return cancelWorkItem(d, msg, parsed.cancel);
  if (parsed.kind === 'update') return updateWorkItem(d, msg, parsed.update);
  return acceptWorkItem(d, msg, parsed.item, forcedContactId);
}
