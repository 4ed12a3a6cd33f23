import { copyContactData } from './contact-data';
import type { Customer, SocialRef, WorkItem } from './work-item';

/** The attachment as events carry it: a reference, never the bytes. */
export interface AttachmentRef {
  fileName: string;
  contentType: string;
  size: number;
  sha256: string;
  url: string;
}

export interface Presentation {
  icon: 'workitem';
  preview: string;
  /** Work items get no reply: the agent's desktop hides the reply button. */
  reply: false;
  /** Not an email that arrived through a mail server. */
  didNotArrive: false;
}

/**
 * Everything about an item that the `contact.created` event carries, fixed when the item is accepted.
 * Stored in Redis as the item's record, so a replay re-publishes exactly the same contact.
 */
export interface ContactRecord {
  contactId: string;
  externalId: string;
  source: string;
  entrance: string;
  channel: 'email';
  workItem: true;
  taskType: string;
  priority: number;
  subject: string;
  dueAt?: string;
  customer?: Customer;
  contactData: Record<string, string>;
  presentation: Presentation;
  attachment?: AttachmentRef;
  social?: Omit<SocialRef, 'pageName' | 'platformName'>;
  receivedAt: string;
}

export interface ContactCreatedEvent extends ContactRecord {
  type: 'contact.created';
  eventId: string;
  replayed: boolean;
  /** Contract 1.2: the item comes back from hold (a resume or its until), same contactId; absent otherwise. */
  resumed?: true;
  createdAt: string;
}

/**
 * `contact.updated` (contract 1.1): the whole current contact, like `contact.created`, plus what this update changed
 * and its revision when the sender gave one. Contract 1.2: an escalation rule raised the priority (`reason`
 * `escalation`, `changed` `["priority"]`, no revision: it is not a sender's update); absent for a sender's update.
 */
export interface ContactUpdatedEvent extends ContactRecord {
  type: 'contact.updated';
  eventId: string;
  replayed: false;
  createdAt: string;
  changed: string[];
  revision?: number;
  reason?: UpdatedReason;
}

/** Why a contact.updated was published when it was not a sender's update (contract 1.2). */
export type UpdatedReason = 'escalation';

/**
 * `contact.withdrawn` (reason `cancelled-by-sender`, `cancelled-by-operator`, or `held`: the item is on hold, contract
 * 1.2) and `contact.expired` (parked too long, or its expiresAt passed).
 */
export interface ContactClosedEvent extends Pick<
  ContactRecord,
  'contactId' | 'externalId' | 'source' | 'entrance' | 'channel' | 'workItem' | 'taskType'
> {
  type: 'contact.withdrawn' | 'contact.expired';
  eventId: string;
  reason: string;
  createdAt: string;
}

export const PREVIEW_CHARS = 200;

function socialPreview(social: SocialRef): string {
  const platform = social.platformName ?? social.platform.charAt(0).toUpperCase() + social.platform.slice(1);
  const kind = social.postId && social.postId.includes('_') ? 'comment' : 'post';
  const page = social.pageName ? ` on ${social.pageName}` : '';
  const author = social.author ? ` by ${social.author}` : '';
  return `${platform} ${kind}${page}${author}`;
}

export function buildPreview(item: Pick<WorkItem, 'body' | 'subject' | 'social'>): string {
  const text = collapsedPrefix(item.body ?? '', PREVIEW_CHARS);
  if (!item.social) return text;
  return Array.from(`${socialPreview(item.social)}: ${text || item.subject}`)
    .slice(0, PREVIEW_CHARS)
    .join('');
}

/** What `/\s/` matches, by UTF-16 code unit (all of it is in the BMP). */
function isSpace(c: number): boolean {
  if (c < 128) return c === 32 || (c >= 9 && c <= 13);
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/**
 * The first `max` code points of `s` with whitespace runs collapsed to one space and both ends trimmed:
 * the same as `s.replace(/\s+/g, ' ').trim()` cut to `max` code points, without scanning a 64 KiB body.
 * Copies runs of non-space text as slices (one per word), counting a surrogate pair as one code point.
 */
function collapsedPrefix(s: string, max: number): string {
  let out = '';
  let n = 0;
  let space = false;
  let i = 0;
  while (i < s.length && n < max) {
    if (isSpace(s.charCodeAt(i))) {
      space = n > 0;
      i++;
      continue;
    }
    if (space) {
      out += ' ';
      n++;
      space = false;
      if (n >= max) break;
    }
    const from = i;
    while (i < s.length && n < max) {
      const c = s.charCodeAt(i);
      if (isSpace(c)) break;
      i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      n++;
    }
    out += s.slice(from, i);
  }
  return out;
}

/** Pure transform: validated item + identity → the record every contact event of this item is built from. */
export function toContactRecord(item: WorkItem, contactId: string, receivedAt: string, attachment?: AttachmentRef): ContactRecord {
  const contactData = copyContactData(item.contactData);
  const record: ContactRecord = {
    contactId,
    externalId: item.externalId,
    source: item.source,
    entrance: item.entrance,
    channel: 'email',
    workItem: true,
    taskType: item.taskType,
    priority: item.priority,
    subject: item.subject,
    contactData,
    presentation: { icon: 'workitem', preview: buildPreview(item), reply: false, didNotArrive: false },
    receivedAt,
  };
  if (item.dueAt !== undefined) record.dueAt = item.dueAt;
  if (item.customer !== undefined) record.customer = { ...item.customer };
  if (attachment) record.attachment = attachment;
  if (item.social) {
    const { pageName: _pageName, platformName: _platformName, ...social } = item.social;
    record.social = social;
  }
  return record;
}

export function toCreatedEvent(record: ContactRecord, eventId: string, replayed: boolean, now: Date, resumed = false): ContactCreatedEvent {
  return {
    type: 'contact.created',
    eventId,
    ...record,
    replayed,
    ...(resumed && { resumed: true as const }),
    createdAt: now.toISOString(),
  };
}

export function toUpdatedEvent(
  record: ContactRecord,
  changed: string[],
  revision: number | undefined,
  eventId: string,
  now: Date,
  reason?: UpdatedReason,
): ContactUpdatedEvent {
  return {
    type: 'contact.updated',
    eventId,
    ...record,
    replayed: false,
    createdAt: now.toISOString(),
    changed: [...changed],
    ...(revision !== undefined && { revision }),
    ...(reason !== undefined && { reason }),
  };
}

export type ContactEvent = ContactCreatedEvent | ContactUpdatedEvent | ContactClosedEvent;

export function toClosedEvent(
  type: ContactClosedEvent['type'],
  record: Pick<ContactRecord, 'contactId' | 'externalId' | 'source' | 'entrance' | 'taskType'>,
  reason: string,
  eventId: string,
  now: Date,
): ContactClosedEvent {
  return {
    type,
    eventId,
    contactId: record.contactId,
    externalId: record.externalId,
    source: record.source,
    entrance: record.entrance,
    channel: 'email',
    workItem: true,
    taskType: record.taskType,
    reason,
    createdAt: now.toISOString(),
  };
}
