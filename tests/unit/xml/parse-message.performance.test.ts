import { createHash } from 'node:crypto';
import { expectItem, parse, workItemXml } from './xml-test-helpers';

/** Timing is printed, not asserted: CI machines vary. The result is asserted. */
describe('parseMessage: performance', () => {
  it('parses an item with a 5 MB attachment (wrapped base64)', () => {
    const data = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 8)) & 0xff;
    const base64 = data.toString('base64').replace(/.{76}/g, '$&\n');
    const xml = Buffer.from(
      workItemXml({}, { extra: `<attachment fileName="big.wav" contentType="audio/wav" encoding="base64">${base64}</attachment>` }),
    );
    parse(workItemXml()); // warm up the code paths

    const start = process.hrtime.bigint();
    const item = expectItem(parse(xml));
    const ms = Number(process.hrtime.bigint() - start) / 1e6;

    process.stdout.write(`parseMessage: ${(xml.length / 1e6).toFixed(1)} MB message with a 5 MiB attachment took ${ms.toFixed(0)} ms\n`);
    expect(item.attachment!.data.length).toBe(data.length);
    expect(item.attachment!.sha256).toBe(createHash('sha256').update(data).digest('hex'));
  });
});
