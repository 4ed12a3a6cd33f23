import type * as amqp from 'amqplib';
import { AckBatcher } from '../../../src/adapters/rabbitmq/queue-consumer';

function fakeChannel() {
  const calls: [number, boolean][] = [];
  const ch = { ack: (m: amqp.Message, multiple = false) => calls.push([m.fields.deliveryTag, multiple]) };
  return { ch: ch as unknown as amqp.Channel, calls };
}
const msg = (tag: number) => ({ fields: { deliveryTag: tag } }) as amqp.Message;

describe('AckBatcher', () => {
  it('acks the finished run from the oldest delivery at once, and finished ones behind a gap one by one', async () => {
    const { ch, calls } = fakeChannel();
    const b = new AckBatcher(ch);
    for (let t = 1; t <= 6; t++) b.delivered(msg(t));
    await Promise.all([b.ack(msg(2)), b.ack(msg(1)), b.ack(msg(4))]);
    expect(calls).toEqual([
      [2, true],
      [4, false],
    ]);
    calls.length = 0;
    await Promise.all([b.ack(msg(6)), b.ack(msg(3))]);
    // 3 ends the run at 3 (4 is already acked, 5 is still in work): 6 must not be covered by a multiple ack.
    expect(calls).toEqual([
      [3, false],
      [6, false],
    ]);
    calls.length = 0;
    await b.ack(msg(5));
    expect(calls).toEqual([[5, false]]);
  });

  it('never covers a delivery that is being requeued', async () => {
    const { ch, calls } = fakeChannel();
    const b = new AckBatcher(ch);
    for (let t = 1; t <= 3; t++) b.delivered(msg(t));
    await Promise.all([b.ack(msg(2)), b.ack(msg(3))]);
    expect(calls).toEqual([
      [2, false],
      [3, false],
    ]);
    b.forget(msg(1)); // nacked elsewhere
    calls.length = 0;
    b.delivered(msg(4));
    b.delivered(msg(5));
    await Promise.all([b.ack(msg(4)), b.ack(msg(5))]);
    expect(calls).toEqual([[5, true]]);
  });

  it('passes a closed channel error to every waiting caller', async () => {
    const ch = {
      ack: () => {
        throw new Error('Channel closed');
      },
    } as unknown as amqp.Channel;
    const b = new AckBatcher(ch);
    b.delivered(msg(1));
    await expect(b.ack(msg(1))).rejects.toThrow('Channel closed');
  });
});
