import { readOwnDocument } from './read-own-document';
import { ERROR_CODES, ErrorCode, WorkItemError } from '../../domain/error-codes';
import type { FinishedState, ReceiptData, ReceiptStatus } from '../../domain/receipt';
import { stripIllegalXmlChars } from './xml-chars';

/** The receipt shape lives in the domain (ports use it); re-exported as the adapter's API. */
export type { ReceiptData } from '../../domain/receipt';

const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';
const RECEIPT_STATUSES: readonly ReceiptStatus[] = [
  'accepted',
  'buffered',
  'scheduled',
  'duplicate',
  'updated',
  'cancelled',
  'rejected',
  'held',
  'resumed',
];
/** Attribute order of the contract. */
const ATTRIBUTE_ORDER = ['status', 'externalId', 'source', 'contactId', 'entrance', 'receivedAt', 'state'] as const;
const FINISHED_STATES: readonly FinishedState[] = ['ended', 'cancelled', 'expired'];
const MAX_RECEIPT_BYTES = 1024 * 1024;

/** Renders the contract's `<workItemReceipt …/>`, with an `<error>` child when an error is given. */
export function renderReceipt(r: ReceiptData): Buffer {
  let attributes = '';
  for (const name of ATTRIBUTE_ORDER) {
    const value = r[name];
    if (value !== undefined) attributes += ` ${name}="${escapeAttribute(String(value))}"`;
  }
  const content = r.error ? renderError(r.error) : '';
  const element = content === '' ? `<workItemReceipt${attributes}/>` : `<workItemReceipt${attributes}>${content}</workItemReceipt>`;
  return Buffer.from(`${DECLARATION}\n${element}\n`, 'utf8');
}

function renderError(e: WorkItemError): string {
  return `<error code="${escapeAttribute(e.code)}" path="${escapeAttribute(e.path)}">${escapeText(e.message)}</error>`;
}

const TEXT_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  // a literal CR would be normalised to LF by the reader
  '\r': '&#13;',
};
const ATTRIBUTE_ESCAPES: Record<string, string> = {
  ...TEXT_ESCAPES,
  // literal whitespace in attribute values is normalised to spaces by the reader
  '\t': '&#9;',
  '\n': '&#10;',
};

const TEXT_SPECIAL = /[&<>"'\r]/g;
const ATTRIBUTE_SPECIAL = /[&<>"'\t\n\r]/g;

export function escapeText(value: string): string {
  return stripIllegalXmlChars(value).replace(TEXT_SPECIAL, (c) => TEXT_ESCAPES[c]);
}

export function escapeAttribute(value: string): string {
  return stripIllegalXmlChars(value).replace(ATTRIBUTE_SPECIAL, (c) => ATTRIBUTE_ESCAPES[c]);
}

/**
 * Reads a receipt back (tests, `workitem send --wait`). Throws an Error naming the problem when
 * the body is not a receipt of this contract.
 */
export function parseReceipt(buf: Buffer): ReceiptData {
  const root = parseReceiptXml(buf);
  const attrs = stringRecord(root.$);
  const status = attrs.status;
  if (!RECEIPT_STATUSES.includes(status as ReceiptStatus)) throw new Error(`receipt has an unknown status "${status}"`);
  const receipt: ReceiptData = { status: status as ReceiptStatus };
  for (const name of ATTRIBUTE_ORDER) {
    if (name === 'status' || name === 'state' || attrs[name] === undefined) continue;
    receipt[name] = attrs[name];
  }
  if (attrs.state !== undefined) {
    if (!FINISHED_STATES.includes(attrs.state as FinishedState)) throw new Error(`receipt has an unknown state "${attrs.state}"`);
    receipt.state = attrs.state as FinishedState;
  }
  const error = readErrorElement(root.error);
  return error ? { ...receipt, error } : receipt;
}

interface ReceiptElement {
  $?: unknown;
  error?: unknown;
}

function parseReceiptXml(buf: Buffer): ReceiptElement {
  return readOwnDocument(buf, 'workItemReceipt', 'receipt', MAX_RECEIPT_BYTES) as ReceiptElement;
}

function readErrorElement(value: unknown): WorkItemError | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const element: unknown = value[0];
  const isObject = typeof element === 'object' && element !== null;
  const attrs = stringRecord(isObject ? (element as { $?: unknown }).$ : undefined);
  const text = isObject ? (element as { _?: unknown })._ : element;
  const code = attrs.code;
  if (!ERROR_CODES.includes(code as ErrorCode)) throw new Error(`receipt has an unknown error code "${code}"`);
  return { code: code as ErrorCode, path: attrs.path ?? '/', message: typeof text === 'string' ? text : '' };
}

function stringRecord(value: unknown): Partial<Record<string, string>> {
  const out: Partial<Record<string, string>> = Object.create(null) as Partial<Record<string, string>>;
  if (typeof value !== 'object' || value === null) return out;
  for (const [key, v] of Object.entries(value)) if (typeof v === 'string') out[key] = v;
  return out;
}
