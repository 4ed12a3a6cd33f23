import type { Customer } from '../../../domain/work-item';
import { statusOfState, wireState, type WireState } from '../../../domain/receipt';
import type { StoredItem } from '../../../ports/state-store';

export interface ItemSummary {
  contactId: string;
  externalId: string;
  source: string;
  entrance: string;
  taskType: string;
  /** As the API says it: a parked item is `buffered`. */
  state: WireState;
  receiptStatus: 'accepted' | 'buffered' | 'scheduled' | 'held';
  priority: number;
  subject: string;
  receivedAt: string;
  parkedAt: string | null;
  /** Contract 1.1: when a scheduled item is routed, and when the item expires. */
  activateAt: string | null;
  expiresAt: string | null;
  /** Contract 1.2, while held: where it was held from, since when, until when (null: until resumed) and why. */
  held: { from: WireState; since: string; until: string | null; reason: string | null } | null;
}

export interface ItemDetail extends ItemSummary {
  channel: string;
  dueAt: string | null;
  customer: Customer | null;
  contactData: Record<string, string>;
  preview: string;
  /** The reference only (never the bytes): the link is a signed, expiring /attachments URL (relative). */
  attachment: { fileName: string; contentType: string; size: number; sha256: string; link: string } | null;
  social: { platform: string; pageId: string; postId?: string; author?: string } | null;
}

export function itemSummary(it: StoredItem): ItemSummary {
  const r = it.record;
  return {
    contactId: it.contactId,
    externalId: r.externalId,
    source: r.source,
    entrance: r.entrance,
    taskType: r.taskType,
    state: wireState(it.state),
    receiptStatus: statusOfState(it.state),
    priority: r.priority,
    subject: r.subject,
    receivedAt: r.receivedAt,
    parkedAt: it.parkedAt ? new Date(it.parkedAt).toISOString() : null,
    activateAt: it.activateAt ?? null,
    expiresAt: it.expiresAt ?? null,
    held: it.held
      ? {
          from: wireState(it.held.from),
          since: new Date(it.held.atMs).toISOString(),
          until: it.held.until ?? null,
          reason: it.held.reason ?? null,
        }
      : null,
  };
}

/** attachmentLink: the signed path of the item's attachment (the dashboard's session does not reach /attachments). */
export function itemDetail(it: StoredItem, attachmentLink: (contactId: string, fileName: string) => string): ItemDetail {
  const r = it.record;
  const contactData: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.contactData)) contactData[k] = v;
  return {
    ...itemSummary(it),
    channel: r.channel,
    dueAt: r.dueAt ?? null,
    customer: r.customer ?? null,
    contactData,
    preview: r.presentation?.preview ?? '',
    attachment: r.attachment
      ? {
          fileName: r.attachment.fileName,
          contentType: r.attachment.contentType,
          size: r.attachment.size,
          sha256: r.attachment.sha256,
          link: attachmentLink(it.contactId, r.attachment.fileName),
        }
      : null,
    social: r.social ? { platform: r.social.platform, pageId: r.social.pageId, postId: r.social.postId, author: r.social.author } : null,
  };
}
