import { createHmac } from 'node:crypto';
import os from 'node:os';
import { Fixture } from '../helpers/fixture';
import { httpRequest, type HttpResponse } from '../helpers/http';
import { startService } from '../helpers/service';
import { withTimeout } from '../helpers/wait';
import { newExternalId, workItemXml } from '../helpers/work-items';

/**
 * Issue 14: who may read what over HTTP, against the real service. Each path is asked with and without
 * credentials, from a loopback address and — when this machine has one — from a non-loopback local address
 * (the service binds 0.0.0.0, the test connects to e.g. 192.0.2.2, so the service sees a non-loopback peer).
 */

jest.setTimeout(180_000);

const SECRET = 'integration-test-attachment-secret-0123456789';
const TOKEN = 'it-api-token-0123456789abcdef';
const METRICS = 'it-metrics-token-0123456789';
const WAV = Buffer.from('UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=', 'base64');

/** A non-loopback IPv4 address of this machine, or null (then the unit tests cover the remote-address decision). */
const EXTERNAL =
  Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address ?? null;
const itExternal = EXTERNAL ? it : it.skip;
if (!EXTERNAL) console.warn('no non-loopback IPv4 address on this machine: the remote-client cases are skipped here');

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

function expectChallenge(r: HttpResponse, error?: string): void {
  expect(r.status).toBe(401);
  expect(r.headers['www-authenticate']).toBe(error ? `Bearer realm="workitem", error="${error}"` : 'Bearer realm="workitem"');
  expect(r.headers['content-type']).toMatch(/^application\/json/);
  expect(r.json<{ error: string }>().error).toEqual(expect.any(String));
}

function sign(contactId: string, fileName: string, expires: number): string {
  return createHmac('sha256', SECRET).update(`GET /attachments/${contactId}/${fileName}\n${expires}`).digest('base64url');
}

