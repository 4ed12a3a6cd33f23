import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as amqp from 'amqplib';
import { parseStringPromise } from 'xml2js';
import { amqpUrl, closeConnections, createVhost, deleteVhost, listVhosts } from '../helpers/broker';
import { DEFAULT_TOPOLOGY, parseReceipt, takeSchemaViolations, TestClient } from '../helpers/amqp-client';
import { DEFAULT_REDIS_URL, deleteByPrefix, keysByPrefix, randomPrefix, testRedisClient } from '../helpers/redis';
import { startRedis } from '../helpers/redis-process';
import { LOG_DIR, mergeConfig, startService, StartServiceOptions } from '../helpers/service';
import { workItem, workItemXml, example, cancelXml } from '../helpers/work-items';

/** Tests of the test helpers themselves; none of them needs the service. */

// The project-level testTimeout in jest.config.js is not applied by Jest 30 (it is a global option).
jest.setTimeout(60_000);

async function connectionFails(url: string): Promise<boolean> {
  try {
    const conn = await amqp.connect(url);
    await conn.close();
    return false;
  } catch {
    return true;
  }
}

describe('broker helpers', () => {
  it('builds AMQP URLs with the vhost URL-encoded', () => {
    expect(amqpUrl('test-a/b')).toBe('amqp://guest:guest@127.0.0.1:5672/test-a%2Fb');
    expect(amqpUrl('v', 5673)).toBe('amqp://guest:guest@127.0.0.1:5673/v');
  });

  it('creates a usable vhost and deletes it (idempotently)', async () => {
    const vhost = await createVhost();
    expect(vhost).toMatch(/^test-[0-9a-f]{12}$/);
    try {
      expect(await listVhosts()).toContain(vhost);
      const conn = await amqp.connect(amqpUrl(vhost));
      await conn.close();
    } finally {
      await deleteVhost(vhost);
    }
    expect(await listVhosts()).not.toContain(vhost);
    expect(await connectionFails(amqpUrl(vhost))).toBe(true);
    await expect(deleteVhost(vhost)).resolves.toBeUndefined();
  });
});

