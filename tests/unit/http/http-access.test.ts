import type http from 'node:http';
import { attachmentSignatureBase, AttachmentUrlSigner } from '../../../src/adapters/http/attachment-links';
import { bearerToken, HttpAccess } from '../../../src/adapters/http/http-access';
import { parseItemQuery } from '../../../src/adapters/http/http-server';
import { countItems } from '../../../src/application/list-items';
import { createHmac } from 'node:crypto';
import type { HttpAccessConfig } from '../../../src/config/config';
import type { ItemQueries, StoredItem } from '../../../src/ports/state-store';

const SECRET = 'unit-test-attachment-secret-0123456789';
const CID = 'wi-00000000-0000-4000-8000-000000000001';
const T0 = Date.parse('2026-12-01T10:00:00Z');

function req(o: { address?: string; host?: string; auth?: string } = {}): http.IncomingMessage {
  return {
    socket: { remoteAddress: 'address' in o ? o.address : '127.0.0.1' },
    headers: { host: o.host ?? '127.0.0.1:8080', ...(o.auth !== undefined ? { authorization: o.auth } : {}) },
  } as unknown as http.IncomingMessage;
}

function access(cfg: Partial<HttpAccessConfig> = {}, now = () => T0) {
  const links = new AttachmentUrlSigner(SECRET, 3600, 'https://workitem.bank.example', now);
  const full: HttpAccessConfig = { apiTokens: [], metricsToken: null, attachmentUrlSecret: SECRET, attachmentUrlTtlSeconds: 3600, ...cfg };
  return { links, access: new HttpAccess(full, 'https://workitem.bank.example', links) };
}

describe('signed attachment links', () => {
  const { links } = access();

  it('signs "GET /attachments/<contactId>/<fileName>\\n<expires>" with HMAC-SHA256, base64url', () => {
    const url = new URL(links.signed(CID, 'long call ü.wav'));
    expect(url.origin).toBe('https://workitem.bank.example');
    expect(url.pathname).toBe(`/attachments/${CID}/long%20call%20%C3%BC.wav`);
    const expires = Number(url.searchParams.get('expires'));
    expect(expires).toBe(T0 / 1000 + 3600);
    const expected = createHmac('sha256', SECRET).update(`GET /attachments/${CID}/long call ü.wav\n${expires}`).digest('base64url');
    expect(attachmentSignatureBase(CID, 'long call ü.wav', expires)).toBe(`GET /attachments/${CID}/long call ü.wav\n${expires}`);
    expect(url.searchParams.get('sig')).toBe(expected);
    expect(links.check(CID, 'long call ü.wav', String(expires), expected)).toBe('valid');
    expect(links.location(CID, 'a b.wav')).toBe(`https://workitem.bank.example/attachments/${CID}/a%20b.wav`);
  });

  it('refuses missing, malformed, altered, foreign and expired links', () => {
    const u = new URL(links.signed(CID, 'a.wav'));
    const exp = u.searchParams.get('expires')!;
    const sig = u.searchParams.get('sig')!;
    expect(links.check(CID, 'a.wav', null, null)).toBe('missing');
    expect(links.check(CID, 'a.wav', exp, null)).toBe('malformed');
    expect(links.check(CID, 'a.wav', '12ab', sig)).toBe('malformed');
    expect(links.check(CID, 'a.wav', exp, 'not a sig!')).toBe('malformed');
    expect(links.check(CID, 'b.wav', exp, sig)).toBe('bad-signature');
    expect(links.check('wi-00000000-0000-4000-8000-000000000002', 'a.wav', exp, sig)).toBe('bad-signature');
    expect(links.check(CID, 'a.wav', String(Number(exp) + 1), sig)).toBe('bad-signature');
    expect(links.check(CID, 'a.wav', exp, sig.slice(0, -1))).toBe('bad-signature');
    const other = new AttachmentUrlSigner('another-secret-of-at-least-32-characters', 3600, '', () => T0);
    expect(other.check(CID, 'a.wav', exp, sig)).toBe('bad-signature');
    // Valid through the second named by expires, expired after it.
    const at = (ms: number) => new AttachmentUrlSigner(SECRET, 3600, '', () => ms);
    expect(at(T0 + 3600_000).check(CID, 'a.wav', exp, sig)).toBe('valid');
    expect(at(T0 + 3601_000).check(CID, 'a.wav', exp, sig)).toBe('expired');
  });

  it('every signing is anew: a later one expires later', () => {
    let now = T0;
    const s = new AttachmentUrlSigner(SECRET, 60, '', () => now);
    const first = new URL(s.signed(CID, 'a.wav'), 'http://x');
    now += 30_000;
    const second = new URL(s.signed(CID, 'a.wav'), 'http://x');
    expect(Number(second.searchParams.get('expires')) - Number(first.searchParams.get('expires'))).toBe(30);
  });
});

