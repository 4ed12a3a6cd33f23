import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { DashboardConfig } from '../../../config/config';

/**
 * Who may see and do what on the dashboard.
 *
 * - Without DASHBOARD_USER/DASHBOARD_PASSWORD it is read-only and answers only loopback clients that also name a
 *   loopback host (or PUBLIC_BASE_URL's host) in `Host`, so a web page cannot reach it by DNS rebinding.
 * - With them, every page and API call needs a session from the login form; actions (POST) also need the
 *   session's CSRF token in `X-CSRF-Token` (or a `csrf` form field) and, when the browser sends one, a same-origin
 *   `Origin`. The session cookie is HttpOnly and SameSite=Strict.
 */

export const SESSION_COOKIE = 'wi_dashboard';
/** A browser that signed in before (see SignInLimiter). */
export const DEVICE_COOKIE = 'wi_dashboard_device';
const MAX_SESSIONS = 1000;

/** Failed sign-ins per (user, address), or per trusted browser, within the window before that one has to wait. */
export const MAX_LOGIN_FAILURES = 10;
export const LOGIN_FAILURE_WINDOW_MS = 15 * 60_000;
/** Per user, over all addresses: a budget of failures, refilled one every USER_REFILL_MS. */
export const USER_FAILURE_BURST = 20;
export const USER_REFILL_MS = 30_000;
/** Over all users and addresses. */
export const GLOBAL_FAILURE_BURST = 100;
export const GLOBAL_REFILL_MS = 1_000;
/** Entries each table of the limiter keeps at most; the oldest go first. */
export const MAX_LIMITER_ENTRIES = 10_000;
const DEVICE_COOKIE_TTL_MS = 30 * 24 * 3600_000;

interface Window {
  count: number;
  since: number;
}
interface Bucket {
  tokens: number;
  at: number;
}

/** A Map that keeps at most `max` entries, dropping the least recently written first. */
class BoundedMap<V> extends Map<string, V> {
  constructor(private readonly max: number) {
    super();
  }
  override set(key: string, value: V): this {
    super.delete(key);
    super.set(key, value);
    if (this.size > this.max) super.delete(this.keys().next().value as string);
    return this;
  }
}

/**
 * Slows down password guessing without letting a guesser lock the operator out. Every failed sign-in counts in all
 * rules that apply to it; a sign-in is refused (429, Retry-After) before its password is looked at when one is
 * exhausted:
 *
 * 1. Per (user, address): MAX_LOGIN_FAILURES failures within LOGIN_FAILURE_WINDOW_MS, then that pair waits until the
 *    window ends. Guesses at other user names from a shared address never touch the operator's pair.
 * 2. Per user, over all addresses: a budget of USER_FAILURE_BURST failures refilled one every USER_REFILL_MS. Empty,
 *    sign-ins as that user wait for the next refill (at most 30 s) from every address: 30 addresses guessing one
 *    password get about two guesses a minute together. The price: during such an attack a browser that never signed
 *    in before may have to retry (each wait at most 30 s, and it ends with the attack) — never a long or permanent lock.
 * 3. Global: a budget of GLOBAL_FAILURE_BURST failures refilled one every GLOBAL_REFILL_MS, over all user names
 *    and addresses (user-name spraying); a wait is at most a second.
 * 4. Trusted browsers: a successful sign-in sets DEVICE_COOKIE, signed (HMAC, a random key of this process, so a
 *    restart or another instance just makes it unknown) for that user, 30 days. A sign-in that presents it is
 *    counted and limited by rule 1 with the browser in place of the address and by nothing else, so nobody else's
 *    guesses — from the same address or from many — can make the operator's own browser wait. A forged or foreign
 *    cookie is ignored (rules 1–3 apply).
 *
 * Memory: each table keeps at most MAX_LIMITER_ENTRIES entries, the least recently written dropped first (flushing
 * a pair's record takes that many failures of other pairs, which rule 3 spreads over hours).
 */
export class SignInLimiter {
  private readonly pairs = new BoundedMap<Window>(MAX_LIMITER_ENTRIES);
  private readonly users = new BoundedMap<Bucket>(MAX_LIMITER_ENTRIES);
  private global: Bucket = { tokens: GLOBAL_FAILURE_BURST, at: 0 };
  private readonly deviceKey = randomBytes(32);

  constructor(private readonly now: () => number) {
    this.global.at = now();
  }

  /** Seconds this attempt has to wait (0: it may try its password). */
  blockedFor(address: string, user: string, device?: string): number {
    const now = this.now();
    const trusted = this.trustedDevice(user, device);
    if (trusted) return this.windowWait(`d\n${trusted}`, now);
    const pair = this.windowWait(pairKey(user, address), now);
    if (pair > 0) return pair;
    const u = this.users.get(userKey(user));
    const userWait = u ? bucketWait(u, USER_FAILURE_BURST, USER_REFILL_MS, now) : 0;
    if (userWait > 0) return userWait;
    return bucketWait(this.global, GLOBAL_FAILURE_BURST, GLOBAL_REFILL_MS, now);
  }