describe('HTTP access (real service)', () => {
  const f = new Fixture({ env: { ATTACHMENT_URL_SECRET: SECRET, HTTP_HOST: '0.0.0.0', DASHBOARD_ENABLED: 'true' } });
  let contactId = '';
  let link: URL;
  const local = (path: string, headers: Record<string, string> = {}) => httpRequest(`${f.svc.baseUrl}${path}`, { headers });
  const remote = (path: string, headers: Record<string, string> = {}) =>
    httpRequest(`http://${EXTERNAL}:${f.svc.port}${path}`, { headers });

  beforeAll(() => f.setup(), 60_000);
  afterAll(() => f.teardown());

  it('an item parked at a closed entrance gets a signed link when the flush publishes it', async () => {
    await f.setEntrance('support', false);
    const ext = newExternalId('SIG');
    await f.client.publishWorkItem(
      workItemXml({
        externalId: ext,
        source: 'voicemail',
        entrance: 'support',
        attachment: { fileName: 'call 1.wav', contentType: 'audio/wav', data: WAV },
      }),
      { replyTo: true },
    );
    const [r] = await f.client.waitForReceipts(1, 20_000, (x) => x.externalId === ext);
    expect(r.status).toBe('buffered');
    contactId = r.contactId!;

    // /api/items: parked (code word) and buffered (wire word) select the same; total counts what the filter selects.
    const parked = (await local('/api/items?state=parked&entrance=support')).json<{ items: { contactId: string }[]; total: number }>();
    const buffered = (await local('/api/items?state=buffered&entrance=support')).json<{ items: { contactId: string }[]; total: number }>();
    expect(parked).toEqual(buffered);
    expect(parked.items.map((i) => i.contactId)).toEqual([contactId]);
    expect(parked.total).toBe(1);
    expect((await local('/api/items?state=routed&entrance=support')).json<{ total: number }>().total).toBe(0);

    await f.setEntrance('support', true);
    const [ev] = await f.client.waitForEvents(1, 20_000, (e) => e.event.contactId === contactId);
    link = new URL(ev.event.attachment!.url);
    expect(link.pathname).toBe(`/attachments/${contactId}/call%201.wav`);
    const expires = Number(link.searchParams.get('expires'));
    expect(expires).toBeGreaterThan(Date.now() / 1000 + 86_400 - 120);
    expect(expires).toBeLessThanOrEqual(Date.now() / 1000 + 86_400 + 1);
    expect(link.searchParams.get('sig')).toBe(sign(contactId, 'call 1.wav', expires));
    // The stored record keeps the plain location: the API never hands out a signature of its own.
    const stored = (await local(`/api/items/${contactId}`)).json<{ attachment: { url: string } }>();
    expect(stored.attachment.url).not.toContain('sig=');
  });

  it('loopback, no token configured: health, metrics and /api answer; attachments need the signature', async () => {
    expect((await local('/healthz')).status).toBe(200);
    expect((await local('/readyz')).status).toBe(200);
    expect((await local('/metrics')).status).toBe(200);
    expect((await local('/api/entrances')).status).toBe(200);
    expect((await local('/api/items')).status).toBe(200);
    expect((await local(`/api/items/${contactId}`)).status).toBe(200);

    const path = link.pathname;
    const ok = await local(`${path}${link.search}`);
    expect(ok.status).toBe(200);
    expect(ok.body.equals(WAV)).toBe(true);
    const refused = async (p: string, why: RegExp) => {
      const r = await local(p);
      expect(r.status).toBe(403);
      expect(r.json<{ error: string }>().error).toMatch(why);
    };
    await refused(path, /signed link/);
    const exp = link.searchParams.get('expires')!;
    const sig = link.searchParams.get('sig')!;
    await refused(`${path}?expires=${Number(exp) + 60}&sig=${sig}`, /altered/);
    await refused(`${path}?expires=${exp}&sig=${sig.slice(0, -2)}AA`, /altered/);
    await refused(`/attachments/${contactId}/other.wav?expires=${exp}&sig=${sig}`, /altered/);
    const past = Math.floor(Date.now() / 1000) - 10;
    await refused(`${path}?expires=${past}&sig=${sign(contactId, 'call 1.wav', past)}`, /expired/);
    await refused(
      `${path}?expires=${exp}&sig=${createHmac('sha256', 'another-secret')
        .update(`GET ${decodeURIComponent(path)}\n${exp}`)
        .digest('base64url')}`,
      /altered/,
    );
  });

  it('loopback client naming a foreign Host (DNS rebinding) → 401 on /api', async () => {
    expectChallenge(await local('/api/items', { host: 'evil.example' }));
  });

  it('/api/items: a bad entrance, limit, cursor or state → 400 naming the parameter', async () => {
    for (const [q, parameter] of [
      ['entrance=nowhere', 'entrance'],
      ['limit=abc', 'limit'],
      ['limit=0', 'limit'],
      ['limit=100000', 'limit'],
      ['cursor=-5', 'cursor'],
      ['cursor=x', 'cursor'],
      ['state=gone', 'state'],
    ]) {
      const r = await local(`/api/items?${q}`);
      expect(r.status).toBe(400);
      expect(r.json()).toEqual({ parameter, error: expect.stringMatching(new RegExp(`^${parameter}: `)) });
    }
  });

  it("the dashboard's item view links the attachment with a signature of its own; /ui/api keeps its rules", async () => {
    const d = (await local(`/ui/api/items/${contactId}`)).json<{ attachment: { link: string } }>();
    const own = new URL(d.attachment.link, f.svc.baseUrl);
    expect(own.pathname).toBe(link.pathname);
    expect(own.searchParams.get('sig')).toEqual(expect.any(String));
    expect((await local(`${own.pathname}${own.search}`)).status).toBe(200);
  });

  itExternal('non-loopback client, no token configured: 401 on /api, health and metrics open, signed links work', async () => {
    expect((await remote('/healthz')).status).toBe(200);
    expect((await remote('/readyz')).status).toBe(200);
    expect((await remote('/metrics')).status).toBe(200);
    expectChallenge(await remote('/api/items'));
    expectChallenge(await remote('/api/entrances'));
    expectChallenge(await remote(`/api/items/${contactId}`));
    expectChallenge(await remote('/api/items', bearer(TOKEN)), 'invalid_token');
    expect((await remote(`${link.pathname}${link.search}`)).status).toBe(200);
    expect((await remote(link.pathname)).status).toBe(403);
    // The read-only dashboard keeps its own rule for non-loopback clients.
    expect((await remote('/ui/api/overview')).status).toBe(403);
  });

  describe('with API_TOKENS and METRICS_TOKEN', () => {
    beforeAll(async () => {
      await f.restart({
        env: {
          ATTACHMENT_URL_SECRET: SECRET,
          HTTP_HOST: '0.0.0.0',
          API_TOKENS: `other-token-0123456789abc,${TOKEN}`,
          METRICS_TOKEN: METRICS,
        },
      });
    }, 60_000);

    it('a replay (here: the contact center restarted) re-publishes the item with a newly signed link', async () => {
      // A restart right after the first start skips its own replay (one replay per deployment): ask for one.
      await f.client.publishControl('server.started', {});
      const replayed = await f.client.waitForEvents(1, 20_000, (e) => e.event.contactId === contactId && e.event.replayed === true);
      const again = new URL(replayed[0].event.attachment!.url);
      expect(Number(again.searchParams.get('expires'))).toBeGreaterThanOrEqual(Number(link.searchParams.get('expires')));
      expect(again.searchParams.get('sig')).toBe(sign(contactId, 'call 1.wav', Number(again.searchParams.get('expires'))));
      // The shared secret: a link signed before the restart still works on the new process.
      expect((await local(`${link.pathname}${link.search}`)).status).toBe(200);
    });

    it('/api needs a token from loopback clients too; a wrong one → 401 invalid_token', async () => {
      expectChallenge(await local('/api/items'));
      expectChallenge(await local('/api/entrances'));
      expectChallenge(await local('/api/items', bearer('wrong-token-0123456789abc')), 'invalid_token');
      expectChallenge(await local('/api/items', { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` }));
      expectChallenge(await local('/api/nothing-here'));
      expect((await local('/api/items', bearer(TOKEN))).status).toBe(200);
      expect((await local('/api/entrances', bearer('other-token-0123456789abc'))).status).toBe(200);
      expect((await local('/api/nothing-here', bearer(TOKEN))).status).toBe(404);
    });

    it('/metrics needs METRICS_TOKEN (an API token is not it); health stays open', async () => {
      expect((await local('/healthz')).status).toBe(200);
      expect((await local('/readyz')).status).toBe(200);
      expectChallenge(await local('/metrics'));
      expectChallenge(await local('/metrics', bearer(TOKEN)), 'invalid_token');
      const m = await local('/metrics', bearer(METRICS));
      expect(m.status).toBe(200);
      expect(m.text()).toContain('workitem_items_total');
    });

    it('attachments: an API token works instead of a signature; a wrong one does not', async () => {
      expect((await local(link.pathname, bearer(TOKEN))).status).toBe(200);
      expect((await local(link.pathname, bearer('wrong-token-0123456789abc'))).status).toBe(403);
      expect((await local(link.pathname)).status).toBe(403);
    });

    itExternal('non-loopback client with the token: /api, metrics and attachments answer', async () => {
      expectChallenge(await remote('/api/items'));
      expect((await remote('/api/items', bearer(TOKEN))).json<{ total: number }>().total).toBe(1);
      expect((await remote('/metrics', bearer(METRICS))).status).toBe(200);
      expectChallenge(await remote('/metrics'));
      expect((await remote(link.pathname, bearer(TOKEN))).status).toBe(200);
      expect((await remote(`${link.pathname}${link.search}`)).status).toBe(200);
    });

    it('never logs a token or the secret', () => {
      const logs = f.svc.logs.join('\n');
      for (const s of [TOKEN, METRICS, SECRET, 'other-token-0123456789abc']) expect(logs).not.toContain(s);
      expect(logs).toMatch(/"api":"bearer tokens \(2\)"/);
      expect(logs).not.toMatch(/ATTACHMENT_URL_SECRET is not set/);
    });
  });

  it('without ATTACHMENT_URL_SECRET: a random key per process and a loud warning', async () => {
    const svc = await startService({ vhost: f.vhost, prefix: `${f.prefix}nosecret:` });
    try {
      const line = await svc.waitForLog(/ATTACHMENT_URL_SECRET is not set/, 20_000);
      expect(JSON.parse(line)).toMatchObject({ level: 'warn' });
      // Its key is not the shared one: a link signed with the shared secret is refused.
      expect((await httpRequest(`${svc.baseUrl}${link.pathname}${link.search}`)).status).toBe(403);
    } finally {
      await svc.stop();
    }
  });

  itExternal('HTTP_HOST=127.0.0.1 keeps the port off the network', async () => {
    const svc = await startService({
      vhost: f.vhost,
      prefix: `${f.prefix}bind:`,
      env: { HTTP_HOST: '127.0.0.1', ATTACHMENT_URL_SECRET: SECRET },
    });
    try {
      expect((await httpRequest(`${svc.baseUrl}/healthz`)).status).toBe(200);
      await expect(httpRequest(`http://${EXTERNAL}:${svc.port}/healthz`, { timeoutMs: 3000 })).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await svc.stop();
    }
  });

  it('a secret shorter than 32 characters is a configuration error (exit 2)', async () => {
    const svc = await startService({
      vhost: f.vhost,
      prefix: `${f.prefix}short:`,
      env: { ATTACHMENT_URL_SECRET: 'short-secret' },
      waitForReady: false,
    });
    try {
      const exit = await withTimeout(svc.exited, 15_000, 'the service to exit on a bad ATTACHMENT_URL_SECRET');
      expect(exit.code).toBe(2);
      expect(svc.logs.join('\n')).toMatch(/ATTACHMENT_URL_SECRET: must be at least 32 characters/);
      expect(svc.logs.join('\n')).not.toContain('short-secret');
    } finally {
      await svc.stop();
    }
  });
});
