import { handleControlEvent } from '../../../../src/application/handle-control-event';
import { handleInboundMessage } from '../../../../src/application/handle-inbound-message';
import type { Outcome } from '../../../../src/application/outcome';
import type { CancelRequest, HoldRequest, ParsedMessage, UpdateRequest, WorkItem } from '../../../../src/domain/work-item';
import type { InboundMessage } from '../../../../src/ports/messaging';
import type { FixedParser } from './message-parser';
import { ENTRANCE, type Testbed } from './testbed';

/** Test data: what the XML adapter would hand over, and the deliveries that carry it. */

export const SOURCE = 'voicemail';

export function workItem(n: number, over: Partial<WorkItem> = {}): WorkItem {
  return {
    externalId: `CASE-${n}`,
    source: SOURCE,
    entrance: ENTRANCE,
    priority: 5,
    subject: `Call back ${n}`,
    body: 'Please call me back.',
    contactData: Object.assign(Object.create(null) as Record<string, string>, { WorkItemTask: 'callback' }),
    taskType: 'callback',
    ...over,
  };
}

export const item = (n: number, over: Partial<WorkItem> = {}): ParsedMessage => ({ kind: 'workItem', item: workItem(n, over) });

export const cancel = (n: number, over: Partial<CancelRequest> = {}): ParsedMessage => ({
  kind: 'cancel',
  cancel: { externalId: `CASE-${n}`, source: SOURCE, ...over },
});

export const update = (n: number, over: Partial<UpdateRequest> = {}): ParsedMessage => ({
  kind: 'update',
  update: { externalId: `CASE-${n}`, source: SOURCE, ...over },
});

export const hold = (n: number, over: Partial<HoldRequest> = {}): ParsedMessage => ({
  kind: 'hold',
  hold: { externalId: `CASE-${n}`, source: SOURCE, ...over },
});

export const resume = (n: number): ParsedMessage => ({ kind: 'resume', resume: { externalId: `CASE-${n}`, source: SOURCE } });

export interface DeliveryOptions {
  routingKey?: string;
  redelivered?: boolean;
  messageId?: string;
  correlationId?: string;
  replyTo?: string;
}

/** A sender's message as it arrives on the inbound queue, its body standing for `parsed`. */
export function delivery(parser: FixedParser, parsed: ParsedMessage, o: DeliveryOptions = {}): InboundMessage {
  const routingKey = o.routingKey ?? `workitem.${SOURCE}`;
  const properties = {
    replyTo: 'replyTo' in o ? o.replyTo : 'sender-replies',
    correlationId: o.correlationId ?? 'corr-1',
    ...(o.messageId !== undefined && { messageId: o.messageId }),
  };
  return {
    body: parser.body(parsed),
    exchange: 'workitem.in',
    routingKey,
    senderRoutingKey: routingKey,
    senderExchange: 'workitem.in',
    redelivered: o.redelivered ?? false,
    properties: { ...properties, headers: {}, other: {} },
  };
}

/** The same delivery again, as the broker redelivers it after a requeue. */
export function redelivery(msg: InboundMessage): InboundMessage {
  return { ...msg, redelivered: true };
}

/** Delivers `parsed` as a sender's message through the inbound entry point. */
export async function send(
  tb: Testbed,
  parsed: ParsedMessage,
  o: DeliveryOptions = {},
): Promise<{ msg: InboundMessage; outcome: Outcome }> {
  const msg = delivery(tb.parser, parsed, o);
  return { msg, outcome: await handleInboundMessage(tb.d, msg) };
}

/** Delivers a message again (a parked message back after its TTL, a redelivery) through the inbound entry point. */
export function deliver(tb: Testbed, msg: InboundMessage): Promise<Outcome> {
  return handleInboundMessage(tb.d, msg);
}

/** The contactId of an outcome that has one. */
export function cidOf(o: Outcome): string {
  if (!('contactId' in o)) throw new Error(`outcome ${o.kind} has no contactId`);
  return o.contactId;
}

export const closeEntrance = (tb: Testbed, entrance = ENTRANCE) =>
  handleControlEvent(tb.d, { type: 'entrance.closed', entrance, by: 'contact-center' }, 'test-owner');

export const openEntrance = (tb: Testbed, entrance = ENTRANCE) =>
  handleControlEvent(tb.d, { type: 'entrance.opened', entrance, by: 'contact-center' }, 'test-owner');

/** Closes the entrance and sends items 1..n to it: each parked, its message in the park queue. Their contactIds. */
export async function parkItems(tb: Testbed, n: number): Promise<string[]> {
  await closeEntrance(tb);
  const ids: string[] = [];
  for (let i = 1; i <= n; i++) ids.push(cidOf((await send(tb, item(i))).outcome));
  return ids;
}
