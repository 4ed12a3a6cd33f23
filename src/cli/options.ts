import { InvalidArgumentError, Option } from 'commander';

/** Option-value parsers for commander: a bad value becomes a usage error (exit 2) naming the option. */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `10s`, `30m`, `24h`, `7d` (a bare number means seconds) → milliseconds. */
export function parseDuration(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!m) throw new InvalidArgumentError('expected a duration like 500ms, 10s, 30m, 24h or 7d');
  const ms = Number(m[1]) * UNIT_MS[m[2] ?? 's'];
  if (!(ms > 0) || !Number.isFinite(ms)) throw new InvalidArgumentError('the duration must be greater than zero');
  return Math.round(ms);
}

export function integerParser(min: number, max: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole number ${min}..${max}`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected a whole number ${min}..${max}`);
    return n;
  };
}

/** Help text block listing examples, appended after the options. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

/** A duration option whose help shows its default as written (`10s`), not in milliseconds. */
export function durationOption(flags: string, description: string, defaultValue: string): Option {
  return new Option(flags, description).argParser(parseDuration).default(parseDuration(defaultValue), defaultValue);
}
