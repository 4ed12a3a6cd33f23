/** RFC 3339 date-times as the contract reads them (dueAt, expiresAt, activateAt, a hold's until). */

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/;

/**
 * The instant (ms since the epoch) of an RFC 3339 date-time with seconds and a zone (`Z` or `±hh:mm`), or null when
 * `text` is not one. Date.parse alone is too lenient (it rolls 2026-02-30 over to March), so the fields are
 * range-checked too.
 */
export function parseRfc3339(text: string): number | null {
  const m = DATE_TIME.exec(text);
  const time = m ? Date.parse(text) : NaN;
  return m && !Number.isNaN(time) && fieldsInRange(m) ? time : null;
}

function fieldsInRange(m: RegExpExecArray): boolean {
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const lastDay = new Date(0);
  lastDay.setUTCFullYear(year, month, 0); // day 0 of the next month; unlike Date.UTC, years < 100 stay as given
  const daysInMonth = lastDay.getUTCDate();
  const zoneOk = m[8] === 'Z' || (Number(m[9]) <= 23 && Number(m[10]) <= 59);
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 59 && zoneOk;
}
