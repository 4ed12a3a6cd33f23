/**
 * A contact's disposition (contract 1.2 "`contact.ended` with a disposition"): what the agent recorded at End. The code
 * is operator-defined; its label on /metrics and its report counter are bounded (DispositionCodes).
 */
export interface Disposition {
  code: string;
  text?: string;
}

export const DISPOSITION_CODE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
export const DISPOSITION_TEXT_MAX = 1024;
/** How many distinct codes are counted by name (per instance); later new ones count as OTHER_DISPOSITION. */
export const MAX_DISPOSITION_CODES = 100;
export const OTHER_DISPOSITION = 'other';

/** A `disposition` value: the disposition, undefined when absent, or why it is malformed (then it is ignored). */
export function parseDisposition(v: unknown): Disposition | undefined | string {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) return '"disposition" is not an object';
  const o = v as Record<string, unknown>;
  if (typeof o.code !== 'string' || !DISPOSITION_CODE_PATTERN.test(o.code)) return '"disposition.code" must match [A-Za-z0-9_.-]{1,64}';
  if (o.text !== undefined && (typeof o.text !== 'string' || o.text.length > DISPOSITION_TEXT_MAX)) {
    return `"disposition.text" must be a string of at most ${DISPOSITION_TEXT_MAX} characters`;
  }
  return { code: o.code, ...(typeof o.text === 'string' && { text: o.text }) };
}

/**
 * The code as counted: the first MAX_DISPOSITION_CODES distinct codes seen keep their name, any later new one is
 * `other`, so an operator's typo or a misbehaving client cannot grow the label set (or the report hashes) without bound.
 */
export class DispositionCodes {
  private readonly seen = new Set<string>();

  constructor(private readonly max = MAX_DISPOSITION_CODES) {}

  label(code: string): string {
    if (this.seen.has(code)) return code;
    if (this.seen.size >= this.max) return OTHER_DISPOSITION;
    this.seen.add(code);
    return code;
  }
}
