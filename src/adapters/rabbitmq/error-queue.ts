import { createHash, randomUUID } from 'node:crypto';
import type * as amqp from 'amqplib';
import type { ErrorMessageInfo, ErrorMessageView, ReplayProgress, ReplayResult } from '../../ports/error-queue';
import { TransientError } from '../../ports/messaging';
import type { AmqpConnection } from './amqp-connection';
import { PUBLISH_ID_HEADER, type ConfirmedPublisher } from './confirmed-publisher';
import { ORIGINAL_ROUTING_KEY_HEADER } from './inbound-message';

/**
 * Browsing and replaying the error queue, shared by `workitem errors` and the dashboard.
 *
 * Browsing takes nothing away: messages are fetched unacknowledged and handed back when the channel closes
 * (RabbitMQ returns them ahead of newer messages, in their original order). A replay republishes each selected
 * message to the inbound exchange and acks it on the error queue only once the broker confirmed the republish,
 * so an interruption at any point leaves every message in the error queue, the inbound queue, or (only if the
 * process dies between a confirm and its ack) both — processed twice, never lost.
 */

function headerString(headers: Record<string, unknown>, name: string): string | undefined {
  const v = headers[name];
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function headersOf(m: amqp.Message): Record<string, unknown> {
  return (m.properties.headers ?? {}) as Record<string, unknown>;
}

/**
 * The error code: the x-error-code header, else the routing key it got on the error exchange (DEAD_LETTERED, or
 * DELIVERY_LIMIT on a copy the broker dead-lettered there itself before this version).
 */
export function errorCodeOf(m: amqp.Message): string {
  return headerString(headersOf(m), 'x-error-code') ?? m.fields.routingKey;
}

/**
 * Where the sender published it: x-original-routing-key, else (a message the broker dead-lettered from the inbound
 * queue after too many deliveries) the routing key recorded in x-death for the inbound exchange.
 */
export function originalRoutingKey(m: amqp.Message, inboundExchange: string): string | undefined {
  const headers = headersOf(m);
  const key = headerString(headers, ORIGINAL_ROUTING_KEY_HEADER);
  if (key) return key;
  const deaths = headers['x-death'];
  if (!Array.isArray(deaths)) return undefined;
  for (const d of deaths as Record<string, unknown>[]) {
    const keys = d?.['routing-keys'];
    if (d?.exchange === inboundExchange && Array.isArray(keys) && typeof keys[0] === 'string') return keys[0];
  }
  return undefined;
}

export function errorMessageId(m: amqp.Message): string {
  const h = headersOf(m);
  return createHash('sha256')
    .update(`${m.properties.messageId ?? ''}\0${headerString(h, 'x-failed-at') ?? ''}\0${errorCodeOf(m)}\0`)
    .update(m.content)
    .digest('hex')
    .slice(0, 20);
}

export function describeErrorMessage(m: amqp.Message, inboundExchange: string): ErrorMessageInfo {
  const h = headersOf(m);
  return {
    id: errorMessageId(m),
    code: errorCodeOf(m),
    path: headerString(h, 'x-error-path') ?? null,
    message: headerString(h, 'x-error-message') ?? null,
    firstFailedAt: headerString(h, 'x-first-failed-at') ?? null,
    failedAt: headerString(h, 'x-failed-at') ?? null,
    originalRoutingKey: originalRoutingKey(m, inboundExchange) ?? null,
    originalExchange: headerString(h, 'x-original-exchange') ?? null,
    messageId: m.properties.messageId ?? null,
    redelivered: m.fields.redelivered,
  };
}

export interface BrowseOptions<T> {
  queue: string;
  /** Fetch at most this many messages. */
  budget: number;
  /** Stop once this many matched. */
  limit: number;
  match?: (m: amqp.GetMessage) => boolean;
  view: (m: amqp.GetMessage) => T;
}

/** Looks at messages without removing any; closes `ch`, which hands every fetched message back to the queue. */
export async function browseErrorQueue<T>(ch: amqp.Channel, o: BrowseOptions<T>): Promise<{ examined: number; found: T[] }> {
  const found: T[] = [];
  let examined = 0;
  try {
    while (examined < o.budget && found.length < o.limit) {
      const m = await ch.get(o.queue, { noAck: false });
      if (!m) break;
      examined++;
      if (o.match && !o.match(m)) continue;
      found.push(o.view(m));
    }
  } finally {
    await ch.close().catch(() => undefined);
  }
  return { examined, found };
}

const DELIVERY_HEADERS = [
  'x-failed-at',
  'x-original-exchange',
  ORIGINAL_ROUTING_KEY_HEADER,
  'x-death',
  'x-delivery-count',
  PUBLISH_ID_HEADER,
];

/** Headers about the failed delivery, not the message: the replayed message starts fresh (x-first-failed-at stays). */
function isFailureHeader(name: string): boolean {
  return (
    name.startsWith('x-error-') || name.startsWith('x-first-death-') || name.startsWith('x-last-death-') || DELIVERY_HEADERS.includes(name)
  );
}

/** The original properties for the republish; user_id (checked against our login) and expiration are not kept. */
export function replayProperties(m: amqp.Message): amqp.Options.Publish {
  const p = m.properties;
  const headers: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headersOf(m))) if (!isFailureHeader(k)) headers[k] = v;
  const props: amqp.Options.Publish = {
    contentType: p.contentType,
    contentEncoding: p.contentEncoding,
    correlationId: p.correlationId,
    replyTo: p.replyTo,
    messageId: p.messageId,
    timestamp: p.timestamp,
    type: p.type,
    appId: p.appId,
    priority: p.priority,
    headers,
    persistent: true,
  };
  for (const k of Object.keys(props) as (keyof amqp.Options.Publish)[]) if (props[k] === undefined) delete props[k];
  return props;
}

