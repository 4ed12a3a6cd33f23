import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { coalesceAmqpSocketWrites } from '../../../src/adapters/rabbitmq/coalesce-writes';

describe('coalesceAmqpSocketWrites', () => {
  it('installs on this amqplib (an upgrade that moves the Mux internal is noticed here)', () => {
    expect(coalesceAmqpSocketWrites()).toBe(true);
  });

  it('hands every frame of one mux round to the socket in one corked write, in order', async () => {
    coalesceAmqpSocketWrites();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Mux } = require(path.join(path.dirname(require.resolve('amqplib')), 'lib', 'mux.js'));
    const batches: string[][] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        batches.push([chunk.toString()]);
        cb();
      },
      writev(chunks, cb) {
        batches.push(chunks.map((c) => (c.chunk as Buffer).toString()));
        cb();
      },
    });
    const mux = new Mux(out);
    const a = new PassThrough({ objectMode: true });
    const b = new PassThrough({ objectMode: true });
    mux.pipeFrom(a);
    mux.pipeFrom(b);
    for (let i = 0; i < 5; i++) {
      a.write(Buffer.from(`a${i}`));
      b.write(Buffer.from(`b${i}`));
    }
    await new Promise((r) => setTimeout(r, 20));
    const all = batches.flat();
    expect(all.filter((x) => x.startsWith('a'))).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    expect(all.filter((x) => x.startsWith('b'))).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
    expect(batches).toHaveLength(1);
  });
});