describe('TestClient', () => {
  let vhost: string;
  let client: TestClient;

  beforeAll(async () => {
    vhost = await createVhost();
  });
  afterAll(async () => {
    await deleteVhost(vhost);
  });
  beforeEach(async () => {
    client = await TestClient.connect(amqpUrl(vhost));
  });
  afterEach(async () => {
    await client.close();
  });

  /** A queue of the test's own on an exchange, read with basic.get. */
  async function tap(exchange: string, pattern = '#') {
    const conn = await amqp.connect(amqpUrl(vhost));
    const ch = await conn.createChannel();
    await ch.assertExchange(exchange, 'topic', { durable: true });
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, exchange, pattern);
    return {
      async next(timeoutMs = 5_000): Promise<amqp.GetMessage> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const msg = await ch.get(queue, { noAck: true });
          if (msg) return msg;
          if (Date.now() > deadline) throw new Error(`nothing on ${exchange} within ${timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, 50));
        }
      },
      close: () => conn.close(),
    };
  }

  it('publishes work items to the inbound exchange as a sender would', async () => {
    const inbound = await tap(DEFAULT_TOPOLOGY.inboundExchange);
    try {
      const item = workItem({ source: 'voicemail', entrance: 'support' });
      const replyQueue = await client.replyQueue();
      const sent = await client.publishWorkItem(item.xml, { correlationId: 'corr-1', headers: { 'x-test': 'yes' } });
      expect(sent).toMatchObject({ routingKey: 'workitem.voicemail', correlationId: 'corr-1', replyTo: replyQueue });
      const msg = await inbound.next();
      expect(msg.fields.routingKey).toBe('workitem.voicemail');
      expect(msg.content.toString()).toBe(item.xml);
      expect(msg.properties).toMatchObject({
        contentType: 'application/xml',
        deliveryMode: 2,
        replyTo: replyQueue,
        correlationId: 'corr-1',
        messageId: sent.messageId,
        headers: { 'x-test': 'yes' },
      });

      // A minimal client: no reply_to, no ids; the source from the options wins over the XML.
      await client.publishWorkItem(Buffer.from(item.xml), { source: 'other', replyTo: false, messageId: null });
      const minimal = await inbound.next();
      expect(minimal.fields.routingKey).toBe('workitem.other');
      expect(minimal.properties.replyTo).toBeUndefined();
      expect(minimal.properties.messageId).toBeUndefined();
      expect(minimal.properties.correlationId).toBeUndefined();

      // No <source> in the body: the default sender.
      await client.publishWorkItem('<cancelWorkItem/>', { replyTo: 'some-queue' });
      const fallback = await inbound.next();
      expect(fallback.fields.routingKey).toBe('workitem.bank-support');
      expect(fallback.properties.replyTo).toBe('some-queue');
    } finally {
      await inbound.close();
    }
  });

  it('publishes control events as JSON', async () => {
    const control = await tap(DEFAULT_TOPOLOGY.controlExchange);
    try {
      await client.publishControl('entrance.closed', { entrance: 'loans' });
      const msg = await control.next();
      expect(msg.fields.routingKey).toBe('entrance.closed');
      expect(msg.properties.contentType).toBe('application/json');
      expect(JSON.parse(msg.content.toString())).toEqual({ entrance: 'loans' });
    } finally {
      await control.close();
    }
  });

  it('collects contact events with their routing keys', async () => {
    await client.bindEvents('contact.created.*');
    const event = { type: 'contact.created', contactId: 'wi-1', entrance: 'loans', externalId: 'X', source: 's' };
    await client.publishRaw(DEFAULT_TOPOLOGY.eventsExchange, 'contact.created.loans', event);
    await client.publishRaw(DEFAULT_TOPOLOGY.eventsExchange, 'contact.withdrawn.loans', { type: 'contact.withdrawn' });
    await client.publishRaw(DEFAULT_TOPOLOGY.eventsExchange, 'contact.created.support', 'not json');
    const events = await client.waitForEvents(2, 5_000);
    expect(events[0]).toMatchObject({ routingKey: 'contact.created.loans', event });
    expect(events[1].parseError).toBeDefined();
    await expect(client.waitForEvents(1, 5_000, (e) => e.event.contactId === 'wi-1')).resolves.toHaveLength(1);
  });

  it("checks the service's events against schemas/contact-event.schema.json: a mismatch fails every wait, and the test", async () => {
    await client.bindEvents();
    const bad = { type: 'contact.created', contactId: 'wi-1', entrance: 'loans', externalId: 'X', source: 's' };
    await client.publishRaw(DEFAULT_TOPOLOGY.eventsExchange, 'contact.created.loans', bad, { appId: 'workitem-server' });
    await expect(client.waitForEvents(1, 5_000)).rejects.toThrow(
      /contact\.created\.loans .*does not match schemas\/contact-event\.schema\.json: .*contactId/,
    );
    expect(client.events[0].schemaError).toMatch(/must have required property 'eventId'/);
    await expect(client.waitFor(() => true, 1_000, 'anything')).rejects.toThrow(/contact-event\.schema\.json/);
    // What afterEach would have failed this test with (taken here, since this test provokes it on purpose).
    expect(takeSchemaViolations()).toEqual([expect.stringMatching(/does not match schemas\/contact-event\.schema\.json/)]);
  });

  it('collects and parses receipts from its reply queue and from the receipts exchange', async () => {
    await client.bindReceiptsExchange();
    const replyQueue = await client.replyQueue();
    const accepted =
      '<workItemReceipt status="accepted" externalId="A&amp;B" source="bank-support" contactId="wi-9" entrance="loans" receivedAt="2026-11-23T10:00:00.000Z"/>';
    const rejected =
      '<?xml version="1.0"?><workItemReceipt status="rejected" externalId="X" source="s">\n' +
      '  <error code="INVALID_FIELD" path="/workItem/priority">priority must be &lt; 11</error>\n</workItemReceipt>';
    await client.publishRaw('', replyQueue, accepted, { contentType: 'application/xml' });
    await client.publishRaw(DEFAULT_TOPOLOGY.receiptsExchange, 'rejected.s', rejected);

    const [receipt] = await client.waitForReceipts(1, 5_000);
    expect(receipt).toMatchObject({ status: 'accepted', externalId: 'A&B', contactId: 'wi-9', entrance: 'loans' });
    expect(receipt.attributes.receivedAt).toBe('2026-11-23T10:00:00.000Z');
    expect(receipt.error).toBeUndefined();

    const [copy] = await client.waitForReceiptCopies(1, 5_000, (r) => r.status === 'rejected');
    expect(copy.routingKey).toBe('rejected.s');
    expect(copy.error).toEqual({ code: 'INVALID_FIELD', path: '/workItem/priority', message: 'priority must be < 11' });
    expect(parseReceipt('<workItemReceipt status="rejected"><error code="X"/></workItemReceipt>').error).toEqual({
      code: 'X',
      path: undefined,
      message: '',
    });
  });

  it('consumes the error queue (declared as the service declares it)', async () => {
    await client.bindErrors();
    const headers = { 'x-error-code': 'MALFORMED_XML', 'x-error-path': '/', 'x-error-message': 'bad' };
    await client.publishRaw(DEFAULT_TOPOLOGY.errorExchange, 'MALFORMED_XML', '<oops', { headers, messageId: 'm-1' });
    const [error] = await client.waitForErrors(1, 5_000);
    expect(error).toMatchObject({ code: 'MALFORMED_XML', headers, routingKey: 'MALFORMED_XML' });
    expect(error.body.toString()).toBe('<oops');
    expect(error.properties.messageId).toBe('m-1');
    // Consumed and acked, not just peeked; and it is the service's quorum queue.
    await client.close();
    const other = await TestClient.connect(amqpUrl(vhost));
    try {
      expect(await other.checkQueue(DEFAULT_TOPOLOGY.errorQueue)).toEqual({ messageCount: 0, consumerCount: 0 });
      expect(await other.checkQueue('no-such-queue')).toBeNull();
    } finally {
      await other.close();
    }
  });

  it('bounds waits and reports what was collected', async () => {
    await client.bindEvents();
    await client.publishRaw(DEFAULT_TOPOLOGY.eventsExchange, 'contact.created.loans', { type: 'contact.created' });
    await client.waitForEvents(1, 5_000);
    await expect(client.waitForEvents(2, 300)).rejects.toThrow(
      /timed out after 300 ms waiting for 2 events; events \[contact\.created\.loans\]/,
    );
  });

  it('sees its connection force-closed by closeConnections', async () => {
    await closeConnections(vhost);
    await client.waitFor(() => !client.isOpen, 5_000, 'the client to notice the forced close');
    expect(client.failures.map((f) => f.message).join()).toMatch(/CONNECTION_FORCED/);
  });

  it('survives a publish that closes its channel', async () => {
    await expect(client.publishRaw('no-such-exchange', 'x', 'body')).rejects.toThrow();
    expect(client.failures.length).toBeGreaterThan(0);
    const inbound = await tap(DEFAULT_TOPOLOGY.inboundExchange);
    try {
      await client.publishWorkItem(workItemXml());
      await expect(inbound.next()).resolves.toBeDefined();
    } finally {
      await inbound.close();
    }
  });
});

describe('redis helpers', () => {
  it('makes prefixes the service accepts', () => {
    const prefix = randomPrefix();
    expect(prefix).toMatch(/^[A-Za-z0-9_.:-]{1,64}$/);
    expect(prefix).not.toBe(randomPrefix());
  });

  it('deletes exactly the keys under a prefix', async () => {
    const prefix = randomPrefix();
    const other = randomPrefix();
    const redis = testRedisClient(DEFAULT_REDIS_URL);
    await redis.connect();
    try {
      const pipeline = redis.pipeline();
      for (let i = 0; i < 2500; i++) pipeline.set(`${prefix}k${i}`, 'v');
      pipeline.hset(`${prefix}h`, 'f', 'v');
      pipeline.set(`${other}keep`, 'v');
      await pipeline.exec();
      expect(await keysByPrefix(redis, prefix)).toHaveLength(2501);
      expect(await deleteByPrefix(DEFAULT_REDIS_URL, prefix)).toBe(2501);
      expect(await keysByPrefix(redis, prefix)).toHaveLength(0);
      expect(await redis.get(`${other}keep`)).toBe('v');
    } finally {
      await deleteByPrefix(DEFAULT_REDIS_URL, other);
      redis.disconnect();
    }
  });
});

describe('startRedis', () => {
  it('keeps AOF data across a crash and restart, and cleans up on stop', async () => {
    const server = await startRedis();
    const redis = testRedisClient(server.url);
    try {
      await redis.connect();
      expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      await redis.set('k', 'v');
      redis.disconnect();
      const pid = server.pid;
      await server.kill9();
      await server.restart();
      expect(server.pid).not.toBe(pid);
      await redis.connect();
      expect(await redis.get('k')).toBe('v');
    } finally {
      redis.disconnect();
      await server.stop();
    }
    expect(existsSync(server.dir)).toBe(false);
    const after = testRedisClient(server.url);
    await expect(after.connect()).rejects.toThrow();
    after.disconnect();
  });

  it('loses data on restart without persistence', async () => {
    const server = await startRedis({ appendonly: false });
    const redis = testRedisClient(server.url);
    try {
      await redis.connect();
      await redis.set('k', 'v');
      redis.disconnect();
      await server.restart();
      await redis.connect();
      expect(await redis.get('k')).toBeNull();
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});

describe('work items', () => {
  it('builds valid, escaped work-item XML', async () => {
    const item = workItem({
      subject: 'A < B & "C"',
      priority: 7,
      body: 'text',
      customer: { name: 'Anna', email: 'a@example.com' },
      contactData: { CaseUrl: 'https://x.example/?a=1&b=2' },
      attachment: { fileName: 'a.wav', contentType: 'audio/wav', data: Buffer.from('RIFF') },
      social: { postId: '1234_1', author: "O'Hara" },
    });
    const doc = await parseStringPromise(item.xml);
    const w = doc.workItem;
    expect(w.$.version).toBe('1');
    expect(w.externalId[0]).toBe(item.externalId);
    expect(w.source[0]).toBe('bank-support');
    expect(w.entrance[0]).toBe('loans');
    expect(w.subject[0]).toBe('A < B & "C"');
    expect(w.priority[0]).toBe('7');
    expect(w.customer[0]).toEqual({ name: ['Anna'], email: ['a@example.com'] });
    expect(w.contactData[0].item.map((i: { _: string; $: { key: string } }) => [i.$.key, i._])).toEqual([
      ['WorkItemTask', 'test-task'],
      ['CaseUrl', 'https://x.example/?a=1&b=2'],
    ]);
    expect(w.attachment[0]).toEqual({
      _: Buffer.from('RIFF').toString('base64'),
      $: { fileName: 'a.wav', contentType: 'audio/wav', encoding: 'base64' },
    });
    expect(w.social[0].$).toEqual({ platform: 'facebook', pageId: '1234', postId: '1234_1', author: "O'Hara" });
  });

  it('leaves out fields set to null', async () => {
    const doc = await parseStringPromise(workItemXml({ subject: null, taskType: null, externalId: null }));
    expect(doc.workItem.subject).toBeUndefined();
    expect(doc.workItem.externalId).toBeUndefined();
    expect(doc.workItem.contactData).toBeUndefined();
    const cancel = await parseStringPromise(cancelXml({ externalId: 'E-1' }));
    expect(cancel.cancelWorkItem).toMatchObject({ externalId: ['E-1'], source: ['bank-support'] });
  });

  it('reads the shared examples', () => {
    expect(example('loan-review.xml')).toContain('<externalId>CASE-2026-000123</externalId>');
  });
});

describe('startService (with a stub service)', () => {
  let dir: string;
  let stub: string;
  /** A vhost name only used to name this run's log files (the stub never connects). */
  const vhost = `stub-${randomPrefix().slice(1, -1)}`;
  const start = (opts: Partial<StartServiceOptions> = {}) => startService({ vhost, prefix: randomPrefix(), entry: stub, ...opts });

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'workitem-stub-'));
    stub = path.join(dir, 'stub.js');
    // Mimics the service's outside: env config, JSON log lines, /readyz, SIGTERM handling.
    writeFileSync(
      stub,
      `
const http = require('node:http');
const mode = process.env.STUB_MODE || 'ok';
const log = (msg, extra) => console.log(JSON.stringify({ level: 'info', message: msg, ...extra }));
log('starting', { env: { AMQP_URL: process.env.AMQP_URL, REDIS_URL: process.env.REDIS_URL, REDIS_KEY_PREFIX: process.env.REDIS_KEY_PREFIX, LOG_LEVEL: process.env.LOG_LEVEL, WORKITEM_CONFIG: process.env.WORKITEM_CONFIG } });
console.error('a plain stderr line');
if (mode === 'crash') process.exit(3);
let ready = false;
const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/readyz' && ready && mode !== 'never-ready' ? 200 : 503);
  res.end();
});
server.listen(Number(process.env.HTTP_PORT), '127.0.0.1', () => setTimeout(() => { ready = true; log('ready'); }, 200));
process.on('SIGTERM', () => {
  if (mode === 'ignore-term') return log('ignoring SIGTERM');
  log('stopping');
  server.close(() => process.exit(0));
});
`,
    );
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    for (const f of readdirSync(LOG_DIR)) if (f.startsWith(`${vhost}-`)) rmSync(path.join(LOG_DIR, f));
  });

  it('merges config deeply; null removes a key', () => {
    const merged = mergeConfig({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, d: null, e: 'x' });
    expect(merged).toEqual({ a: { b: 1, c: [3] }, e: 'x' });
  });

  it('starts, waits for readiness, captures logs and stops with the exit code', async () => {
    const prefix = randomPrefix();
    const svc = await start({ prefix, config: { park: { retrySeconds: 2 } } });
    try {
      expect(svc.baseUrl).toBe(`http://127.0.0.1:${svc.port}`);
      const ready = await svc.waitForLog(/"message":"ready"/, 5_000);
      expect(JSON.parse(ready).message).toBe('ready');
      const start = svc.jsonLogs().find((l) => l.message === 'starting') as { env: Record<string, string> };
      expect(start.env).toEqual({
        AMQP_URL: amqpUrl(vhost),
        REDIS_URL: DEFAULT_REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        LOG_LEVEL: 'info',
        WORKITEM_CONFIG: svc.configFile,
      });
      const config = JSON.parse(readFileSync(svc.configFile, 'utf8'));
      expect(Object.keys(config.entrances)).toEqual(['loans', 'support', 'social']);
      expect(config.social.facebook.pages['1234'].entrance).toBe('social');
      expect(config.park).toEqual({ retrySeconds: 2 });
      expect(svc.logs).toContain('a plain stderr line');
    } finally {
      expect(await svc.stop()).toBe(0);
    }
    expect(svc.logs.some((l) => l.includes('"stopping"'))).toBe(true);
    expect(readFileSync(svc.logFile, 'utf8')).toContain('"stopping"');
    expect(existsSync(svc.configFile)).toBe(false);
    expect(await svc.stop()).toBe(0);
  });

  it('SIGKILLs a service that ignores SIGTERM past the timeout', async () => {
    const svc = await start({ env: { STUB_MODE: 'ignore-term' } });
    expect(await svc.stop('SIGTERM', 500)).toBeNull();
    expect(await svc.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('kill9 reaps the child', async () => {
    const svc = await start();
    await svc.kill9();
    expect(() => process.kill(svc.pid, 0)).toThrow();
  });

  it('fails fast with the log when the service exits before it is ready', async () => {
    const started = Date.now();
    await expect(start({ env: { STUB_MODE: 'crash' } })).rejects.toThrow(
      /exited before becoming ready \(\{"code":3,"signal":null\}\)[\s\S]*a plain stderr line/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('gives up after the readiness timeout and kills the child', async () => {
    let message = '';
    await start({ env: { STUB_MODE: 'never-ready' }, readyTimeoutMs: 1_000 }).catch((err: Error) => (message = err.message));
    expect(message).toMatch(/not ready within 1000 ms \(last \/readyz: HTTP 503/);
  });

  it('can return before readiness, to observe a refused start', async () => {
    const svc = await start({ env: { STUB_MODE: 'crash' }, waitForReady: false });
    expect(await svc.exited).toEqual({ code: 3, signal: null });
  });

  it('explains a missing build', async () => {
    await expect(start({ entry: path.join(dir, 'missing.js') })).rejects.toThrow(/npm run build/);
  });
});
