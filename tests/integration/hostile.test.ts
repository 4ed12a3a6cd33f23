import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import * as amqp from 'amqplib';
import type { ErrorCode } from '../../src/domain/error-codes';
import type { CollectedError, CollectedEvent, CollectedReceipt, PublishWorkItemOptions } from '../helpers/amqp-client';
import { amqpUrl } from '../helpers/broker';
import { Fixture } from '../helpers/fixture';
import { httpRequest } from '../helpers/http';
import { sleep, withTimeout } from '../helpers/wait';
import { escapeXml, newExternalId, updateXml, workItemXml } from '../helpers/work-items';
import { testRedisClient } from '../helpers/redis';

/**
 * Issue 8: hostile input, through the broker, against the real service. Every class is sent as a sender
 * would send it; each must end in the right error code in the receipt (when reply_to works), a copy on
 * workitem.error with that x-error-code and the original body, no contact event, and a service that
 * still accepts the next valid item.
 */

/** Small enough to test TOO_LARGE cheaply, large enough for the 1 MiB attribute and 100 000 children/attributes. */
const MAX_MESSAGE_BYTES = 3 * 1024 * 1024;
const WAIT_MS = 15_000;
const FIXTURES = path.resolve(__dirname, '../fixtures/hostile');

const f = new Fixture({ config: { limits: { maxMessageBytes: MAX_MESSAGE_BYTES } } });

/** Anything an external entity, DTD or stylesheet tries to fetch lands here; it must stay at zero. */
const canaryHits: string[] = [];
const canary = http.createServer((req, res) => {
  canaryHits.push(req.url ?? '');
  res.end('<!ENTITY leaked "yes">');
});
let canaryUrl = '';

beforeAll(async () => {
  await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
  canaryUrl = `http://127.0.0.1:${(canary.address() as AddressInfo).port}`;
  await f.setup();
}, 60_000);

afterAll(async () => {
  await f.teardown();
  await new Promise<void>((resolve) => canary.close(() => resolve()));
});

// ---------------------------------------------------------------------------------------------
// Building hostile bodies

/** A fixture from tests/fixtures/hostile with {{EXTERNAL_ID}} and {{CANARY_URL}} filled in. */
function fixture(name: string, externalId: string): string {
  return readFileSync(path.join(FIXTURES, name), 'utf8').replaceAll('{{EXTERNAL_ID}}', externalId).replaceAll('{{CANARY_URL}}', canaryUrl);
}

interface RawItemOptions {
  externalId?: string;
  /** Raw XML put between <subject> and <contactData>. */
  inner?: string;
  /** Raw attributes of the root element. */
  rootAttributes?: string;
  subject?: string;
  /** Raw XML inside <contactData>, after the task key item. */
  contactData?: string;
  root?: string;
}

