import { toClosedEvent } from '../domain/contact-event';
import { checkHoldTerms } from '../domain/hold';
import { wireState, type WireState } from '../domain/receipt';
import { TransientError } from '../ports/messaging';
import type { StoredItem } from '../ports/state-store';
import type { Deps } from './deps';
import { itemGone } from './attachment-lifecycle';
import { holdItem, type Actor } from './hold-work-item';
import { resumeItem } from './resume-work-item';
import { publishClosedEvent } from './route-contact';

/**
 * An operator's hold, resume and cancel of one item, named by its contactId (the dashboard, signed in). They take the
 * same atomic steps as the sender's messages (the item's own source and externalId, and only that contactId), with
 * `by` = `dashboard:<user>` in the history; there is no receipt (no message, no reply_to): the sender learns of them
 * from the lifecycle notifications. A step the broker does not confirm is a TransientError (the caller answers 503).
 */

/** What the operator is told: done (where the item is now), or why not (an HTTP status and a message). */
export type OperatorActionResult =
  { ok: true; contactId: string; state: WireState | 'cancelled'; message: string } | { ok: false; status: 400 | 404 | 409; error: string };

const DEFAULT_SCHEDULE_MAX_DAYS = 30;
/** An operator's cancel has no redelivery behind it: its contact.withdrawn is tried this often before giving up. */
const WITHDRAWN_ATTEMPTS = 3;
const WITHDRAWN_RETRY_MS = 500;

function operator(user: string): Actor {
  return { kind: 'operator', by: `dashboard:${user}` };
}

const notUnfinished = (contactId: string): OperatorActionResult => ({
  ok: false,
  status: 404,
  error: `${contactId} is not an unfinished item (ended, cancelled, expired, or never received)`,
});

async function unfinished(d: Deps, contactId: string): Promise<StoredItem | null> {
  return d.store.getItem(contactId);
}

/** Holds the item (or changes the hold of a held one): until (RFC 3339, as a sender's) and reason are optional. */
export async function operatorHold(
  d: Deps,
  contactId: string,
  user: string,
  input: { until?: string; reason?: string },
): Promise<OperatorActionResult> {
  const item = await unfinished(d, contactId);
  if (!item) return notUnfinished(contactId);
  const checked = checkHoldTerms(input, d.now(), d.cfg.schedule?.maxDays ?? DEFAULT_SCHEDULE_MAX_DAYS);
  if (!checked.ok) return { ok: false, status: 400, error: checked.error };
  const { source, externalId } = item.record;
  const held = await holdItem(d, { source, externalId, contactId, ...checked.terms, holdId: '', sameAgain: false, actor: operator(user) });
  if (!held) return notUnfinished(contactId);
  const message =
    held.outcome === 'rehold'
      ? 'hold changed'
      : `held (was ${wireState(held.from ?? 'routed')})${checked.terms.until ? ` until ${checked.terms.until.text}` : ''}`;
  return { ok: true, contactId, state: 'held', message };
}

/** Resumes a held item (routed again as a new arrival, parked, or scheduled again). Not held: 409. */
export async function operatorResume(d: Deps, contactId: string, user: string): Promise<OperatorActionResult> {
  const item = await unfinished(d, contactId);
  if (!item) return notUnfinished(contactId);
  const { source, externalId } = item.record;
  const r = await resumeItem(d, { source, externalId, contactId, resumeId: '', sameAgain: false, actor: operator(user) });
  if (!r) return notUnfinished(contactId);
  if (r.outcome === 'not_held') return { ok: false, status: 409, error: `not held (it is ${wireState(r.state)}): nothing to resume` };
  return { ok: true, contactId, state: wireState(r.state), message: `resumed: ${wireState(r.state)}` };
}

/**
 * Cancels the item as its sender's cancel does (every index, a tombstone, the finished entry for a late resend) and
 * tells the contact center `contact.withdrawn` with reason `cancelled-by-operator`. Not counted as a message outcome
 * (`withdrawn` is a sender's cancel message): workitem_cancelled_by_operator_total.
 */
export async function operatorCancel(d: Deps, contactId: string, user: string): Promise<OperatorActionResult> {
  const item = await unfinished(d, contactId);
  if (!item) return notUnfinished(contactId);
  const { source, externalId } = item.record;
  const by = operator(user).by;
  const res = await d.store.cancel(source, externalId, d.now(), { contactId, by });
  if (res.outcome !== 'cancelled') return notUnfinished(contactId);
  const record = res.record;
  const event = toClosedEvent('contact.withdrawn', record, 'cancelled-by-operator', d.newId(), new Date(d.now()));
  for (let attempt = 1; ; attempt++) {
    try {
      await publishClosedEvent(d, event);
      break;
    } catch (err) {
      if (!(err instanceof TransientError) || attempt >= WITHDRAWN_ATTEMPTS) {
        d.log.error('operator cancel: the item is cancelled but its contact.withdrawn was not confirmed', {
          contactId,
          error: (err as Error).message,
        });
        throw new TransientError(
          `cancelled, but its contact.withdrawn was not confirmed by the broker (${(err as Error).message}): the contact center may show the contact until its End`,
          { cause: err },
        );
      }
      await new Promise((r) => setTimeout(r, WITHDRAWN_RETRY_MS * attempt));
    }
  }
  await itemGone(d, { contactId, hadAttachment: record.attachment !== undefined, why: 'cancelled', reason: 'cancelled-by-operator', by });
  d.metrics.cancelledByOperator({ entrance: record.entrance, taskType: record.taskType });
  d.log.info('work item cancelled by an operator', { contactId, externalId, source, by });
  return { ok: true, contactId, state: 'cancelled', message: 'cancelled' };
}
