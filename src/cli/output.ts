/** Plain-text tables and JSON on stdout; anything that came from a message is made terminal-safe first. */

// C0/C1 controls, bidi overrides and line separators could rewrite the operator's terminal or hide text.
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** One line of text safe to print: whitespace runs become one space, other control characters `?`. */
export function printable(value: unknown): string {
  if (value === undefined || value === null) return '';
  return String(value).replace(/\s+/g, ' ').replace(UNSAFE_CHARS, '?');
}

/** The first `max` characters (code points) of a printable value, with `…` when cut. */
export function preview(value: string, max: number): string {
  const chars = Array.from(printable(value).trim());
  return chars.length > max ? `${chars.slice(0, max).join('')}…` : chars.join('');
}

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | undefined;
  align?: 'left' | 'right';
}

/** A space-aligned table with a header line. */
export function renderTable<T>(columns: Column<T>[], rows: T[]): string {
  const cells = rows.map((row) => columns.map((c) => printable(c.value(row) ?? '') || '-'));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i].length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (columns[i].align === 'right' ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Progress and notes for the operator: stderr, so stdout stays parseable. */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** 850ms, 12.3s, 4m 05s, 2h 03m, 3d 04h; a zero last part is left out (24h, 7d). */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const text =
    s < 3600
      ? `${Math.floor(s / 60)}m ${pad(s % 60)}s`
      : s < 86_400
        ? `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`
        : `${Math.floor(s / 86_400)}d ${pad(Math.floor((s % 86_400) / 3600))}h`;
  return text.replace(/ 00[smh]$/, '');
}

/** A URL with its password replaced by `***`, for error messages (the service's own, one copy). */
export { redactUrl } from '../adapters/redact-url';