describe('HTTP access decisions', () => {
  const TOKEN = 'tok_ABCDEFGHIJKLMNOP0123';

  it('reads the bearer token', () => {
    expect(bearerToken(req({ auth: `Bearer ${TOKEN}` }))).toBe(TOKEN);
    expect(bearerToken(req({ auth: `bearer   ${TOKEN} ` }))).toBe(TOKEN);
    expect(bearerToken(req({ auth: 'Bearer' }))).toBe('');
    expect(bearerToken(req({ auth: 'Basic dXNlcjpwYXNz' }))).toBeNull();
    expect(bearerToken(req({ auth: `Bearer${TOKEN}` }))).toBeNull();
    expect(bearerToken(req())).toBeNull();
  });

  describe('/api without any token configured: loopback clients naming a loopback host only', () => {
    const { access: a } = access();
    it.each(['127.0.0.1', '127.3.4.5', '::1', '::ffff:127.0.0.1'])('allows %s', (address) => {
      expect(a.api(req({ address }))).toBeNull();
      expect(a.api(req({ address, host: 'localhost:8080' }))).toBeNull();
      expect(a.api(req({ address, host: 'workitem.bank.example' }))).toBeNull();
    });
    it.each(['192.0.2.2', '10.0.0.7', '::ffff:192.168.1.2', 'fd00::2', undefined])(
      'refuses %s with 401 and a Bearer challenge',
      (address) => {
        expect(a.api(req({ address }))).toEqual({
          status: 401,
          error: expect.stringMatching(/loopback clients only/),
          challenge: 'Bearer realm="workitem"',
        });
        expect(a.api(req({ address, auth: `Bearer ${TOKEN}` }))).toMatchObject({
          status: 401,
          challenge: 'Bearer realm="workitem", error="invalid_token"',
        });
      },
    );
    it('refuses a loopback client naming another host (DNS rebinding)', () => {
      expect(a.api(req({ host: 'evil.example' }))).toMatchObject({ status: 401 });
      expect(a.api(req({ host: '' }))).toMatchObject({ status: 401 });
    });
  });

  describe('/api with tokens', () => {
    const { access: a } = access({ apiTokens: [TOKEN, 'second-token-0123456789'] });
    it('needs one of them from every client, loopback included', () => {
      expect(a.api(req())).toEqual({ status: 401, error: expect.stringMatching(/Bearer/), challenge: 'Bearer realm="workitem"' });
      expect(a.api(req({ auth: 'Bearer wrong-token-0123456789' }))).toEqual({
        status: 401,
        error: 'invalid API token',
        challenge: 'Bearer realm="workitem", error="invalid_token"',
      });
      expect(a.api(req({ auth: `Bearer ${TOKEN}x` }))).toMatchObject({ status: 401 });
      expect(a.api(req({ auth: 'Bearer ' }))).toMatchObject({ status: 401 });
      expect(a.api(req({ auth: `Bearer ${TOKEN}` }))).toBeNull();
      expect(a.api(req({ address: '192.0.2.2', host: 'anything.example', auth: `Bearer ${TOKEN}` }))).toBeNull();
      expect(a.api(req({ address: '192.0.2.2', auth: 'Bearer second-token-0123456789' }))).toBeNull();
    });
  });

  it('/metrics is open without METRICS_TOKEN and needs exactly it with one', () => {
    expect(access().access.metrics(req({ address: '192.0.2.2' }))).toBeNull();
    const { access: a } = access({ metricsToken: 'metrics-token-0123456789', apiTokens: [TOKEN] });
    expect(a.metrics(req())).toMatchObject({ status: 401, challenge: 'Bearer realm="workitem"' });
    expect(a.metrics(req({ auth: `Bearer ${TOKEN}` }))).toMatchObject({ status: 401, challenge: expect.stringMatching(/invalid_token/) });
    expect(a.metrics(req({ address: '192.0.2.2', auth: 'Bearer metrics-token-0123456789' }))).toBeNull();
  });

  it('/attachments: a valid signature, or a valid API token; otherwise 403 (loopback is not enough)', () => {
    const { access: a, links } = access({ apiTokens: [TOKEN] });
    const signed = new URL(links.signed(CID, 'a.wav'));
    const plain = new URL(links.location(CID, 'a.wav'));
    expect(a.attachment(req({ address: '192.0.2.2' }), signed, CID, 'a.wav')).toBeNull();
    expect(a.attachment(req(), plain, CID, 'a.wav')).toMatchObject({ status: 403 });
    expect(a.attachment(req(), signed, CID, 'b.wav')).toMatchObject({ status: 403, error: expect.stringMatching(/altered/) });
    expect(a.attachment(req({ auth: `Bearer ${TOKEN}` }), plain, CID, 'a.wav')).toBeNull();
    expect(a.attachment(req({ auth: 'Bearer wrong-token-0123456789' }), plain, CID, 'a.wav')).toMatchObject({ status: 403 });
    const later = access({ apiTokens: [TOKEN] }, () => T0 + 3601_000).access;
    expect(later.attachment(req(), signed, CID, 'a.wav')).toMatchObject({ status: 403, error: expect.stringMatching(/expired/) });
    expect(access().access.attachment(req(), plain, CID, 'a.wav')).toMatchObject({ status: 403 });
  });
});

