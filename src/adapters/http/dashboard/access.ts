import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
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
/** Failed logins per client address before it has to wait. */
const MAX_LOGIN_FAILURES = 10;
const LOGIN_FAILURE_WINDOW_MS = 15 * 60_000;
const MAX_SESSIONS = 1000;

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
  private readonly failures = new Map<string, { count: number; since: number }>();
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

  /** Too many failed logins from this address recently? Returns the seconds to wait. */
  loginBlockedFor(address: string): number {
    const f = this.failures.get(address);
    if (!f) return 0;
    const left = f.since + LOGIN_FAILURE_WINDOW_MS - this.now();
    if (left <= 0) {
      this.failures.delete(address);
      return 0;
    }
    return f.count >= MAX_LOGIN_FAILURES ? Math.ceil(left / 1000) : 0;
  }

  /** Checks credentials (both compared, constant time); on success returns the new session's cookie value. */
  login(address: string, user: string, password: string): string | null {
    const creds = this.cfg.credentials;
    if (!creds) return null;
    const userOk = safeEqual(user, creds.user);
    const passwordOk = safeEqual(password, creds.password);
    if (!(userOk && passwordOk)) {
      const f = this.failures.get(address);
      if (f && f.since + LOGIN_FAILURE_WINDOW_MS > this.now()) f.count++;
      else this.failures.set(address, { count: 1, since: this.now() });
      return null;
    }
    this.failures.delete(address);
    this.purge();
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { user: creds.user, csrf: randomBytes(32).toString('base64url'), expires: this.now() + this.cfg.sessionTtlMs });
    return id;
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
