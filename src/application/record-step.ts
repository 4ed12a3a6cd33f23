import { DISPOSITION_TEXT_MAX } from '../domain/disposition';
import { MAX_HOLD_REASON } from '../domain/hold';
import { receiptStatusOf, type PlacedState } from '../domain/receipt';
import type { HistoryStep } from '../ports/item-history';
import type { Deps } from './deps';

/** A history write never holds up an item longer than this. */
export const HISTORY_TIMEOUT_MS = 2_000;
const MAX_TEXT = 200;
const MAX_CHANGED = 32;
/** Why an item waits again after its contact.created was published: no queue took it. */
export const UNROUTABLE_REASON = 'nobody took the event (no queue bound for the entrance)';
/** Why an item waits again after the broker nacked its contact.created (contract 1.2 "Back-pressure"). */
export const REFUSED_REASON = "the broker refused the event (the contact center's queue is full)";

/** A step as a use case names it: time and instance are added here. */
export type StepInput = Omit<HistoryStep, 'at' | 'instance' | 'times' | 'firstAt'> & { at?: number };

function text(s: string | undefined, max = MAX_TEXT): string | undefined {
  return s === undefined || s.length <= max ? s : `${s.slice(0, max)}…`;
}

function toStep(d: Deps, s: StepInput): HistoryStep {
  const step: HistoryStep = { step: s.step, at: new Date(s.at ?? d.now()).toISOString(), instance: d.instanceId };
  // An `ended` step's reason is the disposition text, a `held` step's the hold's reason: kept whole (the contract bounds them).
  if (s.reason !== undefined) {
    step.reason = text(s.reason, s.step === 'ended' ? DISPOSITION_TEXT_MAX : s.step === 'held' ? MAX_HOLD_REASON : MAX_TEXT);
  }
  if (s.code !== undefined) step.code = text(s.code);
  if (s.entrance !== undefined) step.entrance = text(s.entrance);
  if (s.revision !== undefined) step.revision = s.revision;
  if (s.changed !== undefined && s.changed.length > 0) {
    const shown = s.changed.slice(0, MAX_CHANGED).map((c) => text(c) as string);
    step.changed = s.changed.length > MAX_CHANGED ? [...shown, `… ${s.changed.length - MAX_CHANGED} more`] : shown;
  }
  if (s.state !== undefined) step.state = s.state;
  if (s.until !== undefined) step.until = text(s.until);
  if (s.by !== undefined) step.by = text(s.by);
  return step;
}

/**
 * A repeated waiting step (a TTL retry, a probe nobody answered) of one item is written at most this often: waiting
 * items must cost (almost) nothing, and the history only needs to show that, and since when, the item keeps waiting.
 */
export const REPEAT_WRITE_MS = 60_000;
/** Bounded: the repeat throttle forgets the oldest items first. */
const MAX_THROTTLED_ITEMS = 10_000;
/** `<contactId>|<step>|<reason>` → when it was last written (ms), oldest first. */
const lastRepeatWrite = new Map<string, number>();

/** True when the same collapsible step of this item was written less than REPEAT_WRITE_MS ago (then it is skipped). */
function recentlyWritten(contactId: string, key: string, now: number): boolean {
  const id = `${contactId}|${key}`;
  const at = lastRepeatWrite.get(id);
  if (at !== undefined && now - at < REPEAT_WRITE_MS) return true;
  lastRepeatWrite.delete(id);
  lastRepeatWrite.set(id, now);
  if (lastRepeatWrite.size > MAX_THROTTLED_ITEMS) lastRepeatWrite.delete(lastRepeatWrite.keys().next().value as string);
  return false;
}

/**
 * Records steps of an item's history after an outcome the use case already has. Never throws and never waits longer
 * than HISTORY_TIMEOUT_MS: the history is for people reading it; a failed write is logged and the item goes on.
 * collapse: a repeat of the latest step (same step and reason, e.g. a periodic re-park) counts instead of adding one,
 * and is written at most every REPEAT_WRITE_MS per item (so `times` counts the writes, not every retry).
 */
export async function recordStep(
  d: Deps,
  contactId: string,
  steps: StepInput | StepInput[],
  opts: { collapse?: boolean } = {},
): Promise<void> {
  const input = Array.isArray(steps) ? steps : [steps];
  if (opts.collapse && input.length === 1 && recentlyWritten(contactId, `${input[0].step}|${input[0].reason ?? ''}`, d.now())) return;
  const list = input.map((s) => toStep(d, s));
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      d.history.append(contactId, list, opts),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${HISTORY_TIMEOUT_MS} ms`)), HISTORY_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    d.log.warn('item history not recorded; the item goes on', {
      contactId,
      steps: list.map((s) => s.step).join(','),
      error: (err as Error).message,
    });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The steps of one arrival of a work item: a new item is `received` then `accepted`, `buffered` (the receipt's word
 * for parked) or `scheduled`; the same item again is one `duplicate` step (a redelivery of our own message says what
 * was done again). stored: the state store's answer; placed: where the item ended up (null: nothing was done again).
 */
export function arrivalSteps(
  stored: 'accepted' | 'parked' | 'scheduled' | 'duplicate',
  placed: PlacedState | null,
  at: number,
  item: { entrance: string; activateAt?: string },
  redelivered: boolean,
  /** Routed, but its event did not reach the contact center: why (the reason of its `buffered` step). */
  notPlaced?: 'unroutable' | 'refused',
): StepInput[] {
  const status = placed === null ? 'duplicate' : receiptStatusOf(placed);
  if (stored === 'duplicate') {
    return [{ step: 'duplicate', reason: redelivered ? `redelivered: ${status} again` : 'the same item again (source, externalId)' }];
  }
  const reason =
    placed === 'parked'
      ? stored === 'parked'
        ? 'entrance closed'
        : notPlaced === 'refused'
          ? REFUSED_REASON
          : UNROUTABLE_REASON
      : placed === 'scheduled'
        ? `activateAt ${item.activateAt ?? ''}`.trim()
        : undefined;
  return [
    { step: 'received', at, entrance: item.entrance },
    { step: status, ...(reason !== undefined && { reason }) },
  ];
}

/** A parked item's event: `routed` when confirmed; else it waits again (`parked`, repeats collapsed), saying why. */
export function recordPlaced(d: Deps, contactId: string, placed: 'routed' | 'unroutable' | 'refused', reason: string): Promise<void> {
  return placed === 'routed'
    ? recordStep(d, contactId, { step: 'routed', reason })
    : recordStep(d, contactId, { step: 'parked', reason: placed === 'refused' ? REFUSED_REASON : UNROUTABLE_REASON }, { collapse: true });
}