  failed(address: string, user: string, device?: string): void {
    const now = this.now();
    const trusted = this.trustedDevice(user, device);
    if (trusted) return this.countWindow(`d\n${trusted}`, now);
    this.countWindow(pairKey(user, address), now);
    const k = userKey(user);
    this.users.set(k, take(this.users.get(k) ?? { tokens: USER_FAILURE_BURST, at: now }, USER_FAILURE_BURST, USER_REFILL_MS, now));
    this.global = take(this.global, GLOBAL_FAILURE_BURST, GLOBAL_REFILL_MS, now);
  }

  /** A correct sign-in forgets the failures of its own pair (or browser), not those of others. */
  succeeded(address: string, user: string, device?: string): void {
    const trusted = this.trustedDevice(user, device);
    this.pairs.delete(trusted ? `d\n${trusted}` : pairKey(user, address));
  }

  /** A new trusted-browser cookie value for this user. */
  issueDevice(user: string): string {
    const id = `${this.now().toString(36)}.${randomBytes(16).toString('base64url')}`;
    return `${id}.${this.sign(user, id)}`;
  }

  /** The id of a valid, unexpired cookie issued for this user, else null. */
  private trustedDevice(user: string, cookie: string | undefined): string | null {
    if (!cookie || cookie.length > 200) return null;
    const m = /^([0-9a-z]{1,12})\.([\w-]{22})\.([\w-]{43})$/.exec(cookie);
    if (!m) return null;
    const id = `${m[1]}.${m[2]}`;
    if (!safeEqual(m[3], this.sign(user, id))) return null;
    return this.now() - parseInt(m[1], 36) < DEVICE_COOKIE_TTL_MS ? id : null;
  }

  private sign(user: string, id: string): string {
    return createHmac('sha256', this.deviceKey).update(`${user}\n${id}`).digest('base64url');
  }

  private windowWait(key: string, now: number): number {
    const f = this.pairs.get(key);
    if (!f) return 0;
    const left = f.since + LOGIN_FAILURE_WINDOW_MS - now;
    if (left <= 0) {
      this.pairs.delete(key);
      return 0;
    }
    return f.count >= MAX_LOGIN_FAILURES ? Math.ceil(left / 1000) : 0;
  }

  private countWindow(key: string, now: number): void {
    const f = this.pairs.get(key);
    this.pairs.set(key, f && f.since + LOGIN_FAILURE_WINDOW_MS > now ? { count: f.count + 1, since: f.since } : { count: 1, since: now });
  }
}

/** Keys: user names are at most 64 characters (DASHBOARD_USER), so a longer guess is cut without meeting the real one. */
const pairKey = (user: string, address: string) => `p\n${user.slice(0, 65)}\n${address.slice(0, 64)}`;
const userKey = (user: string) => user.slice(0, 65);

function refill(b: Bucket, burst: number, everyMs: number, now: number): Bucket {
  const gained = Math.floor((now - b.at) / everyMs);
  if (gained <= 0) return b;
  const tokens = Math.min(burst, b.tokens + gained);
  return { tokens, at: tokens === burst ? now : b.at + gained * everyMs };
}

function take(b: Bucket, burst: number, everyMs: number, now: number): Bucket {
  const r = refill(b, burst, everyMs, now);
  return { tokens: Math.max(0, r.tokens - 1), at: r.tokens === burst ? now : r.at };
}

function bucketWait(b: Bucket, burst: number, everyMs: number, now: number): number {
  const r = refill(b, burst, everyMs, now);
  return r.tokens >= 1 ? 0 : Math.max(1, Math.ceil((r.at + everyMs - now) / 1000));
}

export interface Principal {
  /** The signed-in user; null in read-only mode. */
  user: string | null;
  canAct: boolean;
  csrfToken: string | null;
}

export type AccessDecision = { ok: true; principal: Principal } | { ok: false; status: 401 | 403; reason: string; login: boolean };

interface Session {
  user: string;
  csrf: string;
  expires: number;
}

/** Equal strings, in time that does not depend on where they differ (both are hashed to the same length first). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

function hostnameOf(host: string | undefined): string | null {
  if (!host) return null;
  try {
    return new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return null;
  }
}

/** The host name of PUBLIC_BASE_URL (lower case), which a loopback client may also name in `Host`. */
export function publicHostOf(publicBaseUrl: string): string | null {
  try {
    return new URL(publicBaseUrl).hostname.toLowerCase();
  } catch {
    return null;
  }
}

/**
 * The loopback-only rule (dashboard read-only mode, /api without tokens): the peer must be a loopback address and
 * `Host` must name localhost, a loopback address or PUBLIC_BASE_URL's host, so a web page cannot reach the service by
 * DNS rebinding. Returns null when the request passes, else what failed.
 */
