import { parseArgs } from 'node:util';

/** Command-line options every bench shares. */
export interface CommonArgs {
  quick: boolean;
  prefetch: number;
  values: Record<string, string | boolean | undefined>;
}

/** `--quick`, `--strict`, `--prefetch=N` (default: env PREFETCH or 64) plus the bench's own options (`--name=value`). */
export function parseBenchArgs(extra: Record<string, { type: 'string' | 'boolean' }> = {}): CommonArgs {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean' }, prefetch: { type: 'string' }, strict: { type: 'boolean' }, ...extra },
    allowPositionals: false,
    strict: true,
  });
  const prefetch = Number(values.prefetch ?? process.env.PREFETCH ?? 64);
  if (!Number.isInteger(prefetch) || prefetch < 1) throw new Error('--prefetch / PREFETCH must be a positive integer');
  return { quick: values.quick === true, prefetch, values: values as Record<string, string | boolean | undefined> };
}

export function numArg(args: CommonArgs, name: string, full: number, quick: number): number {
  const raw = args.values[name];
  const v = raw === undefined ? (args.quick ? quick : full) : Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}