describe('/api/items query and total', () => {
  const ENTRANCES = { loans: {}, support: {} };
  const parse = (q: string) => parseItemQuery(new URLSearchParams(q), ENTRANCES, { limit: 50, maxLimit: 500 });

  it('accepts good values; parked is buffered', () => {
    expect(parse('')).toEqual({ ok: true, query: { entrance: undefined, state: undefined, taskType: undefined, limit: 50, cursor: 0 } });
    expect(parse('entrance=loans&state=parked&taskType=x&limit=500&cursor=17')).toEqual({
      ok: true,
      query: { entrance: 'loans', state: 'parked', taskType: 'x', limit: 500, cursor: 17 },
    });
    expect(parse('state=buffered')).toMatchObject({ query: { state: 'parked' } });
    expect(parse('state=scheduled')).toMatchObject({ query: { state: 'scheduled' } });
    expect(parse('state=routed&entrance=')).toMatchObject({ query: { state: 'routed', entrance: undefined } });
  });

  it.each([
    ['entrance=nowhere', 'entrance'],
    ['entrance=__proto__', 'entrance'],
    ['state=gone', 'state'],
    ['limit=0', 'limit'],
    ['limit=501', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=2.5', 'limit'],
    ['limit=-1', 'limit'],
    ['cursor=-1', 'cursor'],
    ['cursor=abc', 'cursor'],
    ['cursor=1e3', 'cursor'],
  ])('%s → 400 naming %s', (q, parameter) => {
    const r = parse(q);
    expect(r).toMatchObject({ ok: false, parameter });
    if (!r.ok) expect(r.error.startsWith(`${parameter}: `)).toBe(true);
  });

  it('counts what the filters select, across pages', async () => {
    const items: StoredItem[] = Array.from({ length: 1234 }, (_, i) => ({
      contactId: `c${i}`,
      seq: i + 1,
      state: i % 4 === 0 ? 'parked' : 'routed',
      record: { entrance: i % 2 ? 'loans' : 'support', taskType: i % 3 ? 'a' : 'b' } as StoredItem['record'],
    }));
    const store = {
      countUnfinished: async () => items.length,
      pageUnfinished: async (after: number, limit: number) => items.filter((i) => i.seq > after).slice(0, limit),
    } as unknown as ItemQueries;
    expect(await countItems(store, {})).toBe(1234);
    expect(await countItems(store, { entrance: 'loans' })).toBe(617);
    expect(await countItems(store, { state: 'parked' })).toBe(309);
    expect(await countItems(store, { entrance: 'support', state: 'parked', taskType: 'b' })).toBe(
      items.filter((i) => i.seq % 12 === 1).length,
    );
  });
});
