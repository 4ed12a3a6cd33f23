import type http from 'node:http';
import { DashboardAccess, isLoopbackAddress, parseCookies, safeEqual, SESSION_COOKIE } from '../../../src/adapters/http/dashboard/access';
import type { DashboardConfig } from '../../../src/config/config';

function req(o: { address?: string; host?: string; cookie?: string; headers?: Record<string, string> } = {}): http.IncomingMessage {
  return {
    socket: { remoteAddress: o.address ?? '127.0.0.1' },
    headers: { host: o.host ?? '127.0.0.1:8080', ...(o.cookie ? { cookie: o.cookie } : {}), ...o.headers },
  } as unknown as http.IncomingMessage;
}

const READ_ONLY: DashboardConfig = { enabled: true, credentials: null, sessionTtlMs: 60_000, refreshMs: 5000 };
const WITH_LOGIN: DashboardConfig = { ...READ_ONLY, credentials: { user: 'operator', password: 's3cret-pass' } };

describe('dashboard access', () => {
  it('compares secrets of any length in constant time', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', '')).toBe(true);
  });

  it('knows loopback addresses, IPv4-mapped ones included', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(a)).toBe(true);
    for (const a of ['10.0.0.1', '::ffff:192.168.1.2', '', undefined, '1270.0.0.1']) expect(isLoopbackAddress(a)).toBe(false);
  });

  it('parses cookies', () => {
    expect(parseCookies(`a=1; ${SESSION_COOKIE}=xyz ; b=`)).toMatchObject({ a: '1', [SESSION_COOKIE]: 'xyz', b: '' });
  });

  describe('without credentials', () => {
    const access = new DashboardAccess(READ_ONLY, 'http://workitem.example:8080', Date.now);

    it('is read-only for loopback clients naming a loopback or the public host', () => {
      for (const host of ['127.0.0.1:8080', 'localhost:8080', '[::1]:8080', 'localhost', 'workitem.example:8080']) {
        const d = access.check(req({ host }));
        expect(d).toEqual({ ok: true, principal: { user: null, canAct: false, csrfToken: null } });
      }
    });

    it('refuses other clients, and other Host names (DNS rebinding)', () => {
      expect(access.check(req({ address: '192.168.1.20' }))).toMatchObject({ ok: false, status: 403 });
      expect(access.check(req({ address: '::ffff:10.1.1.1' }))).toMatchObject({ ok: false, status: 403 });
      expect(access.check(req({ host: 'evil.example' }))).toMatchObject({ ok: false, status: 403, reason: 'unexpected Host header' });
      expect(access.check(req({ host: '' }))).toMatchObject({ ok: false, status: 403 });
    });

    it('allows no action', () => {
      const d = access.check(req());
      if (!d.ok) throw new Error('expected access');
      expect(access.checkAction(req(), d.principal)).toMatch(/read-only/);
      expect(access.login('127.0.0.1', 'x', 'y')).toBeNull();
    });
  });

  describe('with credentials', () => {
    let now = 1_000_000;
    const access = new DashboardAccess(WITH_LOGIN, 'http://localhost:8080', () => now);

    it('needs a session, from any address', () => {
      expect(access.check(req())).toMatchObject({ ok: false, status: 401, login: true });
      const id = access.login('10.0.0.5', 'operator', 's3cret-pass');
      expect(id).toMatch(/^[\w-]{40,}$/);
      const d = access.check(req({ address: '10.0.0.5', host: 'dash.internal', cookie: `${SESSION_COOKIE}=${id}` }));
      expect(d).toMatchObject({ ok: true, principal: { user: 'operator', canAct: true } });
      expect(access.check(req({ cookie: `${SESSION_COOKIE}=forged` }))).toMatchObject({ ok: false, status: 401 });
    });

    it('refuses wrong credentials and slows down guessing', () => {
      expect(access.login('10.9.9.9', 'operator', 'wrong')).toBeNull();
      expect(access.login('10.9.9.9', 'Operator', 's3cret-pass')).toBeNull();
      for (let i = 0; i < 8; i++) access.login('10.9.9.9', 'operator', `guess-${i}`);
      expect(access.loginBlockedFor('10.9.9.9')).toBeGreaterThan(0);
      expect(access.loginBlockedFor('10.9.9.8')).toBe(0);
      now += 16 * 60_000;
      expect(access.loginBlockedFor('10.9.9.9')).toBe(0);
    });

    it('checks the CSRF token and the Origin on actions', () => {
      const id = access.login('127.0.0.1', 'operator', 's3cret-pass')!;
      const cookie = `${SESSION_COOKIE}=${id}`;
      const d = access.check(req({ cookie }));
      if (!d.ok) throw new Error('expected a session');
      const token = d.principal.csrfToken!;
      expect(token.length).toBeGreaterThanOrEqual(40);
      expect(access.checkAction(req({ cookie }), d.principal)).toMatch(/CSRF/);
      expect(access.checkAction(req({ cookie, headers: { 'x-csrf-token': 'nope' } }), d.principal)).toMatch(/CSRF/);
      expect(access.checkAction(req({ cookie, headers: { 'x-csrf-token': token } }), d.principal)).toBeNull();
      expect(access.checkAction(req({ cookie }), d.principal, token)).toBeNull();
      const ok = { 'x-csrf-token': token };
      expect(access.checkAction(req({ cookie, headers: { ...ok, origin: 'http://127.0.0.1:8080' } }), d.principal)).toBeNull();
      expect(access.checkAction(req({ cookie, headers: { ...ok, origin: 'http://localhost:8080' } }), d.principal)).toBeNull();
      expect(access.checkAction(req({ cookie, headers: { ...ok, origin: 'https://evil.example' } }), d.principal)).toMatch(/cross-origin/);
      expect(access.checkAction(req({ cookie, headers: { ...ok, 'sec-fetch-site': 'cross-site' } }), d.principal)).toMatch(/cross-site/);
    });

    it('ends sessions on logout and after their lifetime', () => {
      const id = access.login('127.0.0.1', 'operator', 's3cret-pass')!;
      const cookie = `${SESSION_COOKIE}=${id}`;
      expect(access.check(req({ cookie })).ok).toBe(true);
      access.logout(req({ cookie }));
      expect(access.check(req({ cookie })).ok).toBe(false);
      const again = access.login('127.0.0.1', 'operator', 's3cret-pass')!;
      now += 61_000;
      expect(access.check(req({ cookie: `${SESSION_COOKIE}=${again}` })).ok).toBe(false);
    });

    it('sets an HttpOnly, SameSite=Strict cookie scoped to /ui', () => {
      expect(access.sessionCookie('abc', false)).toBe(`${SESSION_COOKIE}=abc; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=60`);
      expect(access.sessionCookie('abc', true)).toMatch(/; Secure$/);
    });
  });
});