/** A confirmed, mandatory publish: 'returned' when no queue took the message. */
export type Republish = (
  exchange: string,
  routingKey: string,
  body: Buffer,
  properties: amqp.Options.Publish,
) => Promise<'confirmed' | 'returned'>;

export interface ReplayOptions {
  queue: string;
  inboundExchange: string;
  /** Only the messages present at the start are looked at, so replayed ones that fail again are not met twice. */
  total: number;
  /** Which messages to move (default: all); the others stay in the queue. */
  select?: (m: amqp.GetMessage) => boolean;
  /** Move at most this many. */
  limit?: number;
  /** Republishes awaiting their confirm at once. */
  window?: number;
  /** Checked before each fetch: true stops the replay; messages in flight are finished first. */
  shouldStop?: () => boolean;
  /** Called after each examined message and each settled republish. */
  onProgress?: (p: Readonly<ReplayProgress>) => void;
  /** The error for a republish no queue took (the inbound queue is missing). */
  unroutable?: (exchange: string, routingKey: string) => Error;
}

/** Confirms from quorum queues take milliseconds each: keep this many republishes in flight. */
export const DEFAULT_REPLAY_WINDOW = 64;

/**
 * Moves selected messages from the error queue back to the inbound exchange (original routing key). Each is
 * acked on `ch` only after the broker confirmed its republish; `ch` is closed at the end, which returns every
 * message not acked (kept, failed, or not reached) to the queue.
 */