/** A valid item built from raw parts, so one part at a time can be made hostile. */
function rawItem(o: RawItemOptions = {}): string {
  const root = o.root ?? 'workItem';
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<${root} ${o.rootAttributes ?? 'version="1"'}>\n` +
    `  <externalId>${escapeXml(o.externalId ?? newExternalId('HOSTILE'))}</externalId>\n` +
    '  <source>bank-support</source>\n' +
    '  <entrance>loans</entrance>\n' +
    `  <subject>${o.subject ?? 'hostile input'}</subject>\n` +
    (o.inner ?? '') +
    `  <contactData><item key="WorkItemTask">hostile</item>${o.contactData ?? ''}</contactData>\n` +
    `</${root}>\n`
  );
}

/** `xml` with the bytes of `marker` (which must occur once) replaced by `bytes`. */
function withBytes(xml: string, marker: string, bytes: number[]): Buffer {
  const buf = Buffer.from(xml, 'utf8');
  const at = buf.indexOf(marker);
  if (at === -1) throw new Error(`marker ${marker} not found`);
  return Buffer.concat([buf.subarray(0, at), Buffer.from(bytes), buf.subarray(at + Buffer.byteLength(marker))]);
}

function deepNesting(levels: number, externalId: string): string {
  return (
    `<workItem version="1"><externalId>${externalId}</externalId><source>bank-support</source>` +
    `${'<a>'.repeat(levels)}${'</a>'.repeat(levels)}</workItem>`
  );
}

function manyAttributes(n: number, externalId: string): string {
  const attrs = Array.from({ length: n }, (_, i) => `a${i}="v"`).join(' ');
  return rawItem({ externalId, inner: `  <social platform="facebook" pageId="1234" ${attrs}/>\n` });
}

function manyChildren(n: number, externalId: string): string {
  return rawItem({ externalId, contactData: '<item key="k">v</item>'.repeat(n) });
}

function hugeAttribute(bytes: number, externalId: string): string {
  return rawItem({ externalId, inner: `  <social platform="facebook" pageId="${'9'.repeat(bytes)}"/>\n` });
}

/** Headers whose encoded AMQP field table is about `bytes` long (one byte per key length, S tag, u32 length). */
function paddedHeaders(bytes: number, count = 30): Record<string, string> {
  const headers: Record<string, string> = {};
  const keyLen = 'x-pad-00'.length;
  const perHeader = Math.floor((bytes - 4) / count) - (1 + keyLen + 1 + 4);
  for (let i = 0; i < count; i++) headers[`x-pad-${String(i).padStart(2, '0')}`] = String.fromCharCode(97 + (i % 26)).repeat(perHeader);
  return headers;
}

function encodedHeaderBytes(headers: Record<string, string>): number {
  return 4 + Object.entries(headers).reduce((n, [k, v]) => n + 1 + Buffer.byteLength(k) + 1 + 4 + Buffer.byteLength(v), 0);
}

// ---------------------------------------------------------------------------------------------
// Sending and checking

let seq = 0;

interface Rejected {
  receipt?: CollectedReceipt;
  copy: CollectedError;
  correlationId: string;
}

interface RejectExpectation {
  /** Exact path, or a pattern, of the error (receipt and x-error-path). */
  path?: string | RegExp;
  message?: RegExp;
  /** The hostile item's externalId: no contact event may carry it. */
  externalId?: string;
  /** externalId/source the receipt should echo. */
  echo?: { externalId?: string; source?: string };
  /** Publish options (reply_to, headers, properties...). Default: this client's reply queue. */
  publish?: PublishWorkItemOptions;
  /** false: reply_to is deliberately unusable, so check the copy on the receipts exchange instead. */
  receiptOnReplyQueue?: boolean;
  routingKey?: string;
}

function matches(value: unknown, expected: string | RegExp): boolean {
  return typeof expected === 'string' ? value === expected : typeof value === 'string' && expected.test(value);
}

/** A valid item goes through: the service is still consuming after whatever came before. */
async function expectStillConsuming(): Promise<void> {
  const externalId = newExternalId('AFTER');
  const corr = `after-${++seq}`;
  await f.client.publishWorkItem(workItemXml({ externalId }), { replyTo: true, correlationId: corr });
  const [ok] = await f.client.waitForReceipts(1, WAIT_MS, (r) => r.properties.correlationId === corr);
  expect(ok.status).toBe('accepted');
  await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.externalId === externalId);
}

/**
 * Sends `body` and asserts the rejection: receipt with `code`, an error-queue copy with the same
 * x-error-code and byte-identical body, nothing published as a contact, and the service still consuming.
 */
async function expectRejected(body: string | Buffer, code: ErrorCode, x: RejectExpectation = {}): Promise<Rejected> {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const correlationId = `hostile-${++seq}-${code}`;
  const replyTo = x.publish?.replyTo ?? true;
  await f.client.publishWorkItem(buf, {
    source: 'bank-support',
    routingKey: x.routingKey,
    correlationId,
    ...x.publish,
    replyTo,
  });
  let receipt: CollectedReceipt | undefined;
  if (x.receiptOnReplyQueue !== false) {
    [receipt] = await f.client.waitForReceipts(1, WAIT_MS, (r) => r.properties.correlationId === correlationId);
  }
  // The copy on the receipts exchange exists whatever happened to reply_to.
  const [receiptCopy] = await f.client.waitForReceiptCopies(1, WAIT_MS, (r) => r.properties.correlationId === correlationId);
  for (const r of receipt ? [receipt, receiptCopy] : [receiptCopy]) {
    expect(r.status).toBe('rejected');
    expect(r.error?.code).toBe(code);
    expect(r.contactId).toBeUndefined();
    if (x.path !== undefined) expect(r.error?.path).toEqual(typeof x.path === 'string' ? x.path : expect.stringMatching(x.path));
    if (x.message) expect(r.error?.message).toMatch(x.message);
    if (x.echo?.externalId !== undefined) expect(r.externalId).toBe(x.echo.externalId);
    if (x.echo?.source !== undefined) expect(r.source).toBe(x.echo.source);
  }
  // The copy goes to the source the message was published as, whatever its XML claims (or fails to say).
  const key = x.routingKey ?? `workitem.${x.publish?.source ?? 'bank-support'}`;
  const sender = /^workitem\.([a-z0-9._-]{1,64})$/.exec(key)?.[1];
  expect(receiptCopy.routingKey).toBe(`rejected.${sender ?? receiptCopy.source ?? 'unknown'}`);

  const [copy] = await f.client.waitForErrors(1, WAIT_MS, (e) => e.properties.correlationId === correlationId);
  expect(copy.headers['x-error-code']).toBe(code);
  expect(copy.headers['x-error-message']).toEqual(expect.any(String));
  expect(copy.headers['x-error-path']).toEqual(expect.any(String));
  if (x.path !== undefined) expect(matches(copy.headers['x-error-path'], x.path)).toBe(true);
  expect(copy.headers['x-first-failed-at']).toEqual(expect.any(String));
  expect(copy.body.equals(buf)).toBe(true);
  // The copy is small: the hostile body is stored once, error texts stay short.
  expect(String(copy.headers['x-error-message']).length).toBeLessThan(1000);

  await expectStillConsuming();
  if (x.externalId !== undefined) {
    expect(f.client.events.filter((e) => e.event.externalId === x.externalId)).toHaveLength(0);
  }
  return { receipt, copy, correlationId };
}

async function expectAccepted(body: string | Buffer, externalId: string, publish: PublishWorkItemOptions = {}): Promise<CollectedEvent> {
  const correlationId = `hostile-ok-${++seq}`;
  await f.client.publishWorkItem(body, { source: 'bank-support', replyTo: true, correlationId, ...publish });
  const [receipt] = await f.client.waitForReceipts(1, WAIT_MS, (r) => r.properties.correlationId === correlationId);
  expect(receipt.error).toBeUndefined();
  expect(receipt.status).toBe('accepted');
  const [event] = await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.externalId === externalId);
  expect(event.event.contactId).toBe(receipt.contactId);
  expect(f.client.errors.filter((e) => e.properties.correlationId === correlationId)).toHaveLength(0);
  return event;
}

function vmRssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** workitem_receipts_lost_total summed over its reasons. */
async function receiptsLost(): Promise<number> {
  const res = await httpRequest(`${f.svc.baseUrl}/metrics`);
  let sum = 0;
  for (const m of res.body.toString().matchAll(/^workitem_receipts_lost_total(?:\{[^}]*\})?\s+(\S+)$/gm)) sum += Number(m[1]);
  return sum;
}

function own(obj: object, key: string): PropertyDescriptor | undefined {
  return Object.getOwnPropertyDescriptor(obj, key);
}

/** A connection of our own, for what TestClient cannot do (direct reply-to, odd queue names). */
async function withOwnChannel<T>(fn: (ch: amqp.ConfirmChannel) => Promise<T>): Promise<T> {
  const conn = await amqp.connect(amqpUrl(f.vhost));
  try {
    const ch = await conn.createConfirmChannel();
    return await fn(ch);
  } finally {
    await conn.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------

describe('hostile input through the broker (issue 8)', () => {
  describe('DTDs, entities and processing instructions', () => {
    it('XXE with an external entity (file:// and http://) → FORBIDDEN_XML, nothing fetched', async () => {
      const ext = newExternalId('XXE');
      const { receipt, copy } = await expectRejected(fixture('xxe-external-entity.xml', ext), 'FORBIDDEN_XML', { externalId: ext });
      expect(receipt?.xml).not.toMatch(/root:|leaked/);
      expect(String(copy.headers['x-error-message'])).not.toMatch(/root:|leaked/);
      expect(canaryHits).toEqual([]);
    });

    it('XXE with a parameter entity (remote DTD, out-of-band exfiltration) → FORBIDDEN_XML, nothing fetched', async () => {
      const ext = newExternalId('XXEP');
      await expectRejected(fixture('xxe-parameter-entity.xml', ext), 'FORBIDDEN_XML', { externalId: ext });
      expect(canaryHits).toEqual([]);
    });

    it('billion laughs → FORBIDDEN_XML, quickly', async () => {
      const ext = newExternalId('LOL');
      const started = Date.now();
      await expectRejected(fixture('billion-laughs.xml', ext), 'FORBIDDEN_XML', { externalId: ext });
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it('entity expansion inside attribute values → FORBIDDEN_XML', async () => {
      const ext = newExternalId('ENTATTR');
      await expectRejected(fixture('entity-in-attribute.xml', ext), 'FORBIDDEN_XML', { externalId: ext });
    });

    it.each([
      ['plain <!DOCTYPE workItem>', (ext: string) => fixture('doctype-plain.xml', ext)],
      [
        'lowercase <!doctype workItem>',
        (ext: string) => rawItem({ externalId: ext }).replace('<workItem', '<!doctype workItem>\n<workItem'),
      ],
      [
        'DOCTYPE with a SYSTEM id',
        (ext: string) => rawItem({ externalId: ext }).replace('<workItem', '<!DOCTYPE workItem SYSTEM "workitem.dtd">\n<workItem'),
      ],
      [
        'DOCTYPE with a PUBLIC id and an empty internal subset',
        (ext: string) =>
          rawItem({ externalId: ext }).replace('<workItem', '<!DOCTYPE workItem PUBLIC "-//X//DTD W//EN" "http://x/w.dtd" []>\n<workItem'),
      ],
      ['a bare <!ENTITY> without a DOCTYPE, inside the root', (ext: string) => rawItem({ externalId: ext, inner: '  <!ENTITY x "y">\n' })],
      ['an <!ELEMENT> markup declaration inside the root', (ext: string) => rawItem({ externalId: ext, inner: '  <!ELEMENT x ANY>\n' })],
    ])('DOCTYPE of any kind: %s → FORBIDDEN_XML', async (_name, build) => {
      const ext = newExternalId('DTD');
      await expectRejected(build(ext), 'FORBIDDEN_XML', { externalId: ext, path: '/' });
    });

    it('processing instruction <?php … ?> → FORBIDDEN_XML', async () => {
      const ext = newExternalId('PHP');
      await expectRejected(fixture('pi-php.xml', ext), 'FORBIDDEN_XML', { externalId: ext, message: /processing instruction/ });
    });

    it('processing instruction <?xml-stylesheet …?> → FORBIDDEN_XML, stylesheet not fetched', async () => {
      const ext = newExternalId('XSL');
      await expectRejected(fixture('pi-xml-stylesheet.xml', ext), 'FORBIDDEN_XML', { externalId: ext, message: /processing instruction/ });
      expect(canaryHits).toEqual([]);
    });

    it('an XML declaration that is not at the very start (or not lowercase) → MALFORMED_XML', async () => {
      const ext = newExternalId('DECL');
      await expectRejected(`\n${rawItem({ externalId: ext })}`, 'MALFORMED_XML', { externalId: ext });
      await expectRejected(rawItem({ externalId: ext }).replace('<?xml', '<?XML'), 'MALFORMED_XML', { externalId: ext });
    });

    it('the undefined entity &nbsp; → MALFORMED_XML', async () => {
      const ext = newExternalId('NBSP');
      await expectRejected(rawItem({ externalId: ext, subject: 'non&nbsp;breaking' }), 'MALFORMED_XML', { externalId: ext });
    });

    it('an undefined entity in an attribute value → MALFORMED_XML', async () => {
      const ext = newExternalId('ENTREF');
      await expectRejected(rawItem({ externalId: ext, rootAttributes: 'version="&lol9;"' }), 'MALFORMED_XML', { externalId: ext });
    });
  });

  describe('CDATA tricks', () => {
    it('"]]>" split across two CDATA sections and a DOCTYPE/PI/entity inside CDATA are data: accepted verbatim', async () => {
      const ext = newExternalId('CDATA');
      const ev = await expectAccepted(fixture('cdata-split.xml', ext), ext);
      expect(ev.event.subject).toBe('end marker ]]> split across two sections');
      expect(ev.event.presentation?.preview).toBe('<!DOCTYPE html [ <!ENTITY x SYSTEM "file:///etc/passwd"> ]><?php echo 1; ?>&x;');
      expect(ev.event.taskType).toBe('cdata');
      expect(canaryHits).toEqual([]);
    });

    it('a CDATA section closed early to smuggle a DOCTYPE → FORBIDDEN_XML', async () => {
      const ext = newExternalId('CDSMUG');
      await expectRejected(fixture('cdata-smuggled-doctype.xml', ext), 'FORBIDDEN_XML', { externalId: ext });
    });

    it('a CDATA opener inside a comment does not hide a following DOCTYPE → FORBIDDEN_XML', async () => {
      const ext = newExternalId('CDCOMMENT');
      await expectRejected(fixture('comment-hides-cdata.xml', ext), 'FORBIDDEN_XML', { externalId: ext });
    });

    it('an unterminated CDATA section hiding a DOCTYPE → MALFORMED_XML', async () => {
      const ext = newExternalId('CDOPEN');
      await expectRejected(
        rawItem({ externalId: ext, inner: '  <body><![CDATA[ <!DOCTYPE x [ <!ENTITY a "b"> ]> </body>\n' }),
        'MALFORMED_XML',
        {
          externalId: ext,
        },
      );
    });
  });

  describe('size and depth', () => {
    it('10 000-deep nesting → TOO_DEEP at the first level too deep, echoing what was read before', async () => {
      const ext = newExternalId('DEEP');
      await expectRejected(deepNesting(10_000, ext), 'TOO_DEEP', {
        externalId: ext,
        path: '/workItem/a/a/a/a/a/a/a/a',
        echo: { externalId: ext, source: 'bank-support' },
      });
    });

    it('a 1 MiB attribute value → TOO_LARGE', async () => {
      const ext = newExternalId('BIGATTR');
      await expectRejected(hugeAttribute(1024 * 1024, ext), 'TOO_LARGE', { externalId: ext, path: '/workItem/social/@pageId' });
    });

    it('100 000 attributes on one element → TOO_LARGE', async () => {
      const ext = newExternalId('ATTRS');
      await expectRejected(manyAttributes(100_000, ext), 'TOO_LARGE', { externalId: ext, path: '/workItem/social', message: /attributes/ });
    });

    it('100 000 children → TOO_LARGE', async () => {
      const ext = newExternalId('CHILDREN');
      await expectRejected(manyChildren(100_000, ext), 'TOO_LARGE', { externalId: ext, message: /elements/ });
    });

    it('a body over limits.maxMessageBytes → TOO_LARGE', async () => {
      const ext = newExternalId('BIG');
      const body = rawItem({ externalId: ext, inner: `  <body>${'x'.repeat(MAX_MESSAGE_BYTES)}</body>\n` });
      expect(Buffer.byteLength(body)).toBeGreaterThan(MAX_MESSAGE_BYTES);
      await expectRejected(body, 'TOO_LARGE', { externalId: ext, path: '/', message: new RegExp(String(MAX_MESSAGE_BYTES)) });
    });

    it('a 65 KiB subject → TOO_LARGE (text limit), a 999-char subject → INVALID_FIELD', async () => {
      const ext = newExternalId('SUBJ');
      await expectRejected(rawItem({ externalId: ext, subject: 's'.repeat(65 * 1024) }), 'TOO_LARGE', {
        externalId: ext,
        path: '/workItem/subject',
      });
      await expectRejected(rawItem({ externalId: ext, subject: 's'.repeat(999) }), 'INVALID_FIELD', {
        externalId: ext,
        path: '/workItem/subject',
      });
    });

    it('51 contactData items → INVALID_FIELD', async () => {
      const ext = newExternalId('ITEMS');
      const items = Array.from({ length: 50 }, (_, i) => `<item key="k${i}">v</item>`).join('');
      await expectRejected(rawItem({ externalId: ext, contactData: items }), 'INVALID_FIELD', {
        externalId: ext,
        path: '/workItem/contactData',
      });
    });

    it('an element name longer than 100 characters → TOO_LARGE', async () => {
      const ext = newExternalId('LONGNAME');
      const name = 'n'.repeat(5_000);
      await expectRejected(rawItem({ externalId: ext, inner: `  <${name}>x</${name}>\n` }), 'TOO_LARGE', { externalId: ext });
    });
  });

  describe('prototype names', () => {
    it.each(['__proto__', 'constructor', 'prototype'])('%s as an element name → INVALID_FIELD (reserved name)', async (name) => {
      const ext = newExternalId('PROTOTAG');
      await expectRejected(rawItem({ externalId: ext, inner: `  <${name}><polluted>1</polluted></${name}>\n` }), 'INVALID_FIELD', {
        externalId: ext,
        path: `/workItem/${name}`,
        message: /reserved name/,
      });
    });

    it.each(['__proto__', 'constructor', 'prototype'])('%s as an attribute name → INVALID_FIELD (reserved name)', async (name) => {
      const ext = newExternalId('PROTOATTR');
      await expectRejected(
        rawItem({ externalId: ext, rootAttributes: `version="1" ${name}="{&quot;polluted&quot;:1}"` }),
        'INVALID_FIELD',
        {
          externalId: ext,
          path: `/workItem/@${name}`,
          message: /reserved name/,
        },
      );
    });

    it('__proto__ as the root element → INVALID_FIELD', async () => {
      await expectRejected('<__proto__><polluted>1</polluted></__proto__>', 'INVALID_FIELD', { path: '/__proto__' });
    });

    it.each([
      ['parsed inline', 0],
      ['parsed on the worker thread (> 64 KiB)', 65_000],
    ])('__proto__/constructor/prototype as contact-data keys are accepted and kept as plain data (%s)', async (_how, bodyChars) => {
      const ext = newExternalId('PROTOKEY');
      let xml = fixture('contact-data-proto.xml', ext);
      if (bodyChars > 0) xml = xml.replace('</subject>', `</subject>\n  <body>${'b'.repeat(bodyChars)}</body>`);
      expect(Buffer.byteLength(xml) > 64 * 1024).toBe(bodyChars > 0);
      const ev = await expectAccepted(xml, ext);
      expect(ev.event.taskType).toBe('proto-check');
      const data = ev.event.contactData as Record<string, string>;
      expect(Object.keys(data)).toEqual(['WorkItemTask', '__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString']);
      expect(own(data, '__proto__')?.value).toBe('{"polluted":true}');
      expect(own(data, 'constructor')?.value).toBe('ctor');
      expect(own(data, 'prototype')?.value).toBe('proto');
      expect(own(data, 'hasOwnProperty')?.value).toBe('own');
      expect(ev.raw.toString('utf8')).toContain('"__proto__":"{\\"polluted\\":true}"');
      // The stored state (what a replay re-publishes) keeps the key too.
      const stored = await f.api<{ contactData: Record<string, string> }>(`/api/items/${ev.event.contactId}`);
      expect(own(stored.contactData, '__proto__')?.value).toBe('{"polluted":true}');
      expect(Object.keys(stored.contactData)).toContain('__proto__');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });

  describe('encodings and characters', () => {
    it('invalid UTF-8 → MALFORMED_XML', async () => {
      const ext = newExternalId('BADUTF8');
      await expectRejected(withBytes(rawItem({ externalId: ext, subject: 'ZZZ' }), 'ZZZ', [0xc3, 0x28, 0xff]), 'MALFORMED_XML', {
        externalId: ext,
        message: /UTF-8/,
      });
    });

    it('overlong UTF-8 ("/" as C0 AF, and a 4-byte overlong) → MALFORMED_XML', async () => {
      const ext = newExternalId('OVERLONG');
      await expectRejected(withBytes(rawItem({ externalId: ext, subject: 'ZZZ' }), 'ZZZ', [0xc0, 0xaf]), 'MALFORMED_XML', {
        externalId: ext,
        message: /UTF-8/,
      });
      await expectRejected(withBytes(rawItem({ externalId: ext, subject: 'ZZZ' }), 'ZZZ', [0xf0, 0x80, 0x80, 0xaf]), 'MALFORMED_XML', {
        externalId: ext,
        message: /UTF-8/,
      });
    });

    it('surrogate code points (UTF-8-encoded D800, and the reference &#xD800;) → MALFORMED_XML', async () => {
      const ext = newExternalId('SURR');
      await expectRejected(withBytes(rawItem({ externalId: ext, subject: 'ZZZ' }), 'ZZZ', [0xed, 0xa0, 0x80]), 'MALFORMED_XML', {
        externalId: ext,
      });
      await expectRejected(rawItem({ externalId: ext, subject: 'a&#xD800;b' }), 'MALFORMED_XML', { externalId: ext });
    });

    it('UTF-16 with a BOM (LE and BE) that declares UTF-8 → MALFORMED_XML (accepted UTF-16: encodings.test.ts)', async () => {
      const ext = newExternalId('UTF16BOM');
      const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(rawItem({ externalId: ext }), 'utf16le')]);
      const be = Buffer.from(le).swap16();
      await expectRejected(le, 'MALFORMED_XML', {
        externalId: ext,
        message: /declares encoding "UTF-8" but starts with a UTF-16LE byte-order mark/,
      });
      await expectRejected(be, 'MALFORMED_XML', {
        externalId: ext,
        message: /declares encoding "UTF-8" but starts with a UTF-16BE byte-order mark/,
      });
    });

    it('UTF-16 without a BOM (LE and BE) → MALFORMED_XML', async () => {
      const ext = newExternalId('UTF16');
      const le = Buffer.from(rawItem({ externalId: ext }), 'utf16le');
      const be = Buffer.from(le).swap16();
      await expectRejected(le, 'MALFORMED_XML', { externalId: ext, message: /UTF-16/ });
      await expectRejected(be, 'MALFORMED_XML', { externalId: ext, message: /UTF-16/ });
    });

    it('a UTF-8 BOM is accepted (and stripped)', async () => {
      const ext = newExternalId('BOM');
      const ev = await expectAccepted(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(workItemXml({ externalId: ext }))]), ext);
      expect(ev.event.externalId).toBe(ext);
    });

    it('a declared encoding that is not supported → MALFORMED_XML naming it', async () => {
      const ext = newExternalId('SJIS');
      const xml = rawItem({ externalId: ext, subject: 'caf\u00e9' }).replace('UTF-8', 'Shift_JIS');
      await expectRejected(Buffer.from(xml, 'latin1'), 'MALFORMED_XML', {
        externalId: ext,
        message: /encoding "Shift_JIS" is not supported/,
      });
    });

    it('NUL bytes → MALFORMED_XML', async () => {
      const ext = newExternalId('NUL');
      await expectRejected(withBytes(rawItem({ externalId: ext, subject: 'ZZZ' }), 'ZZZ', [0x61, 0x00, 0x62]), 'MALFORMED_XML', {
        externalId: ext,
        message: /NUL/,
      });
    });

    it('XML-illegal characters, raw and as character references (U+0001, &#1;, &#x0;) → MALFORMED_XML', async () => {
      const ext = newExternalId('CTRL');
      await expectRejected(rawItem({ externalId: ext, subject: 'a\u0001b' }), 'MALFORMED_XML', { externalId: ext });
      await expectRejected(rawItem({ externalId: ext, subject: 'a&#1;b' }), 'MALFORMED_XML', { externalId: ext });
      await expectRejected(rawItem({ externalId: ext, subject: 'a&#x0;b' }), 'MALFORMED_XML', { externalId: ext });
    });
  });

  describe('structure', () => {
    it('namespaces (default xmlns, prefixed element, xml:lang) → INVALID_FIELD', async () => {
      const ext = newExternalId('NS');
      await expectRejected(rawItem({ externalId: ext, rootAttributes: 'version="1" xmlns="urn:workitem"' }), 'INVALID_FIELD', {
        externalId: ext,
        path: '/workItem/@xmlns',
      });
      await expectRejected(rawItem({ externalId: ext, inner: '  <x:body xmlns:x="urn:x">b</x:body>\n' }), 'INVALID_FIELD', {
        externalId: ext,
        path: '/workItem/x:body',
      });
      await expectRejected(rawItem({ externalId: ext, rootAttributes: 'version="1" xml:lang="sv"' }), 'INVALID_FIELD', {
        externalId: ext,
        path: '/workItem/@xml:lang',
      });
    });

    it('duplicate elements, duplicate attributes and duplicate contactData keys are rejected', async () => {
      const ext = newExternalId('DUPEL');
      await expectRejected(rawItem({ externalId: ext, inner: '  <subject>second</subject>\n' }), 'INVALID_FIELD', {
        externalId: ext,
        path: '/workItem/subject[2]',
      });
      await expectRejected(rawItem({ externalId: ext, rootAttributes: 'version="1" version="2"' }), 'MALFORMED_XML', {
        externalId: ext,
        path: '/workItem/@version',
      });
      await expectRejected(rawItem({ externalId: ext, contactData: '<item key="WorkItemTask">again</item>' }), 'INVALID_FIELD', {
        externalId: ext,
        path: '/workItem/contactData/item[2]/@key',
      });
    });

    it('mixed content (text directly inside <workItem>) → INVALID_FIELD', async () => {
      const ext = newExternalId('MIXED');
      await expectRejected(rawItem({ externalId: ext, inner: '  stray text <b>and markup</b>\n' }), 'INVALID_FIELD', { externalId: ext });
    });

    it('an empty body → MALFORMED_XML', async () => {
      await expectRejected(Buffer.alloc(0), 'MALFORMED_XML', { path: '/', message: /empty/ });
    });

    it('JSON instead of XML → MALFORMED_XML', async () => {
      const body = JSON.stringify({ workItem: { version: 1, externalId: newExternalId('JSON'), source: 'bank-support' } });
      await expectRejected(body, 'MALFORMED_XML', { message: /JSON/, publish: { properties: { contentType: 'application/json' } } });
    });

    it('an unknown root element → UNKNOWN_ROOT', async () => {
      const ext = newExternalId('ROOT');
      await expectRejected(rawItem({ externalId: ext, root: 'workitem' }), 'UNKNOWN_ROOT', { externalId: ext, path: '/workitem' });
    });

    it('a wrong version (version="2") → UNKNOWN_ROOT, echoing externalId and source', async () => {
      const ext = newExternalId('V2');
      await expectRejected(rawItem({ externalId: ext, rootAttributes: 'version="2"' }), 'UNKNOWN_ROOT', {
        externalId: ext,
        path: '/workItem/@version',
        echo: { externalId: ext, source: 'bank-support' },
      });
    });

    it('trailing content after the root (a second root, text) → MALFORMED_XML', async () => {
      const ext = newExternalId('TRAIL');
      await expectRejected(`${rawItem({ externalId: ext })}<workItem version="1"/>`, 'MALFORMED_XML', { externalId: ext });
      await expectRejected(`${rawItem({ externalId: ext })}trailing`, 'MALFORMED_XML', { externalId: ext });
    });

    it('base64 with garbage in the attachment → ATTACHMENT_REJECTED', async () => {
      const ext = newExternalId('B64');
      const attachment = (data: string) =>
        `  <attachment fileName="a.pdf" contentType="application/pdf" encoding="base64">${data}</attachment>\n`;
      await expectRejected(rawItem({ externalId: ext, inner: attachment('JVBERi0x!!$$%%*~LjQK') }), 'ATTACHMENT_REJECTED', {
        externalId: ext,
        path: '/workItem/attachment',
      });
      await expectRejected(rawItem({ externalId: ext, inner: attachment('JVBERi0xLjQK=JVBE') }), 'ATTACHMENT_REJECTED', {
        externalId: ext,
      });
      await expectRejected(rawItem({ externalId: ext, inner: attachment('JVBERi0xLjQ') }), 'ATTACHMENT_REJECTED', { externalId: ext });
    });
  });

  describe('properties, headers and reply_to', () => {
    it('huge headers (~60 KB in total) → the copy keeps them, the receipt arrives', async () => {
      const ext = newExternalId('HDRS');
      const headers = paddedHeaders(60_000);
      expect(encodedHeaderBytes(headers)).toBeGreaterThan(59_000);
      const { copy } = await expectRejected(fixture('doctype-plain.xml', ext), 'FORBIDDEN_XML', { externalId: ext, publish: { headers } });
      for (const [k, v] of Object.entries(headers)) expect(copy.headers[k]).toBe(v);
      // And a valid item with the same headers is accepted.
      const ok = newExternalId('HDRSOK');
      await expectAccepted(workItemXml({ externalId: ok }), ok, { headers });
    });

    it('headers just under the 64 KiB AMQP field-table limit of the sender still give an error copy and a receipt', async () => {
      const ext = newExternalId('HDRMAX');
      const headers = paddedHeaders(65_300);
      expect(encodedHeaderBytes(headers)).toBeLessThan(65_536);
      const { copy } = await expectRejected(fixture('doctype-plain.xml', ext), 'FORBIDDEN_XML', { externalId: ext, publish: { headers } });
      expect(copy.headers['x-error-code']).toBe('FORBIDDEN_XML');
    });

    it('exotic header value types (decimal, timestamp, float, long, table, array, bytes, void) survive the error copy', async () => {
      const ext = newExternalId('HDRTYPES');
      const headers: Record<string, unknown> = {
        'x-decimal': { '!': 'decimal', value: { places: 2, digits: 12345 } },
        'x-timestamp': { '!': 'timestamp', value: 1_700_000_000 },
        'x-float': { '!': 'float', value: 1.5 },
        'x-long': 2 ** 40,
        'x-table': { nested: { deeper: 'yes' }, n: 1 },
        'x-array': [1, 'two', true, null],
        'x-bytes': Buffer.from([0, 1, 2, 0xff]),
        'x-void': null,
        'x-bool': false,
        'x-first-failed-at': 42,
      };
      const { copy } = await expectRejected(fixture('doctype-plain.xml', ext), 'FORBIDDEN_XML', { externalId: ext, publish: { headers } });
      expect(copy.headers['x-table']).toEqual({ nested: { deeper: 'yes' }, n: 1 });
      expect(copy.headers['x-array']).toEqual([1, 'two', true, null]);
      expect(Buffer.from(copy.headers['x-bytes'] as Buffer).equals(Buffer.from([0, 1, 2, 0xff]))).toBe(true);
      expect(copy.headers['x-long']).toBe(2 ** 40);
    });

    it('a header table with a "!" key (amqplib type trapdoor) still gives an error copy and a receipt', async () => {
      const ext = newExternalId('HDRBANG');
      // An inherited "!" is written by amqplib as a plain key; the service reads it back as an own "!".
      const sneaky = Object.create({ '!': 'bogus' }) as Record<string, unknown>;
      await expectRejected(fixture('doctype-plain.xml', ext), 'FORBIDDEN_XML', {
        externalId: ext,
        publish: { headers: { 'x-sneaky': sneaky } },
      });
    });

    it('forged internal headers (parked contactId/entrance, original routing key) are not trusted', async () => {
      const ext = newExternalId('FORGE');
      const forged = {
        'x-workitem-contact-id': 'wi-00000000-0000-0000-0000-000000000000',
        'x-workitem-entrance': 'loans',
        'x-original-routing-key': 'workitem.voicemail',
      };
      const body = workItemXml({ externalId: ext, source: 'voicemail' });
      await expectRejected(body, 'SENDER_NOT_ALLOWED', { externalId: ext, publish: { headers: forged } });
      // Through the large-item lane (> 256 KiB) as well.
      const big = workItemXml({
        externalId: ext,
        source: 'voicemail',
        body: 'b'.repeat(60_000),
        attachment: { data: Buffer.alloc(300_000, 1), contentType: 'application/pdf' },
      });
      expect(Buffer.byteLength(big)).toBeGreaterThan(256 * 1024);
      await expectRejected(big, 'SENDER_NOT_ALLOWED', { externalId: ext, publish: { headers: forged } });
    });

    it('no content_type, message_id, correlation_id or reply_to: the error copy and the receipt copy still appear', async () => {
      const ext = newExternalId('BARE');
      const body = Buffer.from(rawItem({ externalId: ext, rootAttributes: 'version="2"' }));
      await f.client.publishRaw(f.client.topology.inboundExchange, 'workitem.bank-support', body, {});
      const [copy] = await f.client.waitForErrors(1, WAIT_MS, (e) => e.body.equals(body));
      expect(copy.code).toBe('UNKNOWN_ROOT');
      expect(copy.properties.contentType).toBeUndefined();
      expect(copy.properties.correlationId).toBeUndefined();
      expect(copy.properties.messageId).toBeUndefined(); // original properties: none is made up
      const [receiptCopy] = await f.client.waitForReceiptCopies(1, WAIT_MS, (r) => r.externalId === ext);
      expect(receiptCopy.status).toBe('rejected');
      expect(receiptCopy.error?.code).toBe('UNKNOWN_ROOT');
      expect(receiptCopy.routingKey).toBe('rejected.bank-support');
      await expectStillConsuming();
    });

    it('no correlation_id: the receipt is correlated by the message_id', async () => {
      const ext = newExternalId('NOCORR');
      const messageId = `mid-${ext}`;
      await f.client.publishWorkItem(fixture('doctype-plain.xml', ext), { source: 'bank-support', replyTo: true, messageId });
      const [receipt] = await f.client.waitForReceipts(1, WAIT_MS, (r) => r.properties.correlationId === messageId);
      expect(receipt.error?.code).toBe('FORBIDDEN_XML');
      const [copy] = await f.client.waitForErrors(1, WAIT_MS, (e) => e.properties.messageId === messageId);
      expect(copy.code).toBe('FORBIDDEN_XML');
      await expectStillConsuming();
    });

    it('reply_to naming a queue that does not exist → the rejection still completes (error copy, receipt copy)', async () => {
      const ext = newExternalId('NOQUEUE');
      await expectRejected(fixture('billion-laughs.xml', ext), 'FORBIDDEN_XML', {
        externalId: ext,
        publish: { replyTo: `no-such-queue-${ext}` },
        receiptOnReplyQueue: false,
      });
    });

    it('an over-long reply_to (255 chars): lost when the queue is missing, delivered when it exists', async () => {
      const missing = 'r'.repeat(255);
      const ext = newExternalId('LONGREPLY');
      await expectRejected(fixture('doctype-plain.xml', ext), 'FORBIDDEN_XML', {
        externalId: ext,
        publish: { replyTo: missing },
        receiptOnReplyQueue: false,
      });

      await withOwnChannel(async (ch) => {
        const name = `q-${ext}-`.padEnd(255, 'q');
        await ch.assertQueue(name, { exclusive: true });
        const got = new Promise<amqp.ConsumeMessage>((resolve) => void ch.consume(name, (m) => m && resolve(m), { noAck: true }));
        const corr = `long-${ext}`;
        await f.client.publishWorkItem(fixture('doctype-plain.xml', ext), { source: 'bank-support', replyTo: name, correlationId: corr });
        const m = await withTimeout(got, WAIT_MS, `receipt on the 255-char reply queue`);
        expect(m.properties.correlationId).toBe(corr);
        expect(m.content.toString()).toMatch(/code="FORBIDDEN_XML"/);
      });
      await expectStillConsuming();
    });

    it.each([
      ['a gone requester (well-formed key)', 'amq.rabbitmq.reply-to.g1h2AA5yZXBseUAxMjM0NTY3OAAAAAAAAAAA.gone'],
      ['a garbage key amq.rabbitmq.reply-to.xxx', 'amq.rabbitmq.reply-to.xxx'],
    ])('direct reply-to of %s never holds up the rejection', async (_name, replyTo) => {
      // RabbitMQ 3.10 answers a mandatory direct reply-to publish with NO_ROUTE whether or not it delivered
      // it, so the service sends those without `mandatory` and cannot count them as lost.
      const ext = newExternalId('DRT');
      await expectRejected(fixture('doctype-plain.xml', ext), 'FORBIDDEN_XML', {
        externalId: ext,
        publish: { replyTo },
        receiptOnReplyQueue: false,
      });
      await expectStillConsuming();
    });

    it('a live direct reply-to requester gets its rejection receipt, not counted as lost', async () => {
      const ext = newExternalId('DRTLIVE');
      const lostBefore = await receiptsLost();
      await withOwnChannel(async (ch) => {
        const got = new Promise<amqp.ConsumeMessage>(
          (resolve) => void ch.consume('amq.rabbitmq.reply-to', (m) => m && resolve(m), { noAck: true }),
        );
        await sleep(100); // basic.consume-ok before the publish that names the pseudo-queue
        const corr = `drt-${ext}`;
        ch.publish(f.client.topology.inboundExchange, 'workitem.bank-support', Buffer.from(fixture('doctype-plain.xml', ext)), {
          replyTo: 'amq.rabbitmq.reply-to',
          correlationId: corr,
          contentType: 'application/xml',
        });
        await ch.waitForConfirms();
        const m = await withTimeout(got, WAIT_MS, 'receipt on direct reply-to');
        expect(m.properties.correlationId).toBe(corr);
        expect(m.content.toString()).toMatch(/status="rejected"[\s\S]*code="FORBIDDEN_XML"/);
        await f.client.waitForErrors(1, WAIT_MS, (e) => e.properties.correlationId === corr);
      });
      await expectStillConsuming();
      // RabbitMQ 3.10 both delivers a mandatory publish to a live direct reply-to and returns it (NO_ROUTE).
      await sleep(500);
      expect(await receiptsLost()).toBe(lostBefore);
    });

    it('a 255-char routing key of another source → SENDER_NOT_ALLOWED', async () => {
      const ext = newExternalId('RK');
      await expectRejected(workItemXml({ externalId: ext }), 'SENDER_NOT_ALLOWED', {
        externalId: ext,
        routingKey: `workitem.${'z'.repeat(246)}`,
      });
    });
  });

  describe('contract 1.1 elements: revision, expiresAt, activateAt, update floods', () => {
    it('a huge or malformed revision → INVALID_FIELD naming @revision; a revision over the attribute limit → TOO_LARGE', async () => {
      const externalId = newExternalId('REV');
      await expectAccepted(workItemXml({ externalId }), externalId);
      for (const revision of ['9007199254740992', '99999999999999999999999999999999', '1e9', '-1', '0', 'three', '0x10']) {
        await expectRejected(updateXml({ externalId, revision, inner: '<priority>8</priority>' }), 'INVALID_FIELD', {
          path: '/updateWorkItem/@revision',
          message: /positive integer/,
          echo: { externalId, source: 'bank-support' },
        });
      }
      await expectRejected(updateXml({ externalId, revision: '9'.repeat(5000), inner: '<priority>8</priority>' }), 'TOO_LARGE');
      expect(f.client.events.filter((e) => e.event.externalId === externalId && e.event.type === 'contact.updated')).toHaveLength(0);
    });

    it('dates far away or malformed (expiresAt, activateAt, in workItem and updateWorkItem) → INVALID_FIELD', async () => {
      const bad = [
        '9999-12-31T23:59:59Z',
        '275760-09-13T00:00:00Z',
        '1970-01-01T00:00:00Z',
        '2026-02-30T00:00:00Z',
        'tomorrow',
        '2026-12-01T08:00:00',
      ];
      for (const date of bad) {
        const ext = newExternalId('DATE');
        if (date !== '1970-01-01T00:00:00Z') {
          await expectRejected(workItemXml({ externalId: ext, activateAt: date }), 'INVALID_FIELD', {
            path: '/workItem/activateAt',
            externalId: ext,
          });
        }
        await expectRejected(workItemXml({ externalId: ext, expiresAt: date }), 'INVALID_FIELD', {
          path: '/workItem/expiresAt',
          externalId: ext,
        });
        await expectRejected(updateXml({ externalId: ext, inner: `<expiresAt>${escapeXml(date)}</expiresAt>` }), 'INVALID_FIELD', {
          path: '/updateWorkItem/expiresAt',
        });
      }
      // 1970 as activateAt is "in the past": routed at once, not rejected
      const past = newExternalId('DATE');
      await expectAccepted(workItemXml({ externalId: past, activateAt: '1970-01-01T00:00:00Z' }), past);
    });

    it('a flood of 1 500 updates of one item (revisions shuffled, repeats, stale ones): every one answered, the highest wins, bounded state', async () => {
      const externalId = newExternalId('FLOOD');
      const created = await expectAccepted(workItemXml({ externalId }), externalId);
      const contactId = created.event.contactId;
      const tag = `flood-${Date.now()}-`;
      const N = 1_500;
      const revisions = Array.from({ length: N }, (_, i) => (i % 3 === 2 ? 1 + (i % 50) : i + 1)).sort(() => Math.random() - 0.5);
      const rssStart = vmRssKb(f.svc.pid);
      // every 10th message is an exact copy (body and message_id) of the one before: the same update again
      const messages = revisions.map((rev, i) => ({
        xml: updateXml({
          externalId,
          revision: rev,
          inner: `<priority>${1 + (rev % 10)}</priority><contactData><item key="Rev">${rev}</item></contactData>`,
        }),
        messageId: `${tag}m${i}`,
      }));
      for (let i = 9; i < N; i += 10) messages[i] = messages[i - 1];
      const send = async (from: number, to: number): Promise<void> => {
        for (let start = from; start < to; start += 100) {
          await Promise.all(
            messages.slice(start, Math.min(to, start + 100)).map((m, j) =>
              f.client.publishWorkItem(m.xml, {
                source: 'bank-support',
                correlationId: `${tag}${start + j}`,
                messageId: m.messageId,
                replyTo: true,
              }),
            ),
          );
        }
        await f.client.waitForReceipts(to, 120_000, (r) => (r.properties.correlationId ?? '').startsWith(tag));
      };
      await send(0, 500); // warm-up
      await sleep(1_000);
      const rssWarm = vmRssKb(f.svc.pid);
      await send(500, N);
      await sleep(1_000);
      const receipts = f.client.receipts.filter((r) => (r.properties.correlationId ?? '').startsWith(tag));
      expect(receipts).toHaveLength(N);
      const codes = new Map<string, number>();
      for (const r of receipts)
        codes.set(
          r.status === 'updated' ? 'updated' : String(r.error?.code),
          (codes.get(r.status === 'updated' ? 'updated' : String(r.error?.code)) ?? 0) + 1,
        );
      expect([...codes.keys()].sort()).toEqual(['STALE_UPDATE', 'updated'].filter((k) => codes.has(k)).sort());
      expect(codes.get('updated')).toBeGreaterThan(0);
      const top = Math.max(...messages.map((m) => Number(/revision="(\d+)"/.exec(m.xml)![1])));
      const item = await f.api<{ contactData: Record<string, string> }>(`/api/items/${contactId}`);
      expect(item.contactData.Rev).toBe(String(top));
      const rssEnd = vmRssKb(f.svc.pid);
      process.stdout.write(
        `update flood: ${N} updates of one item → ${codes.get('updated')} updated, ${codes.get('STALE_UPDATE') ?? 0} STALE_UPDATE; ` +
          `VmRSS start ${(rssStart / 1024).toFixed(1)} MB, after 500 ${(rssWarm / 1024).toFixed(1)} MB, after ${N} ${(rssEnd / 1024).toFixed(1)} MB\n`,
      );
      expect(rssEnd - rssWarm).toBeLessThan(60 * 1024);
      // the item keeps a bounded list of update ids, whatever the flood
      const redis = testRedisClient();
      await redis.connect();
      try {
        const uids = (await redis.hget(`${f.prefix}item:${contactId}`, 'uids')) ?? '';
        expect(uids.split(' ').filter(Boolean).length).toBeLessThanOrEqual(16);
      } finally {
        await redis.quit();
      }
      await expectStillConsuming();
    }, 180_000);
  });

  describe('resource use', () => {
    it('no memory growth over 1 000 repetitions of hostile input', async () => {
      const ext = 'MEM-1';
      const mix: { body: Buffer; code: ErrorCode }[] = [
        { body: Buffer.from(fixture('doctype-plain.xml', ext)), code: 'FORBIDDEN_XML' },
        { body: Buffer.from(fixture('billion-laughs.xml', ext)), code: 'FORBIDDEN_XML' },
        { body: Buffer.from(fixture('xxe-external-entity.xml', ext)), code: 'FORBIDDEN_XML' },
        { body: Buffer.from(fixture('xxe-parameter-entity.xml', ext)), code: 'FORBIDDEN_XML' },
        { body: Buffer.from(fixture('pi-php.xml', ext)), code: 'FORBIDDEN_XML' },
        { body: Buffer.from(fixture('entity-in-attribute.xml', ext)), code: 'FORBIDDEN_XML' },
        { body: Buffer.from(deepNesting(10_000, ext)), code: 'TOO_DEEP' },
        { body: Buffer.from(rawItem({ externalId: ext, inner: '  <__proto__>x</__proto__>\n' })), code: 'INVALID_FIELD' },
        { body: Buffer.from(rawItem({ externalId: ext, rootAttributes: 'version="1" constructor="x"' })), code: 'INVALID_FIELD' },
        { body: withBytes(rawItem({ externalId: ext, subject: 'ZZZ' }), 'ZZZ', [0xc0, 0xaf]), code: 'MALFORMED_XML' },
        { body: Buffer.from(rawItem({ externalId: ext }), 'utf16le'), code: 'MALFORMED_XML' },
        { body: withBytes(rawItem({ externalId: ext, subject: 'ZZZ' }), 'ZZZ', [0]), code: 'MALFORMED_XML' },
        { body: Buffer.from(rawItem({ externalId: ext, subject: 'a&nbsp;b' })), code: 'MALFORMED_XML' },
        { body: Buffer.from('{"json":true}'), code: 'MALFORMED_XML' },
        { body: Buffer.alloc(0), code: 'MALFORMED_XML' },
        { body: Buffer.from(rawItem({ externalId: ext, rootAttributes: 'version="2"' })), code: 'UNKNOWN_ROOT' },
        { body: Buffer.from(rawItem({ externalId: ext, root: 'order' })), code: 'UNKNOWN_ROOT' },
        { body: Buffer.from(rawItem({ externalId: ext, inner: '  <subject>2</subject>\n' })), code: 'INVALID_FIELD' },
        { body: Buffer.from(rawItem({ externalId: ext, subject: 's'.repeat(65 * 1024) })), code: 'TOO_LARGE' },
        { body: Buffer.from(manyAttributes(2_000, ext)), code: 'TOO_LARGE' },
        { body: Buffer.from(manyChildren(2_000, ext)), code: 'TOO_LARGE' },
        {
          body: Buffer.from(
            rawItem({ externalId: ext, inner: '  <attachment fileName="a.pdf" contentType="application/pdf">%%%</attachment>\n' }),
          ),
          code: 'ATTACHMENT_REJECTED',
        },
      ];
      const giant = { body: Buffer.from(manyAttributes(100_000, ext)), code: 'TOO_LARGE' as ErrorCode };
      const tag = `mem-${Date.now()}-`;
      const expectedCodes = new Map<string, ErrorCode>();

      const send = async (from: number, to: number): Promise<void> => {
        const WINDOW = 50;
        for (let start = from; start < to; start += WINDOW) {
          const batch: Promise<unknown>[] = [];
          for (let i = start; i < Math.min(to, start + WINDOW); i++) {
            const { body, code } = i % 250 === 125 ? giant : mix[i % mix.length];
            const messageId = `${tag}${i}`;
            expectedCodes.set(messageId, code);
            batch.push(
              f.client.publishWorkItem(body, {
                source: 'bank-support',
                messageId,
                correlationId: messageId,
                replyTo: i % 2 === 0,
                headers: { 'x-run': tag, 'x-i': i },
              }),
            );
          }
          await Promise.all(batch);
        }
      };
      const copies = (n: number): Promise<CollectedError[]> =>
        f.client.waitForErrors(n, 60_000, (e) => typeof e.properties.messageId === 'string' && e.properties.messageId.startsWith(tag));

      const rssStart = vmRssKb(f.svc.pid);
      await send(0, 200);
      await copies(200);
      await sleep(1_000);
      const rssWarm = vmRssKb(f.svc.pid);
      await send(200, 1_000);
      const all = await copies(1_000);
      await sleep(1_000);
      const rssEnd = vmRssKb(f.svc.pid);

      expect(all).toHaveLength(1_000);
      const wrong = all.filter((e) => e.code !== expectedCodes.get(e.properties.messageId as string));
      expect(wrong.map((e) => `${e.properties.messageId}: ${e.code}`)).toEqual([]);
      expect(f.client.events.filter((e) => e.event.externalId === ext)).toHaveLength(0);
      process.stdout.write(
        `hostile memory check: VmRSS start ${(rssStart / 1024).toFixed(1)} MB, after 200 warm-up ${(rssWarm / 1024).toFixed(1)} MB, ` +
          `after 1000 ${(rssEnd / 1024).toFixed(1)} MB, growth ${((rssEnd - rssWarm) / 1024).toFixed(1)} MB\n`,
      );
      expect(rssEnd - rssWarm).toBeLessThan(60 * 1024);
      await expectStillConsuming();
      expect(canaryHits).toEqual([]);
    }, 110_000);
  });
});
