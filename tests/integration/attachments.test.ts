import { createHash } from 'node:crypto';
import { Fixture } from '../helpers/fixture';
import { newExternalId, example, workItemXml } from '../helpers/work-items';
import { httpRequest } from '../helpers/http';
import { waitUntil } from '../helpers/wait';

const WAV = Buffer.from('UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=', 'base64');

/** Issue 6: attachments as claim checks, large items on their own lane, social items. */
describe('attachments and social items', () => {
  const f = new Fixture({ config: { attachments: { maxBytes: 2 * 1024 * 1024 } } });
  beforeAll(() => f.setup(), 60_000);
  afterAll(() => f.teardown());

  it('voicemail-with-audio.xml → event with a reference; the download is the identical bytes; End removes it', async () => {
    await f.client.publishWorkItem(example('voicemail-with-audio.xml'), { replyTo: true, correlationId: 'vm' });
    const [r] = await f.client.waitForReceipts(1, 10_000, (x) => x.properties.correlationId === 'vm');
    expect(r.status).toBe('accepted');
    const [ev] = await f.client.waitForEvents(1, 10_000, (e) => e.event.contactId === r.contactId);
    expect(ev.routingKey).toBe('contact.created.support');
    const a = ev.event.attachment!;
    expect(a).toMatchObject({
      fileName: 'message.wav',
      contentType: 'audio/wav',
      size: 44,
      sha256: createHash('sha256').update(WAV).digest('hex'),
    });
    expect(JSON.stringify(ev.event)).not.toContain('UklGR');
    const url = new URL(a.url);
    expect(url.pathname).toBe(`/attachments/${r.contactId}/message.wav`);
    // The link is signed and expiring (issue 14): the plain path is refused.
    expect(url.searchParams.get('sig')).toMatch(/^[\w-]{43}$/);
    expect((await httpRequest(`${f.svc.baseUrl}${url.pathname}`)).status).toBe(403);
    const dl = await httpRequest(`${f.svc.baseUrl}${url.pathname}${url.search}`);
    expect(dl.status).toBe(200);
    expect(dl.headers['content-type']).toBe('audio/wav');
    expect(dl.headers['content-length']).toBe('44');
    expect(dl.headers['content-disposition']).toBe('attachment; filename="message.wav"; filename*=UTF-8\'\'message.wav');
    expect(dl.body.equals(WAV)).toBe(true);
    expect(createHash('sha256').update(dl.body).digest('hex')).toBe(a.sha256);
    expect((await httpRequest(`${f.svc.baseUrl}/attachments/${r.contactId}/other.wav${url.search}`)).status).toBe(403);

    await f.client.publishControl('contact.ended', { contactId: r.contactId });
    await waitUntil(async () => (await httpRequest(`${f.svc.baseUrl}${url.pathname}${url.search}`)).status === 404, { timeoutMs: 5000 });
  });

  it('a large attachment goes through the large-item lane and downloads intact', async () => {
    const data = Buffer.alloc(1536 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251;
    const ext = newExternalId('BIG');
    await f.client.publishWorkItem(
      workItemXml({
        externalId: ext,
        source: 'voicemail',
        entrance: 'support',
        attachment: { fileName: 'long call.wav', contentType: 'audio/wav', data },
      }),
      { replyTo: true },
    );
    const [r] = await f.client.waitForReceipts(1, 20_000, (x) => x.externalId === ext);
    expect(r.status).toBe('accepted');
    const [ev] = await f.client.waitForEvents(1, 10_000, (e) => e.event.externalId === ext);
    expect(ev.event.attachment?.size).toBe(data.length);
    const link = new URL(ev.event.attachment!.url);
    const dl = await httpRequest(`${f.svc.baseUrl}${link.pathname}${link.search}`);
    expect(dl.status).toBe(200);
    expect(dl.body.equals(data)).toBe(true);
    expect(dl.headers['content-disposition']).toContain("filename*=UTF-8''long%20call.wav");
    expect(f.svc.logs.join('\n')).not.toMatch(/"level":"error"/);
  });

  it.each([
    ['bad base64', { fileName: 'a.wav', contentType: 'audio/wav', data: 'UklGR!!!' }],
    ['type not allowed', { fileName: 'a.exe', contentType: 'application/x-msdownload', data: WAV }],
    ['over the size limit', { fileName: 'big.wav', contentType: 'audio/wav', data: Buffer.alloc(2 * 1024 * 1024 + 1) }],
    ['path separator in the file name', { fileName: '../etc/passwd', contentType: 'text/plain', data: WAV }],
    ['control character in the file name', { fileName: 'a\u009f.wav', contentType: 'audio/wav', data: WAV }],
  ])('%s → rejected ATTACHMENT_REJECTED with the reason', async (_name, attachment) => {
    const ext = newExternalId('ATT');
    await f.client.publishWorkItem(workItemXml({ externalId: ext, attachment }), { replyTo: true, correlationId: ext });
    const [r] = await f.client.waitForReceipts(1, 20_000, (x) => x.properties.correlationId === ext);
    expect(r.status).toBe('rejected');
    expect(r.error?.code).toBe('ATTACHMENT_REJECTED');
    expect(r.error?.message).toBeTruthy();
    await f.client.waitForErrors(1, 20_000, (e) => e.properties.correlationId === ext && e.code === 'ATTACHMENT_REJECTED');
  });

  it('facebook-post.xml with page 1234 configured → contact.created.social with social and a Facebook preview', async () => {
    await f.client.publishWorkItem(example('facebook-post.xml'), { replyTo: true, correlationId: 'fb' });
    const [r] = await f.client.waitForReceipts(1, 10_000, (x) => x.properties.correlationId === 'fb');
    expect(r.status).toBe('accepted');
    const [ev] = await f.client.waitForEvents(1, 10_000, (e) => e.event.contactId === r.contactId);
    expect(ev.routingKey).toBe('contact.created.social');
    expect(ev.event.social).toEqual({ platform: 'facebook', pageId: '1234', postId: '1234_987', author: 'Jane Doe' });
    expect(ev.event.presentation?.preview).toMatch(/Facebook/);
  });

  it('a social item for a page that is not configured → SOCIAL_NOT_CONFIGURED', async () => {
    const ext = newExternalId('FB');
    await f.client.publishWorkItem(
      workItemXml({ externalId: ext, source: 'social-bridge', entrance: 'social', social: { platform: 'facebook', pageId: '999' } }),
      { replyTo: true, correlationId: ext },
    );
    const [r] = await f.client.waitForReceipts(1, 10_000, (x) => x.properties.correlationId === ext);
    expect(r.error?.code).toBe('SOCIAL_NOT_CONFIGURED');
    await f.client.waitForErrors(1, 10_000, (e) => e.properties.correlationId === ext);
  });
});
