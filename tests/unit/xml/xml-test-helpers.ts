import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ParseOptions, parseMessage } from '../../../src/adapters/xml/parse-message';
import { fileConfigSchema } from '../../../src/config/config-schema';
import { ErrorCode, WorkItemError } from '../../../src/domain/error-codes';
import { CancelRequest, ParsedMessage, WorkItem } from '../../../src/domain/work-item';

/** Limits and attachment settings come from the real schema defaults. */
const config = fileConfigSchema.parse({
  entrances: { loans: {}, support: {}, social: {} },
  social: {
    facebook: { displayName: 'Facebook', pages: { '1234': { entrance: 'social', displayName: 'Bank on Facebook' } } },
  },
});

export const OPTS: ParseOptions = {
  taskKey: config.taskKey,
  entrances: new Set(Object.keys(config.entrances)),
  social: config.social,
  limits: config.limits,
  attachments: config.attachments,
};

export function withOpts(overrides: Partial<ParseOptions>): ParseOptions {
  return { ...OPTS, ...overrides };
}

export function withLimits(limits: Partial<ParseOptions['limits']>): ParseOptions {
  return { ...OPTS, limits: { ...OPTS.limits, ...limits } };
}

const DEFAULT_FIELDS: Record<string, string> = {
  externalId: 'CASE-1',
  source: 'bank-support',
  entrance: 'loans',
  subject: 'Review the loan',
  contactData: '<item key="WorkItemTask">loan-review</item>',
};

/**
 * A valid `<workItem>` whose child elements can be replaced (raw inner XML), removed (null)
 * or added (new keys are appended in order). `extra` is raw XML added before the end tag.
 */
export function workItemXml(fields: Record<string, string | null> = {}, options: { rootAttributes?: string; extra?: string } = {}): string {
  const merged: Record<string, string | null> = { ...DEFAULT_FIELDS, ...fields };
  const children = Object.entries(merged)
    .filter((entry): entry is [string, string] => entry[1] !== null)
    .map(([name, inner]) => `  <${name}>${inner}</${name}>`)
    .join('\n');
  const rootAttributes = options.rootAttributes ?? 'version="1"';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<workItem ${rootAttributes}>\n${children}\n${options.extra ?? ''}</workItem>\n`;
}

export function parse(xml: string | Buffer, opts: ParseOptions = OPTS): ParsedMessage {
  return parseMessage(typeof xml === 'string' ? Buffer.from(xml, 'utf8') : xml, opts);
}

export function expectItem(result: ParsedMessage): WorkItem {
  if (result.kind !== 'workItem') throw new Error(`expected a work item, got ${JSON.stringify(result)}`);
  return result.item;
}

export function expectCancel(result: ParsedMessage): CancelRequest {
  if (result.kind !== 'cancel') throw new Error(`expected a cancel, got ${JSON.stringify(result)}`);
  return result.cancel;
}

/** Asserts an `invalid` result with `code` (and `path` when given) and returns its error. */
export function expectInvalid(result: ParsedMessage, code: ErrorCode, pathOf?: string): WorkItemError {
  if (result.kind !== 'invalid') throw new Error(`expected ${code}, got ${JSON.stringify(result)}`);
  expect(result.error.code).toBe(code);
  if (pathOf !== undefined) expect(result.error.path).toBe(pathOf);
  return result.error;
}

export const FIXTURES = path.resolve(__dirname, '../../fixtures/xml');

export function fixture(name: string): Buffer {
  return readFileSync(path.join(FIXTURES, name));
}

/** The project's own sample messages (`examples/`), the ones the README and the contract document use. */
export function examplesDir(): string {
  return path.resolve(__dirname, '../../../examples');
}
