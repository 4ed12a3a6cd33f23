import { readOwnDocument } from './read-own-document';
import { isNotificationEvent, type Notification } from '../../domain/notification';
import { escapeAttribute, escapeText } from './render-receipt';

const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';
const MAX_NOTIFICATION_BYTES = 64 * 1024;

/** The wire form of a notification, as the contract shows it (attribute order included). */
export interface NotificationXml {
  event: string;
  externalId: string;
  source: string;
  contactId: string;
  entrance: string;
  at: string;
  reason?: string;
  until?: string;
  dueAt?: string;
  disposition?: { code: string; text?: string };
}

const ATTRIBUTES = ['event', 'externalId', 'source', 'contactId', 'entrance', 'at', 'reason', 'until', 'dueAt'] as const;

/**
 * `<workItemNotification event externalId source contactId entrance at [reason] [until] [dueAt]>` with a
 * `<disposition code>text</disposition>` for `ended` when the contact center gave one.
 */
export function renderNotification(n: Notification): Buffer {
  const wire: NotificationXml = {
    event: n.event,
    externalId: n.externalId,
    source: n.source,
    contactId: n.contactId,
    entrance: n.entrance,
    at: new Date(n.atMs).toISOString(),
    ...(n.reason !== undefined && { reason: n.reason }),
    ...(n.until !== undefined && { until: n.until }),
    ...(n.dueMs !== undefined && { dueAt: new Date(n.dueMs).toISOString() }),
  };
  let attributes = '';
  for (const name of ATTRIBUTES) {
    const value = wire[name];
    if (value !== undefined) attributes += ` ${name}="${escapeAttribute(value)}"`;
  }
  const d = n.disposition;
  const element = d
    ? `<workItemNotification${attributes}><disposition code="${escapeAttribute(d.code)}">${escapeText(d.text ?? '')}</disposition></workItemNotification>`
    : `<workItemNotification${attributes}/>`;
  return Buffer.from(`${DECLARATION}\n${element}\n`, 'utf8');
}

/** Reads a `<workItemNotification>` back (tests, the CLI). Throws an Error naming the problem when it is not one. */
export function parseNotification(buf: Buffer): NotificationXml {
  const root = readOwnDocument(buf, 'workItemNotification', 'workItemNotification', MAX_NOTIFICATION_BYTES);
  const element = root as { $?: Record<string, unknown>; disposition?: unknown };
  const attrs = element.$ ?? {};
  const str = (name: string): string | undefined => (typeof attrs[name] === 'string' ? attrs[name] : undefined);
  const event = str('event') ?? '';
  if (!isNotificationEvent(event)) throw new Error(`workItemNotification has an unknown event "${event}"`);
  const out: Record<string, unknown> = {};
  for (const name of ATTRIBUTES) {
    const v = str(name);
    if (v !== undefined) out[name] = v;
  }
  const disp = Array.isArray(element.disposition) ? (element.disposition[0] as unknown) : undefined;
  if (disp !== undefined) {
    const d = typeof disp === 'string' ? { _: disp } : (disp as { $?: Record<string, unknown>; _?: unknown });
    const code = typeof d.$?.code === 'string' ? d.$.code : '';
    out.disposition = { code, ...(typeof d._ === 'string' && d._ !== '' && { text: d._ }) };
  }
  return out as unknown as NotificationXml;
}
