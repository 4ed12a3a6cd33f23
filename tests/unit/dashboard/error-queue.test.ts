import type * as amqp from 'amqplib';
import {
  bodyPreview,
  describeErrorMessage,
  errorMessageId,
  replayErrorQueue,
  replayProperties,
  type Republish,
} from '../../../src/adapters/rabbitmq/error-queue';

/** A stand-in for an amqplib channel on the error queue: get() hands out messages, ack/close are recorded. */
class FakeChannel {
  readonly acked: string[] = [];
  closed = false;
  /** Messages handed out and not acked: what closing the channel returns to the queue. */
  readonly unacked = new Set<string>();
  constructor(private readonly queue: amqp.GetMessage[]) {}

  async get(): Promise<amqp.GetMessage | false> {
    const m = this.queue.shift();
    if (!m) return false;
    this.unacked.add(String(m.properties.messageId));
    return m;
  }

  ack(m: amqp.Message): void {
    if (this.closed) throw new Error('Channel closed');
    this.acked.push(String(m.properties.messageId));
    this.unacked.delete(String(m.properties.messageId));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  asChannel(): amqp.Channel {
    return this as unknown as amqp.Channel;
  }
}

function message(id: string, code: string, headers: Record<string, unknown> = {}): amqp.GetMessage {
  return {
    content: Buffer.from(`<workItem><externalId>${id}</externalId></workItem>`),
    fields: { deliveryTag: 1, redelivered: false, exchange: 'workitem.error', routingKey: code, messageCount: 0 },
    properties: {
      messageId: id,
      contentType: 'application/xml',
      replyTo: 'reply-q',
      correlationId: `c-${id}`,
      headers: {
        'x-error-code': code,
        'x-error-message': `${code} happened`,
        'x-error-path': '/workItem/entrance',
        'x-first-failed-at': '2026-11-23T10:00:00.000Z',
        'x-failed-at': '2026-11-23T10:05:00.000Z',
        'x-original-routing-key': 'workitem.bank-support',
        'x-original-exchange': 'workitem.inbound',
        'x-wi-publish-id': 'old',
        'x-sender-header': 'kept',
        ...headers,
      },
    },
  } as unknown as amqp.GetMessage;
}

describe('error queue (shared by the CLI and the dashboard)', () => {
  it('describes a message: code, path, message, failure times, routing key and a stable id', () => {
    const m = message('m1', 'UNKNOWN_ENTRANCE');
    const info = describeErrorMessage(m, 'workitem.inbound');
    expect(info).toMatchObject({
      code: 'UNKNOWN_ENTRANCE',
      path: '/workItem/entrance',
      message: 'UNKNOWN_ENTRANCE happened',
      firstFailedAt: '2026-11-23T10:00:00.000Z',
      failedAt: '2026-11-23T10:05:00.000Z',
      originalRoutingKey: 'workitem.bank-support',
      messageId: 'm1',
    });
    expect(info.id).toMatch(/^[0-9a-f]{20}$/);
    expect(errorMessageId(message('m1', 'UNKNOWN_ENTRANCE'))).toBe(info.id);
    expect(errorMessageId(message('m2', 'UNKNOWN_ENTRANCE'))).not.toBe(info.id);
  });

  it('republishes with the original properties, without the failure headers, first failure kept', () => {
    const props = replayProperties(message('m1', 'UNKNOWN_ENTRANCE'));
    expect(props).toMatchObject({ messageId: 'm1', replyTo: 'reply-q', correlationId: 'c-m1', persistent: true });
    expect(props.headers).toEqual({ 'x-first-failed-at': '2026-11-23T10:00:00.000Z', 'x-sender-header': 'kept' });
  });

  it('acks each selected message only after its republish was confirmed; the others go back', async () => {
    const ch = new FakeChannel([message('a', 'UNKNOWN_ENTRANCE'), message('b', 'MALFORMED_XML'), message('c', 'UNKNOWN_ENTRANCE')]);
    const published: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const publish: Republish = async (exchange, key, _body, props) => {
      published.push(`${exchange} ${key} ${props.messageId}`);
      await gate;
      // Not acked before the confirm arrives.
      expect(ch.acked).not.toContain(props.messageId);
      return 'confirmed';
    };
    const run = replayErrorQueue(ch.asChannel(), publish, {
      queue: 'workitem.error',
      inboundExchange: 'workitem.inbound',
      total: 3,
      select: (m) => m.properties.headers?.['x-error-code'] === 'UNKNOWN_ENTRANCE',
    });
    await new Promise((r) => setTimeout(r, 20));
    release();
    const r = await run;
    expect(r.failure).toBeUndefined();
    expect(r.progress).toEqual({ examined: 3, moved: 2, kept: 1, noRoutingKey: 0 });
    expect(published).toEqual(['workitem.inbound workitem.bank-support a', 'workitem.inbound workitem.bank-support c']);
    expect(ch.acked.sort()).toEqual(['a', 'c']);
    expect([...ch.unacked]).toEqual(['b']);
    expect(ch.closed).toBe(true);
  });

  it('keeps a message whose republish was returned or failed, and stops at the first failure', async () => {
    const ch = new FakeChannel([message('a', 'X'), message('b', 'X'), message('c', 'X')]);
    const r = await replayErrorQueue(ch.asChannel(), async () => 'returned', {
      queue: 'workitem.error',
      inboundExchange: 'workitem.inbound',
      total: 3,
      window: 1,
      unroutable: (ex, key) => new Error(`nothing took ${ex}/${key}`),
    });
    expect((r.failure as Error).message).toBe('nothing took workitem.inbound/workitem.bank-support');
    expect(r.progress.moved).toBe(0);
    expect(ch.acked).toEqual([]);
    expect(r.progress.examined).toBe(1);
  });

  it('skips messages without an original routing key and stops when asked', async () => {
    const noKey = message('n', 'DELIVERY_LIMIT', { 'x-original-routing-key': undefined });
    const ch = new FakeChannel([noKey, message('a', 'X'), message('b', 'X')]);
    let stop = false;
    const r = await replayErrorQueue(
      ch.asChannel(),
      async () => {
        stop = true;
        return 'confirmed';
      },
      { queue: 'q', inboundExchange: 'workitem.inbound', total: 3, shouldStop: () => stop },
    );
    expect(r.progress).toEqual({ examined: 2, moved: 1, kept: 1, noRoutingKey: 1 });
    expect(ch.acked).toEqual(['a']);
  });

  it('replays one message by id (limit 1)', async () => {
    const target = message('b', 'X');
    const ch = new FakeChannel([message('a', 'X'), target, message('c', 'X')]);
    const id = errorMessageId(target);
    const r = await replayErrorQueue(ch.asChannel(), async () => 'confirmed', {
      queue: 'q',
      inboundExchange: 'workitem.inbound',
      total: 3,
      select: (m) => errorMessageId(m) === id,
      limit: 1,
    });
    expect(ch.acked).toEqual(['b']);
    expect(r.progress).toMatchObject({ moved: 1, examined: 2 });
  });

  it('previews bodies without control characters, cut with an ellipsis', () => {
    expect(bodyPreview(Buffer.from('<a>\n\tb\u0000</a>'), 80)).toBe('<a> b </a>');
    expect(bodyPreview(Buffer.from('x'.repeat(100)), 10)).toBe(`${'x'.repeat(10)}…`);
  });
});
