import { EventEmitter } from 'node:events';
import type * as amqp from 'amqplib';
import { ConfirmChannelPublisher, PUBLISH_ID_HEADER, type PublishFailure } from '../../../src/adapters/rabbitmq/confirmed-publisher';

/** A confirm channel whose confirms, returns, back-pressure and encode failures the test decides. */
class FakeConfirmChannel extends EventEmitter {
  readonly sent: { routingKey: string; options: amqp.Options.Publish; confirm: (err: Error | null) => void }[] = [];
  full = false;
  refuse: Error | null = null;

  publish(_exchange: string, routingKey: string, _body: Buffer, options: amqp.Options.Publish, cb: (err: Error | null) => void): boolean {
    if (this.refuse) throw this.refuse;
    this.sent.push({ routingKey, options, confirm: cb });
    return !this.full;
  }

  /** The broker returns a mandatory message nobody's queue took, then confirms it (its order on the wire). */
  returnThenConfirm(i: number): void {
    const s = this.sent[i];
    this.emit('return', { properties: { headers: s.options.headers ?? {}, messageId: s.options.messageId } });
    s.confirm(null);
  }
}

function setup(confirmTimeoutMs = 5_000) {
  const ch = new FakeConfirmChannel();
  const failures: PublishFailure[] = [];
  const p = new ConfirmChannelPublisher(ch as unknown as amqp.ConfirmChannel, confirmTimeoutMs, (f, exchange, routingKey) => {
    failures.push(f);
    return new Error(`${f.kind} ${exchange}/${routingKey}`);
  });
  const publish = (key: string, id: string, mandatory = true, options: amqp.Options.Publish = {}) =>
    p.publish('ex', key, Buffer.from('x'), { ...options, headers: { [PUBLISH_ID_HEADER]: id } }, mandatory, id);
  return { ch, p, failures, publish };
}

describe('ConfirmChannelPublisher', () => {
  it('resolves only at the confirm, and tells a returned mandatory message from a delivered one while several are in flight', async () => {
    const { ch, publish } = setup();
    let settled = 0;
    const a = publish('a', 'id-a').finally(() => settled++);
    const b = publish('b', 'id-b').finally(() => settled++);
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(0);
    expect(ch.sent.map((s) => s.options.mandatory)).toEqual([true, true]);
    ch.returnThenConfirm(1);
    ch.sent[0].confirm(null);
    await expect(a).resolves.toBe('confirmed');
    await expect(b).resolves.toBe('returned');
  });

  it('matches a return by messageId when the message has no publish-id header', async () => {
    const { ch, p } = setup();
    const r = p.publish('ex', 'k', Buffer.from('x'), { messageId: 'm-1' }, true, 'm-1');
    ch.returnThenConfirm(0);
    await expect(r).resolves.toBe('returned');
  });

  it("hands a nack, a refused send and a missing confirm to the owner's error", async () => {
    const { ch, failures, publish } = setup(50);
    const nacked = publish('n', 'id-n');
    ch.sent[0].confirm(new Error('message nacked'));
    await expect(nacked).rejects.toThrow('nacked ex/n');
    await expect(publish('t', 'id-t')).rejects.toThrow('timeout ex/t');
    ch.refuse = new RangeError('header table too large');
    await expect(publish('r', 'id-r')).rejects.toThrow('refused ex/r');
    expect(failures.map((f) => f.kind)).toEqual(['nacked', 'timeout', 'refused']);
    expect(failures[1]).toEqual({ kind: 'timeout', ms: 50 });
    expect((failures[2] as { cause: Error }).cause).toBeInstanceOf(RangeError);
  });

  it("tells the broker's nack (a full queue refusing it) from a channel that closed before the confirm", async () => {
    const { ch, failures, publish } = setup();
    const nacked = publish('n', 'id-n');
    const closed = publish('c', 'id-c');
    ch.sent[0].confirm(new Error('message nacked'));
    ch.sent[1].confirm(new Error('channel closed'));
    await expect(nacked).rejects.toThrow();
    await expect(closed).rejects.toThrow();
    expect(failures.map((f) => f.kind === 'nacked' && f.byBroker)).toEqual([true, false]);
  });

  it('settled() waits for every publish in flight, whatever its end', async () => {
    const { ch, p, publish } = setup();
    await expect(p.settled()).resolves.toBeUndefined();
    const a = publish('a', 'id-a');
    const b = publish('b', 'id-b').catch(() => undefined);
    let done = false;
    const settled = p.settled().then(() => (done = true));
    ch.sent[0].confirm(null);
    await a;
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    ch.sent[1].confirm(new Error('message nacked'));
    await b;
    await settled;
    expect(done).toBe(true);
  });

  it('a publish the channel does not take at once starts back-pressure, which ends at drain (or is bounded)', async () => {
    const { ch, p, publish } = setup(100);
    ch.full = true;
    // Confirmed at once: back-pressure is the write buffer's, not the confirms'.
    const confirmed = (key: string) => {
      const r = publish(key, `id-${key}`, false);
      ch.sent[ch.sent.length - 1].confirm(null);
      return r;
    };
    await confirmed('a');
    const pressure = p.backPressure;
    expect(pressure).not.toBeNull();
    await confirmed('b');
    expect(p.backPressure).toBe(pressure); // one wait for all, not one per publish
    ch.emit('drain');
    await pressure;
    expect(p.backPressure).toBeNull();
    await confirmed('c');
    const started = Date.now();
    await p.backPressure; // no drain: over after the confirm timeout
    expect(Date.now() - started).toBeGreaterThanOrEqual(80);
    expect(p.backPressure).toBeNull();
  });
});