export async function replayErrorQueue(ch: amqp.Channel, publish: Republish, o: ReplayOptions): Promise<ReplayResult> {
  const window = o.window ?? DEFAULT_REPLAY_WINDOW;
  const r: ReplayProgress = { examined: 0, moved: 0, kept: 0, noRoutingKey: 0 };
  const report = () => o.onProgress?.(r);
  let selected = 0;
  let failure: unknown;
  const inFlight = new Set<Promise<void>>();

  const move = (m: amqp.GetMessage, key: string): Promise<void> =>
    publish(o.inboundExchange, key, m.content, replayProperties(m)).then(
      (outcome) => {
        if (outcome === 'confirmed') {
          try {
            ch.ack(m);
            r.moved++;
          } catch (err) {
            // The channel is gone: the message returns to the error queue and is also republished (twice, never lost).
            r.kept++;
            failure ??= err;
          }
        } else {
          r.kept++;
          failure ??= o.unroutable?.(o.inboundExchange, key) ?? new Error(`exchange "${o.inboundExchange}" routed nothing for ${key}`);
        }
        report();
      },
      (err: unknown) => {
        r.kept++;
        failure ??= err;
        report();
      },
    );

  try {
    while (r.examined < o.total && !o.shouldStop?.() && !failure && (o.limit === undefined || selected < o.limit)) {
      while (inFlight.size >= window) await Promise.race(inFlight);
      if (failure) break;
      const m = await ch.get(o.queue, { noAck: false });
      if (!m) break;
      r.examined++;
      const key = originalRoutingKey(m, o.inboundExchange);
      if (o.select && !o.select(m)) {
        r.kept++; // left unacked: back in the queue when the channel closes
      } else if (!key) {
        r.kept++;
        r.noRoutingKey++;
      } else {
        selected++;
        const p: Promise<void> = move(m, key).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      report();
    }
  } catch (err) {
    failure ??= err;
  } finally {
    await Promise.allSettled(inFlight);
    // Acks went out before this close on the same channel; everything not acked goes back to the queue.
    await ch.close().catch(() => undefined);
  }
  return failure === undefined ? { progress: r } : { progress: r, failure };
}

/** The first `max` characters of a body, control characters replaced, `…` when cut. */
export function bodyPreview(body: Buffer, max: number): string {
  const chars = Array.from(
    body
      .subarray(0, max * 4)
      .toString('utf8')
      .replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ')
      .trim(),
  );
  return chars.length > max ? `${chars.slice(0, max).join('')}…` : chars.join('');
}

/**
 * The error queue of a running service: counted and browsed on fresh channels of `openChannel` (the consume
 * connection), replayed through `publish` (a confirmed publisher).
 */
export class ErrorQueue {
  /**
   * The running service's error queue: browsed on fresh channels of the consume connection, replayed through `bulk`
   * (the bulk connection), so a burst of republished messages never queues in front of contact events.
   */
  static onConnections(
    consumeConn: AmqpConnection,
    bulk: ConfirmedPublisher,
    names: { errorQueue: string; inboundExchange: string },
  ): ErrorQueue {
    return new ErrorQueue(
      async () => {
        const model = consumeConn.current;
        if (!model) throw new TransientError('broker not connected');
        const ch = await model.createChannel();
        ch.on('error', () => undefined); // a channel error closes the channel; the operation that caused it fails
        return ch;
      },
      (exchange, routingKey, body, props) =>
        bulk.publish(
          exchange,
          routingKey,
          body,
          // The publish-id header matches a return to its publish; message_id stays as the sender sent it (maybe none).
          { ...props, messageId: props.messageId as string, headers: { ...props.headers, [PUBLISH_ID_HEADER]: randomUUID() } },
          true,
        ),
      names,
    );
  }

  constructor(
    private readonly openChannel: () => Promise<amqp.Channel>,
    private readonly publish: Republish,
    private readonly names: { errorQueue: string; inboundExchange: string },
  ) {}

  get queue(): string {
    return this.names.errorQueue;
  }

  async count(): Promise<number> {
    const ch = await this.openChannel();
    try {
      return (await ch.checkQueue(this.names.errorQueue)).messageCount;
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  /** Up to `max` messages from the head of the queue, nothing removed. */
  async browse(max: number, previewChars = 160): Promise<{ total: number; examined: number; messages: ErrorMessageView[] }> {
    const total = await this.count();
    const { examined, found } = await browseErrorQueue(await this.openChannel(), {
      queue: this.names.errorQueue,
      budget: Math.min(max, total),
      limit: max,
      view: (m) => {
        const info = describeErrorMessage(m, this.names.inboundExchange);
        return { ...info, bodyPreview: bodyPreview(m.content, previewChars), replayable: info.originalRoutingKey !== null };
      },
    });
    return { total, examined, messages: found };
  }

  /**
   * Replays the messages present now: those with error code `code`, or the one message `id` (see errorMessageId),
   * or all of them.
   */
  async replay(o: {
    code?: string;
    id?: string;
    shouldStop?: () => boolean;
    onProgress?: (p: Readonly<ReplayProgress>) => void;
    onStart?: (total: number) => void;
  }): Promise<ReplayResult & { total: number }> {
    const total = await this.count();
    o.onStart?.(total);
    const { code, id } = o;
    const result = await replayErrorQueue(await this.openChannel(), this.publish, {
      queue: this.names.errorQueue,
      inboundExchange: this.names.inboundExchange,
      total,
      select:
        code === undefined && id === undefined
          ? undefined
          : (m) => (code === undefined || errorCodeOf(m) === code) && (id === undefined || errorMessageId(m) === id),
      limit: id === undefined ? undefined : 1,
      shouldStop: o.shouldStop,
      onProgress: o.onProgress,
    });
    return { ...result, total };
  }
}
