import { readOwnDocument } from './read-own-document';
import type { InfoState, InfoStep, ItemInfo } from '../../domain/receipt';
import { escapeAttribute } from './render-receipt';

const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';
/** Attribute order of the contract ("Status query"). */
const ATTRIBUTE_ORDER = [
  'externalId',
  'source',
  'contactId',
  'state',
  'entrance',
  'priority',
  'receivedAt',
  'updatedAt',
  'revision',
  'dueAt',
  'expiresAt',
  'heldUntil',
] as const;
const NUMERIC: ReadonlySet<string> = new Set(['priority', 'revision']);
const INFO_STATES: readonly InfoState[] = ['scheduled', 'buffered', 'routed', 'held', 'ended', 'cancelled', 'expired'];
const MAX_INFO_BYTES = 4 * 1024 * 1024;

/** Renders the contract's `<workItemInfo …>` with one `<step at name/>` per history step, in order. */
export function renderItemInfo(info: ItemInfo): Buffer {
  let attributes = '';
  for (const name of ATTRIBUTE_ORDER) {
    const value = info[name];
    if (value !== undefined) attributes += ` ${name}="${escapeAttribute(String(value))}"`;
  }
  const steps = info.steps.map((s) => `<step at="${escapeAttribute(s.at)}" name="${escapeAttribute(s.name)}"/>`).join('');
  const element = steps === '' ? `<workItemInfo${attributes}/>` : `<workItemInfo${attributes}>${steps}</workItemInfo>`;
  return Buffer.from(`${DECLARATION}\n${element}\n`, 'utf8');
}

/** Reads a `<workItemInfo>` back (tests, `workitem get`). Throws an Error naming the problem when it is not one. */
export function parseItemInfo(buf: Buffer): ItemInfo {
  const root = readOwnDocument(buf, 'workItemInfo', 'workItemInfo', MAX_INFO_BYTES);
  const element = root as { $?: Record<string, unknown>; step?: unknown };
  const attrs = element.$ ?? {};
  const str = (name: string): string | undefined => (typeof attrs[name] === 'string' ? attrs[name] : undefined);
  const state = str('state');
  if (!INFO_STATES.includes(state as InfoState)) throw new Error(`workItemInfo has an unknown state "${state}"`);
  const info: Record<string, unknown> = {};
  for (const name of ATTRIBUTE_ORDER) {
    const v = str(name);
    if (v !== undefined) info[name] = NUMERIC.has(name) ? Number(v) : v;
  }
  const steps: InfoStep[] = (Array.isArray(element.step) ? element.step : []).map((s: unknown) => {
    const a = (typeof s === 'object' && s !== null ? (s as { $?: Record<string, unknown> }).$ : undefined) ?? {};
    return { at: typeof a.at === 'string' ? a.at : '', name: typeof a.name === 'string' ? a.name : '' };
  });
  return { ...(info as unknown as Omit<ItemInfo, 'steps'>), steps };
}
