import { parseRfc3339 } from './date-time';
import { DAY_MS } from './task-types';

/** Contract 1.2 hold terms: `<until>` follows the rules of activateAt, `<reason>` is short text for the history. */

export const MAX_HOLD_REASON = 256;
/** Control characters other than tab, line feed and carriage return (a reason may span lines). */
const REASON_CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

/** What is wrong with a hold's reason (trimmed, non-empty), or undefined when it is fine. */
export function holdReasonProblem(reason: string): string | undefined {
  if (reason.length > MAX_HOLD_REASON) return `reason must be at most ${MAX_HOLD_REASON} characters`;
  if (REASON_CONTROL.test(reason)) return 'reason must not contain control characters (tab and line breaks are allowed)';
  return undefined;
}

/** What is wrong with a hold's until, or undefined: RFC 3339 with a zone, at most maxDays after nowMs (now or past: resumed at once). */
export function holdUntilProblem(until: string, nowMs: number, maxDays: number): string | undefined {
  const ms = parseRfc3339(until);
  if (ms === null) return 'until must be an ISO-8601 date-time with a time zone, e.g. 2026-11-24T12:00:00Z';
  if (ms > nowMs + maxDays * DAY_MS) return `until must be at most ${maxDays} days ahead (schedule.maxDays)`;
  return undefined;
}

export interface HoldTerms {
  until?: { text: string; ms: number };
  reason?: string;
}

/** An operator's hold terms checked by the rules of `<holdWorkItem>` (empty values count as absent). */
export function checkHoldTerms(
  input: { until?: string; reason?: string },
  nowMs: number,
  maxDays: number,
): { ok: true; terms: HoldTerms } | { ok: false; error: string } {
  const until = input.until?.trim() || undefined;
  const reason = input.reason?.trim() || undefined;
  const problem =
    (until !== undefined ? holdUntilProblem(until, nowMs, maxDays) : undefined) ??
    (reason !== undefined ? holdReasonProblem(reason) : undefined);
  if (problem) return { ok: false, error: problem };
  return {
    ok: true,
    terms: {
      ...(until !== undefined && { until: { text: until, ms: parseRfc3339(until) as number } }),
      ...(reason !== undefined && { reason }),
    },
  };
}
