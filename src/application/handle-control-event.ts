import { DispositionCodes, parseDisposition, type Disposition } from '../domain/disposition';
import { CONTACT_ID_PATTERN } from '../domain/work-item';
import type { Deps } from './deps';
import { itemGone } from './attachment-lifecycle';
import { recordStep } from './record-step';
import { flushEntrance } from './parked-items';
import { recordBody } from './route-contact';
import { replayUnfinished } from './replay-unfinished';

export type ControlEvent =
  | { type: 'entrance.closed' | 'entrance.opened'; entrance: string; by: string }
  /** dispositionIgnored: the disposition was malformed (why); it is left out, a warning logged, the item still ends. */
  | { type: 'contact.ended'; contactId: string; disposition?: Disposition; dispositionIgnored?: string }
  | { type: 'contact.rejected'; contactId: string; reason: string }
  | { type: 'server.started' };

/** Reads a control event; anything malformed is reported as a string reason (logged, then acked). */
export function parseControlEvent(routingKey: string, body: Buffer): ControlEvent | string {
  let json: unknown;
  try {
    json = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch {
    return 'body is not JSON';
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'body is not a JSON object';
  const o = json as Record<string, unknown>;
  const str = (k: string) => (typeof o[k] === 'string' && (o[k] as string).length <= 256 ? (o[k] as string) : undefined);
  switch (routingKey) {
    case 'entrance.closed':
    case 'entrance.opened': {
      const entrance = str('entrance');
      return entrance ? { type: routingKey, entrance, by: str('by') ?? 'contact-center' } : 'missing "entrance"';
    }
    case 'contact.ended':
    case 'contact.rejected': {
      const contactId = str('contactId');
      if (!contactId || !CONTACT_ID_PATTERN.test(contactId)) return 'missing or malformed "contactId"';
      if (routingKey === 'contact.rejected') return { type: routingKey, contactId, reason: str('reason') ?? 'unspecified' };
      const disposition = parseDisposition(o.disposition);
      if (typeof disposition === 'string') return { type: routingKey, contactId, dispositionIgnored: disposition };
      return { type: routingKey, contactId, ...(disposition && { disposition }) };
    }
    case 'server.started':
      return { type: 'server.started' };
    default:
      return `unknown control event "${routingKey}"`;
  }
}

export async function handleControlEvent(d: Deps, ev: ControlEvent, owner: string): Promise<void> {
  switch (ev.type) {
    case 'entrance.closed':
    case 'entrance.opened': {
      if (!d.cfg.entrances[ev.entrance]) {
        d.log.warn('control event for an unknown entrance ignored', { event: ev.type, entrance: ev.entrance });
        return;
      }
      const open = ev.type === 'entrance.opened';
      const { changed } = await d.store.setEntrance(ev.entrance, open, ev.by, d.now());
      d.log.info(open ? 'entrance opened' : 'entrance closed', { entrance: ev.entrance, by: ev.by, changed });
      // Flush even when already open: a repeated `opened` is how an operator nudges stuck parked items.
      if (open) await flushEntrance(d, ev.entrance, owner);
      return;
    }
    case 'contact.ended':
      if (ev.dispositionIgnored) {
        d.log.warn('contact.ended with a malformed disposition: the disposition is ignored, the item ends', {
          contactId: ev.contactId,
          reason: ev.dispositionIgnored,
        });
      }
      await endContact(d, ev.contactId, ev.disposition);
      return;
    case 'contact.rejected': {
      const r = await d.store.parkRouted(ev.contactId, d.now(), 'rejected');
      d.notifications?.nudge();
      if (r.outcome !== 'parked') {
        d.log.warn('contact.rejected for an item that is not routed; ignored', { contactId: ev.contactId, state: r.outcome });
        return;
      }
      await d.messaging.parkRecord(r.record.entrance, ev.contactId, recordBody(r.record));
      await recordStep(d, ev.contactId, [
        { step: 'rejected', reason: ev.reason },
        { step: 'parked', reason: 'rejected by the contact center' },
      ]);
      d.metrics.item('buffered', { entrance: r.record.entrance, taskType: r.record.taskType });
      d.log.info('contact rejected by the contact center; item parked', { contactId: ev.contactId, reason: ev.reason });
      return;
    }
    case 'server.started':
      await replayUnfinished(d, 'server.started', owner);
      return;
  }
}

/** The codes counted by name in this process (the rest as `other`): bounded metric labels and report counters. */
const dispositionCodes = new DispositionCodes();

/**
 * The agent pressed End: state and attachment go, completion is counted (by disposition code, when one is given: the
 * `code` label of the `completed` outcome, and the report's dispositions), and the service level (time to end, ended
 * before its dueAt). Unknown ids are harmless.
 */
export async function endContact(d: Deps, contactId: string, disposition?: Disposition): Promise<boolean> {
  const counted = disposition && dispositionCodes.label(disposition.code);
  const nowMs = d.now();
  const r = await d.store.end(contactId, nowMs, disposition && counted ? { ...disposition, counted } : undefined);
  d.notifications?.nudge();
  if (r.outcome === 'unknown') {
    d.log.info('contact.ended for an unknown or already ended contact; nothing to do', { contactId });
    return false;
  }
  await itemGone(d, {
    contactId,
    hadAttachment: r.hadAttachment,
    why: 'ended',
    // The time the store counted: the history's received and ended steps are the time to end exactly.
    at: nowMs,
    ...(disposition && { code: disposition.code, ...(disposition.text !== undefined && { reason: disposition.text }) }),
  });
  d.metrics.item('completed', { entrance: r.entrance, taskType: r.taskType, ...(counted && { code: counted }) });
  d.metrics.ended({ entrance: r.entrance, taskType: r.taskType }, r.handledMs, r.due);
  d.log.debug('work item completed', {
    contactId,
    entrance: r.entrance,
    taskType: r.taskType,
    handledMs: r.handledMs,
    ...(disposition && { disposition: disposition.code }),
  });
  return true;
}