export function loopbackRefusal(req: http.IncomingMessage, publicHost: string | null): 'address' | 'host' | null {
  if (!isLoopbackAddress(req.socket.remoteAddress)) return 'address';
  const host = hostnameOf(req.headers.host);
  const loopbackHost = host === 'localhost' || host === '[::1]' || (host !== null && isLoopbackAddress(host));
  return loopbackHost || (host !== null && host === publicHost) ? null : 'host';
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

export class DashboardAccess {
  private readonly sessions = new Map<string, Session>();
  private readonly limiter: SignInLimiter;
  private readonly publicHost: string | null;
  private readonly publicOrigin: string | null;

  constructor(
    private readonly cfg: DashboardConfig,
    publicBaseUrl: string,
    private readonly now: () => number,
  ) {
    let u: URL | null;
    try {
      u = new URL(publicBaseUrl);
    } catch {
      u = null;
    }
    this.publicHost = u?.hostname.toLowerCase() ?? null;
    this.publicOrigin = u?.origin ?? null;
    this.limiter = new SignInLimiter(now);
  }

  get readOnly(): boolean {
    return this.cfg.credentials === null;
  }

  /** May this request see the dashboard (pages and GET API)? */
  check(req: http.IncomingMessage): AccessDecision {
    if (this.readOnly) {
      const refused = loopbackRefusal(req, this.publicHost);
      if (refused === 'address') {
        return {
          ok: false,
          status: 403,
          login: false,
          reason: 'without DASHBOARD_USER/DASHBOARD_PASSWORD the dashboard answers loopback clients only',
        };
      }
      if (refused === 'host') return { ok: false, status: 403, login: false, reason: 'unexpected Host header' };
      return { ok: true, principal: { user: null, canAct: false, csrfToken: null } };
    }
    const session = this.session(req);
    if (!session) return { ok: false, status: 401, login: true, reason: 'sign in first' };
    return { ok: true, principal: { user: session.user, canAct: true, csrfToken: session.csrf } };
  }

  /** May this POST change something? Checks the CSRF token and the browser's Origin / Sec-Fetch-Site. */
  checkAction(req: http.IncomingMessage, principal: Principal, formToken?: string): string | null {
    if (!principal.canAct || !principal.csrfToken) {
      return 'read-only dashboard: actions need DASHBOARD_USER and DASHBOARD_PASSWORD';
    }
    const origin = this.checkOrigin(req);
    if (origin) return origin;
    const header = req.headers['x-csrf-token'];
    const token = typeof header === 'string' ? header : formToken;
    if (!token || !safeEqual(token, principal.csrfToken)) return 'missing or wrong CSRF token';
    return null;
  }

  /** Cross-site POSTs are refused even before the token is looked at (also protects the login form). */
  checkOrigin(req: http.IncomingMessage): string | null {
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') return 'cross-site request refused';
    const origin = req.headers.origin;
    if (origin === undefined) return null;
    const host = req.headers.host;
    const allowed = [host ? `http://${host}` : null, host ? `https://${host}` : null, this.publicOrigin];
    return allowed.includes(origin) ? null : 'cross-origin request refused';
  }

  /**
   * Seconds this sign-in has to wait (0: it may try), by the rules of SignInLimiter. `device`: the DEVICE_COOKIE
   * value the browser sent, if any.
   */
  loginBlockedFor(address: string, user: string, device?: string): number {
    return this.limiter.blockedFor(address, user, device);
  }

  /** Checks credentials (both compared, constant time); on success returns the new session's cookie value. */
  login(address: string, user: string, password: string, device?: string): string | null {
    const creds = this.cfg.credentials;
    if (!creds) return null;
    const userOk = safeEqual(user, creds.user);
    const passwordOk = safeEqual(password, creds.password);
    if (!(userOk && passwordOk)) {
      this.limiter.failed(address, user, device);
      return null;
    }
    this.limiter.succeeded(address, user, device);
    this.purge();
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { user: creds.user, csrf: randomBytes(32).toString('base64url'), expires: this.now() + this.cfg.sessionTtlMs });
    return id;
  }

  /** Set-Cookie of the trusted-browser cookie, given after a successful sign-in (only the login form reads it). */
  deviceCookie(user: string, secure: boolean): string {
    const maxAge = Math.floor(DEVICE_COOKIE_TTL_MS / 1000);
    return `${DEVICE_COOKIE}=${this.limiter.issueDevice(user)}; Path=/ui/login; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
  }

  logout(req: http.IncomingMessage): void {
    const id = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    if (id) this.sessions.delete(id);
  }

  sessionCookie(id: string, secure: boolean): string {
    const maxAge = Math.floor(this.cfg.sessionTtlMs / 1000);
    return `${SESSION_COOKIE}=${id}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
  }

  clearCookie(secure: boolean): string {
    return `${SESSION_COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
  }

  private session(req: http.IncomingMessage): Session | null {
    const id = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    if (!id) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    if (s.expires <= this.now()) {
      this.sessions.delete(id);
      return null;
    }
    return s;
  }

  private purge(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (s.expires <= now) this.sessions.delete(id);
    // Map iteration is insertion order: the oldest sessions go first.
    for (const id of this.sessions.keys()) {
      if (this.sessions.size < MAX_SESSIONS) break;
      this.sessions.delete(id);
    }
  }
}
