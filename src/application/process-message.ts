import { workItemError } from '../domain/error-codes';
import type { ParsedMessage } from '../domain/work-item';
import type { InboundMessage } from '../ports/messaging';
import { acceptWorkItem } from './accept-work-item';
import { cancelWorkItem } from './cancel-work-item';
import { getWorkItem } from './get-work-item';
import type { Deps } from './deps';
import { holdWorkItem } from './hold-work-item';
import { senderOf } from './message-sender';
import type { Outcome } from './outcome';
import { rejectMessage } from './reject-message';
import { resumeWorkItem } from './resume-work-item';
import { updateWorkItem } from './update-item';

/**
 * A message from a sender: parse → validate → check the sender → create, cancel, update, query, hold or resume.
 * forcedContactId: a parked original whose Redis state was lost is rebuilt under its old contactId.
 */
export async function processMessage(d: Deps, msg: InboundMessage, forcedContactId?: string): Promise<Outcome> {
  const parsed = await d.parser.parse(msg.body);
  const labels =
    parsed.kind === 'workItem'
      ? { entrance: parsed.item.entrance, taskType: parsed.item.taskType }
      : parsed.kind === 'invalid'
        ? { entrance: parsed.entrance, taskType: parsed.taskType }
        : {};
  // A status query, a hold and a resume are not received as items: counted only when rejected (see their use cases).
  const countedWhenRejected = parsed.kind === 'get' || parsed.kind === 'hold' || parsed.kind === 'resume';
  if (!countedWhenRejected) d.metrics.item('received', labels);
  if (parsed.kind === 'invalid') {
    return rejectMessage(d, msg, parsed.error, { externalId: parsed.externalId, source: parsed.source, ...labels });
  }
  const claimed = claimedIdentity(parsed);
  const sender = senderOf(msg);
  if (sender !== claimed.source) {
    const root = ROOTS[parsed.kind];
    if (countedWhenRejected) d.metrics.item('received', labels);
    const message = sender
      ? `routing key "${msg.senderRoutingKey}" may only carry items of source "${sender}", not "${claimed.source}"`
      : `routing key "${msg.senderRoutingKey}" is not of the form workitem.<source>: publish items of source "${claimed.source}" with routing key "workitem.${claimed.source}"`;
    const error = workItemError('SENDER_NOT_ALLOWED', message, `/${root}/source`);
    return rejectMessage(d, msg, error, { externalId: claimed.externalId, source: claimed.source, ...labels });
  }
  if (parsed.kind === 'cancel') return cancelWorkItem(d, msg, parsed.cancel);
  if (parsed.kind === 'update') return updateWorkItem(d, msg, parsed.update);
  if (parsed.kind === 'get') return getWorkItem(d, msg, parsed.query);
  if (parsed.kind === 'hold') return holdWorkItem(d, msg, parsed.hold);
  if (parsed.kind === 'resume') return resumeWorkItem(d, msg, parsed.resume);
  return acceptWorkItem(d, msg, parsed.item, forcedContactId);
}

type Valid = Exclude<ParsedMessage, { kind: 'invalid' }>;

const ROOTS: Record<Valid['kind'], string> = {
  workItem: 'workItem',
  cancel: 'cancelWorkItem',
  update: 'updateWorkItem',
  get: 'getWorkItem',
  hold: 'holdWorkItem',
  resume: 'resumeWorkItem',
};

function claimedIdentity(parsed: Valid): { externalId: string; source: string } {
  switch (parsed.kind) {
    case 'workItem':
      return parsed.item;
    case 'cancel':
      return parsed.cancel;
    case 'update':
      return parsed.update;
    case 'get':
      return parsed.query;
    case 'hold':
      return parsed.hold;
    case 'resume':
      return parsed.resume;
  }
}
