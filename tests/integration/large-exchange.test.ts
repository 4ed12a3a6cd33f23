import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Fixture } from '../helpers/fixture';
import { amqpUrl } from '../helpers/broker';
import { runCli } from '../helpers/cli';
import { DEFAULT_REDIS_URL } from '../helpers/redis';
import { waitUntil } from '../helpers/wait';
import { newExternalId, workItemXml } from '../helpers/work-items';

/**
 * Contract 1.2 "Large items straight to their lane": a sender may publish a large item to the topic exchange
 * `workitem.inbound.large` (routing key `workitem.<source>`), which feeds the large-item queue directly. Same sender
 * identity and rules; our internal headers on such a message are not trusted. Debug logging shows each move from the
 * inbound queue to the large lane ("moved to the large lane"), so a test can tell that an item was never moved.
 */
jest.setTimeout(60_000);

const WAIT_MS = 20_000;
const FORGED_CONTACT_ID = 'wi-00000000-0000-0000-0000-000000000000';

describe('large items straight to their lane (workitem.inbound.large exchange)', () => {
  const f = new Fixture({ env: { LOG_LEVEL: 'debug' } });
  beforeAll(() => f.setup(), 60_000);
  afterAll(() => f.teardown());

  const largeExchange = () => f.client.topology.inboundLargeExchange;

  /** A ~300 KiB item (attachment plus a long body), over limits.largeMessageBytes (256 KiB). */
  function largeItem(externalId: string, source = 'voicemail'): string {
    const xml = workItemXml({
      externalId,
      source,
      entrance: 'support',
      body: 'b'.repeat(60_000),
      attachment: { fileName: 'call.wav', contentType: 'audio/wav', data: Buffer.alloc(200_000, 7) },
    });
    expect(Buffer.byteLength(xml)).toBeGreaterThan(256 * 1024);
    return xml;
  }

  const movedLines = (messageId: string) => f.svc.logs.filter((l) => l.includes('moved to the large lane') && l.includes(messageId));

  it('a 300 KiB item published there is accepted with its contact event and is never moved (one via workitem.inbound is)', async () => {
    const direct = newExternalId('LXD');
    const viaInbound = newExternalId('LXI');
    const d = await f.client.publishWorkItem(largeItem(direct), { exchange: largeExchange(), replyTo: true });
    const i = await f.client.publishWorkItem(largeItem(viaInbound), { replyTo: true });
    for (const ext of [direct, viaInbound]) {
      const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.externalId === ext);
      expect(r.status).toBe('accepted');
      const [ev] = await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.externalId === ext);
      expect(ev.event.contactId).toBe(r.contactId);
      expect(ev.routingKey).toBe('contact.created.support');
      expect(ev.event.attachment?.size).toBe(200_000);
    }
    // The one sent to workitem.inbound was moved (so the log line is there to be missed), the direct one never was.
    await waitUntil(() => movedLines(i.messageId!).length === 1, {
      timeoutMs: 5000,
      describe: 'the move of the one sent to workitem.inbound',
    });
    expect(movedLines(d.messageId!)).toHaveLength(0);
    expect(f.svc.logs.join('\n')).not.toMatch(/"level":"error"/);
  });

  it('forged internal headers are not trusted: a fresh contactId, the XML entrance', async () => {
    const ext = newExternalId('LXF');
    await f.client.publishWorkItem(largeItem(ext), {
      exchange: largeExchange(),
      replyTo: true,
      headers: {
        'x-workitem-contact-id': FORGED_CONTACT_ID,
        'x-workitem-entrance': 'loans',
        'x-original-routing-key': 'workitem.bank-support',
        'x-original-exchange': 'workitem.inbound',
      },
    });
    const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.externalId === ext);
    expect(r.status).toBe('accepted');
    expect(r.contactId).toMatch(/^wi-/);
    expect(r.contactId).not.toBe(FORGED_CONTACT_ID);
    expect(r.entrance).toBe('support');
    const [ev] = await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.externalId === ext);
    expect(ev.event.contactId).toBe(r.contactId);
    expect(ev.routingKey).toBe('contact.created.support');
  });

  it.each([
    ['plain', {}],
    ['with a forged x-original-routing-key of the right source', { 'x-original-routing-key': 'workitem.voicemail' }],
  ])('a routing key of another source is SENDER_NOT_ALLOWED (%s), the error copy names the large-item exchange', async (_n, headers) => {
    const ext = newExternalId('LXS');
    await f.client.publishWorkItem(largeItem(ext, 'voicemail'), {
      exchange: largeExchange(),
      routingKey: 'workitem.bank-support',
      replyTo: true,
      correlationId: ext,
      headers,
    });
    const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.properties.correlationId === ext);
    expect(r.status).toBe('rejected');
    expect(r.error?.code).toBe('SENDER_NOT_ALLOWED');
    expect(r.contactId).toBeUndefined();
    const [copy] = await f.client.waitForErrors(1, WAIT_MS, (e) => e.properties.correlationId === ext);
    expect(copy.code).toBe('SENDER_NOT_ALLOWED');
    expect(copy.headers['x-original-exchange']).toBe(largeExchange());
    expect(copy.headers['x-original-routing-key']).toBe('workitem.bank-support');
  });

  it('a small item sent there is handled too (the sender chose the lane): accepted', async () => {
    const ext = newExternalId('LXSM');
    const xml = workItemXml({ externalId: ext, source: 'bank-support', entrance: 'loans' });
    expect(Buffer.byteLength(xml)).toBeLessThan(256 * 1024);
    await f.client.publishWorkItem(xml, { exchange: largeExchange(), replyTo: true });
    const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.externalId === ext);
    expect(r.status).toBe('accepted');
    await f.client.waitForEvents(1, WAIT_MS, (e) => e.event.contactId === r.contactId);
  });

  it('workitem send --large publishes there and waits for the accepted receipt', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wi-large-'));
    try {
      const ext = newExternalId('LXC');
      const file = path.join(dir, 'big.xml');
      writeFileSync(file, largeItem(ext));
      const env = {
        ...process.env,
        AMQP_URL: amqpUrl(f.vhost),
        REDIS_URL: DEFAULT_REDIS_URL,
        REDIS_KEY_PREFIX: f.prefix,
        WORKITEM_CONFIG: f.svc.configFile,
      };
      const r = await runCli(['send', file, '--large', '--wait', '--timeout', '20s', '--json'], env);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      const out = JSON.parse(r.stdout) as { published: { exchange: string; messageId: string }; receipt: { status: string } };
      expect(out.published.exchange).toBe(largeExchange());
      expect(out.receipt.status).toBe('accepted');
      expect(movedLines(out.published.messageId)).toHaveLength(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
