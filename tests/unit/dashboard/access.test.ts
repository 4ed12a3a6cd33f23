import type http from 'node:http';
import {
  DashboardAccess,
  DEVICE_COOKIE,
  GLOBAL_FAILURE_BURST,
  isLoopbackAddress,
  LOGIN_FAILURE_WINDOW_MS,
  MAX_LIMITER_ENTRIES,
  MAX_LOGIN_FAILURES,
  parseCookies,
  safeEqual,
  SESSION_COOKIE,
  USER_FAILURE_BURST,
  USER_REFILL_MS,
} from '../../../src/adapters/http/dashboard/access';
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

    it('refuses wrong credentials and slows down guessing from one address', () => {
      expect(access.login('10.9.9.9', 'operator', 'wrong')).toBeNull();
      expect(access.login('10.9.9.9', 'Operator', 's3cret-pass')).toBeNull();
      for (let i = 0; i < 9; i++) access.login('10.9.9.9', 'operator', `guess-${i}`);
      expect(access.loginBlockedFor('10.9.9.9', 'operator')).toBeGreaterThan(0);
      expect(access.loginBlockedFor('10.9.9.8', 'operator')).toBe(0);
      now += 16 * 60_000;
      expect(access.loginBlockedFor('10.9.9.9', 'operator')).toBe(0);
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

  describe('sign-in limits', () => {
    let now = 5_000_000;
    let access: DashboardAccess;
    const OK = 's3cret-pass';
    const fail = (address: string, user = 'operator', device?: string) => access.login(address, user, 'wrong', device);
    /** What the login form does: refused with a wait, or tried. */
    const attempt = (address: string, user: string, password: string, device?: string) =>
      access.loginBlockedFor(address, user, device) > 0 ? 'wait' : access.login(address, user, password, device) ? 'in' : 'wrong';
    const deviceOf = (user: string) => /^wi_dashboard_device=([^;]+)/.exec(access.deviceCookie(user, true))![1];
    beforeEach(() => {
      now = 5_000_000;
      access = new DashboardAccess(WITH_LOGIN, 'http://localhost:8080', () => now);
    });

    it('counts failures per (user, address): guesses at other names from a shared address never lock the operator out', () => {
      for (let i = 0; i < 50; i++) fail('10.1.1.1', `admin${i % 3}`);
      expect(access.loginBlockedFor('10.1.1.1', 'admin0')).toBeGreaterThan(0);
      expect(attempt('10.1.1.1', 'operator', OK)).toBe('in');
    });

    it('a pair waits after MAX_LOGIN_FAILURES failures until its window ends; a correct sign-in forgets only its own pair', () => {
      for (let i = 0; i < MAX_LOGIN_FAILURES - 1; i++) fail('10.1.1.2');
      expect(access.loginBlockedFor('10.1.1.2', 'operator')).toBe(0);
      expect(attempt('10.1.1.2', 'operator', OK)).toBe('in');
      for (let i = 0; i < MAX_LOGIN_FAILURES; i++) fail('10.1.1.2');
      expect(access.loginBlockedFor('10.1.1.2', 'operator')).toBe(LOGIN_FAILURE_WINDOW_MS / 1000);
      expect(attempt('10.1.1.2', 'operator', OK)).toBe('wait');
      expect(attempt('10.1.1.3', 'operator', OK)).toBe('in');
      now += LOGIN_FAILURE_WINDOW_MS;
      expect(attempt('10.1.1.2', 'operator', OK)).toBe('in');
    });

    it("a browser that signed in before is never held up by others' failures, from its address or from many", () => {
      expect(attempt('10.2.0.1', 'operator', OK)).toBe('in');
      const device = deviceOf('operator');
      // Someone on the same address, and 30 other addresses, guess the operator's password.
      for (let i = 0; i < MAX_LOGIN_FAILURES; i++) fail('10.2.0.1');
      for (let a = 0; a < 30; a++) for (let i = 0; i < 3; i++) fail(`10.3.0.${a}`);
      expect(access.loginBlockedFor('10.2.0.1', 'operator')).toBeGreaterThan(0);
      expect(attempt('10.2.0.1', 'operator', OK, device)).toBe('in');
      // Its own failures are limited on their own.
      for (let i = 0; i < MAX_LOGIN_FAILURES; i++) fail('10.2.0.1', 'operator', device);
      expect(attempt('10.2.0.1', 'operator', OK, device)).toBe('wait');
      // A forged, foreign-user or other-process cookie counts for nothing.
      const other = new DashboardAccess(WITH_LOGIN, 'http://localhost:8080', () => now);
      const foreign = /^wi_dashboard_device=([^;]+)/.exec(other.deviceCookie('operator', false))![1];
      for (const bad of [foreign, deviceOf('someone-else'), `${device.slice(0, -2)}AA`, 'garbage']) {
        expect(access.loginBlockedFor('10.2.0.1', 'operator', bad)).toBeGreaterThan(0);
      }
    });

    it('the device cookie is HttpOnly, SameSite=Strict, scoped to the login form, and ends after 30 days', () => {
      const c = access.deviceCookie('operator', true);
      expect(c).toMatch(new RegExp(`^${DEVICE_COOKIE}=[\\w.-]+; Path=/ui/login; HttpOnly; SameSite=Strict; Max-Age=2592000; Secure$`));
      const device = deviceOf('operator');
      for (let i = 0; i < MAX_LOGIN_FAILURES; i++) fail('10.2.0.9');
      expect(access.loginBlockedFor('10.2.0.9', 'operator', device)).toBe(0);
      now += 30 * 24 * 3600_000;
      for (let i = 0; i < MAX_LOGIN_FAILURES; i++) fail('10.2.0.9');
      expect(access.loginBlockedFor('10.2.0.9', 'operator', device)).toBeGreaterThan(0);
    });

    it('limits one user over many addresses: 30 addresses share a budget; the wait is short and ends', () => {
      let wrong = 0;
      let waits = 0;
      for (let round = 0; round < 3; round++) {
        for (let a = 0; a < 30; a++) {
          const r = attempt(`10.4.0.${a}`, 'operator', `guess-${round}-${a}`);
          if (r === 'wrong') wrong++;
          else waits++;
        }
      }
      expect(wrong).toBe(USER_FAILURE_BURST);
      expect(waits).toBe(90 - USER_FAILURE_BURST);
      // The real operator from a clean address waits too, at most one refill.
      const wait = access.loginBlockedFor('10.9.0.1', 'operator');
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(USER_REFILL_MS / 1000);
      // Another user name is not held up by it.
      expect(access.loginBlockedFor('10.9.0.1', 'auditor')).toBe(0);
      now += wait * 1000;
      expect(attempt('10.9.0.1', 'operator', OK)).toBe('in');
      // A correct sign-in takes nothing from the budget; guesses get one per refill.
      expect(attempt('10.4.0.99', 'operator', 'again')).toBe('wrong');
      expect(attempt('10.4.0.99', 'operator', 'again')).toBe('wait');
      now += USER_REFILL_MS;
      expect(attempt('10.4.0.99', 'operator', 'again')).toBe('wrong');
      expect(attempt('10.4.0.98', 'operator', 'again')).toBe('wait');
      // Once the guessing stops, the budget refills completely.
      now += USER_FAILURE_BURST * USER_REFILL_MS;
      for (let i = 0; i < USER_FAILURE_BURST; i++) expect(attempt(`10.5.0.${i}`, 'operator', 'x')).toBe('wrong');
    });

    it('caps failed sign-ins over all users and addresses; the wait is a second', () => {
      for (let i = 0; i < GLOBAL_FAILURE_BURST; i++) expect(attempt(`10.6.${i >> 8}.${i & 255}`, `user${i}`, 'x')).toBe('wrong');
      expect(access.loginBlockedFor('10.7.0.1', 'operator')).toBe(1);
      expect(attempt('10.7.0.1', 'operator', OK)).toBe('wait');
      now += 1000;
      expect(attempt('10.7.0.1', 'operator', OK)).toBe('in');
    });

    it('keeps its memory bounded: the oldest records go first', () => {
      for (let i = 0; i < MAX_LOGIN_FAILURES; i++) fail('10.8.0.1');
      expect(access.loginBlockedFor('10.8.0.1', 'operator')).toBeGreaterThan(0);
      for (let i = 0; i < MAX_LIMITER_ENTRIES; i++) {
        now += 1000; // keep the global budget from running dry
        fail(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, `u${i}`);
      }
      expect(access.loginBlockedFor('10.8.0.1', 'operator')).toBe(0);
    });
  });
});
