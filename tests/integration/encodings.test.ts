import { createHash } from 'node:crypto';
import type { ErrorCode } from '../../src/domain/error-codes';
import type { CollectedError, CollectedEvent, CollectedReceipt } from '../helpers/amqp-client';
import { TEXTS, encodeItem, textItem, type BodyEncoding } from '../helpers/encodings';
import { Fixture } from '../helpers/fixture';
import { newExternalId } from '../helpers/work-items';

/**
 * Issue 16 (INTERFACE.md 1.1 "Encodings"), through the real service: items in UTF-16 and ISO-8859-1 arrive in the
 * contact event as the same text, in UTF-8 JSON; a body whose bytes contradict its declaration is rejected with
 * MALFORMED_XML and its error copy keeps the original bytes. Large items take the parse worker thread, small ones
 * are parsed inline: both decode.
 */
const WAIT_MS = 20_000;
const f = new Fixture({ config: { attachments: { maxBytes: 1024 * 1024 } } });

beforeAll(() => f.setup(), 60_000);
afterAll(() => f.teardown());

let seq = 0;

async function expectAccepted(body: Buffer, externalId: string): Promise<{ event: CollectedEvent; receipt: CollectedReceipt }> {
  const correlationId = `enc-ok-${++seq}`;
  await f.client.publishWorkItem(body, { source: 'bank-support', replyTo: true, correlationId });
  const [receipt] = await f.client.waitForReceipts(1, WAIT_MS, (r) => r.properties.correlationId === correlationId);
  expect(receipt.error).toBeUndefined();
  expect(receipt.status).toBe('accepted');
  expect(receipt.externalId).toBe(externalId);
  const [event] = await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.externalId === externalId);
  expect(event.event.contactId).toBe(receipt.contactId);
  return { event, receipt };
}

async function expectRejected(body: Buffer, code: ErrorCode, message: RegExp, externalId: string): Promise<CollectedError> {
  const correlationId = `enc-bad-${++seq}`;
  await f.client.publishWorkItem(body, { source: 'bank-support', replyTo: true, correlationId });
  const [receipt] = await f.client.waitForReceipts(1, WAIT_MS, (r) => r.properties.correlationId === correlationId);
  expect(receipt.status).toBe('rejected');
  expect(receipt.error?.code).toBe(code);
  expect(receipt.error?.message).toMatch(message);
  expect(receipt.raw.toString('utf8')).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>/);
  const [copy] = await f.client.waitForErrors(1, WAIT_MS, (e) => e.properties.correlationId === correlationId);
  expect(copy.headers['x-error-code']).toBe(code);
  expect(String(copy.headers['x-error-message'])).toMatch(message);
  expect(copy.body.equals(body)).toBe(true); // the original bytes, not a re-encoded text
  expect(f.client.events.filter((e) => e.event.externalId === externalId)).toHaveLength(0);
  return copy;
}

/** The event as JSON text: valid UTF-8 that carries the characters themselves. */
function expectUtf8Json(event: CollectedEvent, ...texts: string[]): void {
  expect(event.parseError).toBeUndefined();
  const decoded = new TextDecoder('utf-8', { fatal: true }).decode(event.raw);
  for (const text of texts) expect(decoded).toContain(JSON.stringify(text).slice(1, -1));
}

describe('encodings through the service', () => {
  it.each([
    ['UTF-16LE with a BOM', 'UTF-16LE-BOM', 'unicode'],
    ['UTF-16BE declared, no BOM', 'UTF-16BE', 'unicode'],
    ['ISO-8859-1', 'ISO-8859-1', 'latin1'],
    ['windows-1252', 'windows-1252', 'cp1252'],
  ] as const)('%s → the event carries the same text as UTF-8 JSON', async (_, as: BodyEncoding, textName: keyof typeof TEXTS) => {
    const externalId = newExternalId('ENC');
    const text = TEXTS[textName];
    const { event, receipt } = await expectAccepted(encodeItem(textItem(textName, externalId), as), externalId);
    expect(event.event.subject).toBe(text.subject);
    expect(event.event.customer).toEqual(text.customer);
    expect(event.event.contactData).toEqual({ WorkItemTask: 'encoding-check', ...text.contactData });
    expect(event.event.presentation?.preview).toBe(text.body);
    expect(event.event.taskType).toBe('encoding-check');
    expect(event.event.attachment?.sha256).toBe(createHash('sha256').update('attachment bytes ü\n', 'utf8').digest('hex'));
    expectUtf8Json(event, text.subject, text.customer.name, ...Object.values(text.contactData));
    expect(receipt.raw.toString('utf8')).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>/);
  });

  it('a large UTF-16BE item (parsed on the worker thread) decodes the same', async () => {
    const externalId = newExternalId('ENC-BIG');
    const data = Buffer.alloc(300 * 1024, 0x61);
    const xml = textItem('unicode', externalId, { attachment: { fileName: 'big.txt', contentType: 'text/plain', data } });
    const body = encodeItem(xml, 'UTF-16BE-BOM');
    expect(body.length).toBeGreaterThan(800 * 1024); // well over inlineParseBytes (64 KiB)
    const { event } = await expectAccepted(body, externalId);
    expect(event.event.subject).toBe(TEXTS.unicode.subject);
    expect(event.event.attachment?.size).toBe(data.length);
    expect(event.event.attachment?.sha256).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('windows-1252 bytes declared as US-ASCII → MALFORMED_XML naming the encoding; the error copy keeps the bytes', async () => {
    const externalId = newExternalId('ENC-ASCII');
    const body = encodeItem(textItem('cp1252', externalId), 'windows-1252', 'US-ASCII');
    await expectRejected(body, 'MALFORMED_XML', /not valid US-ASCII: byte 0x80 at byte \d+/, externalId);
  });

  it('a UTF-16 BOM declaring UTF-8, and an unsupported encoding → MALFORMED_XML', async () => {
    const externalId = newExternalId('ENC-MIX');
    await expectRejected(
      encodeItem(textItem('unicode', externalId), 'UTF-16LE-BOM', 'UTF-8'),
      'MALFORMED_XML',
      /declares encoding "UTF-8" but starts with a UTF-16LE byte-order mark/,
      externalId,
    );
    await expectRejected(
      encodeItem(textItem('ascii', externalId), 'US-ASCII', 'Shift_JIS'),
      'MALFORMED_XML',
      /encoding "Shift_JIS" is not supported/,
      externalId,
    );
  });

  it('a DOCTYPE in UTF-16 is still FORBIDDEN_XML', async () => {
    const externalId = newExternalId('ENC-DTD');
    const xml = textItem('unicode', externalId);
    const end = xml.indexOf('?>') + 3;
    const body = encodeItem(
      `${xml.slice(0, end)}<!DOCTYPE workItem [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n${xml.slice(end)}`,
      'UTF-16LE-BOM',
    );
    expect(body.includes('DOCTYPE')).toBe(false);
    await expectRejected(body, 'FORBIDDEN_XML', /DOCTYPE declarations are not accepted/, externalId);
  });
});
