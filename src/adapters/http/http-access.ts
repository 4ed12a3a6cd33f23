import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { HttpAccessConfig } from '../../config/config';
import type { AttachmentUrlSigner, LinkCheck } from './attachment-links';
import { loopbackRefusal, publicHostOf } from './dashboard/access';

/**
 * Who may read what on the service's own HTTP paths (the dashboard under /ui keeps its own rules):
 * - /healthz, /readyz: everyone.
 * - /metrics: everyone, or with METRICS_TOKEN set only `Authorization: Bearer <METRICS_TOKEN>`.
 * - /api/*: `Authorization: Bearer <one of API_TOKENS / API_TOKENS_FILE>`; with no token configured, loopback clients
 *   naming a loopback host (the dashboard's read-only rule).
 * - /attachments/…: a valid signed link (see attachment-links.ts) or a valid API token.
 */

export const REALM = 'workitem';

export type Denial = { status: 401 | 403; error: string; challenge?: string };

/** Set of tokens compared in constant time: hashes of equal length, every entry looked at. */
class TokenSet {
  private readonly hashes: Buffer[];
  constructor(tokens: readonly string[]) {
    this.hashes = tokens.map(sha256);
  }
  get size(): number {
    return this.hashes.length;
  }
  has(token: string): boolean {
    const h = sha256(token);
    let found = false;
    for (const t of this.hashes) found = timingSafeEqual(h, t) || found;
    return found;
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** The token of `Authorization: Bearer <token>`; '' for a Bearer header without one; null without a Bearer header. */
export function bearerToken(req: http.IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^Bearer(?:\s+(.*))?$/i.exec(h.trim());
  return m ? (m[1] ?? '').trim() : null;
}

function challenge(error?: 'invalid_token'): string {
  return error ? `Bearer realm="${REALM}", error="${error}"` : `Bearer realm="${REALM}"`;
}

export class HttpAccess {
  private readonly apiTokens: TokenSet;
  private readonly metricsToken: TokenSet | null;
  private readonly publicHost: string | null;

  constructor(
    cfg: HttpAccessConfig,
    publicBaseUrl: string,
    private readonly links: AttachmentUrlSigner,
  ) {
    this.apiTokens = new TokenSet(cfg.apiTokens);
    this.metricsToken = cfg.metricsToken ? new TokenSet([cfg.metricsToken]) : null;
    this.publicHost = publicHostOf(publicBaseUrl);
  }

  /** /api/*: null when allowed, else the 401 to send. */
  api(req: http.IncomingMessage): Denial | null {
    const token = bearerToken(req);
    if (this.apiTokens.size === 0) {
      if (loopbackRefusal(req, this.publicHost) === null) return null;
      return {
        status: 401,
        error: 'no API token is configured (API_TOKENS, API_TOKENS_FILE): /api answers loopback clients only',
        challenge: challenge(token === null ? undefined : 'invalid_token'),
      };
    }
    if (token === null) return { status: 401, error: 'send Authorization: Bearer <API token>', challenge: challenge() };
    if (!this.apiTokens.has(token)) return { status: 401, error: 'invalid API token', challenge: challenge('invalid_token') };
    return null;
  }

  /** /metrics: open unless METRICS_TOKEN is set. */
  metrics(req: http.IncomingMessage): Denial | null {
    if (!this.metricsToken) return null;
    const token = bearerToken(req);
    if (token === null) return { status: 401, error: 'send Authorization: Bearer <METRICS_TOKEN>', challenge: challenge() };
    if (!this.metricsToken.has(token)) return { status: 401, error: 'invalid metrics token', challenge: challenge('invalid_token') };
    return null;
  }

  /** /attachments/<contactId>/<fileName>: a valid signed link, or a valid API token instead; else 403. */
  attachment(req: http.IncomingMessage, url: URL, contactId: string, fileName: string): Denial | null {
    const check: LinkCheck = this.links.check(contactId, fileName, url.searchParams.get('expires'), url.searchParams.get('sig'));
    if (check === 'valid') return null;
    const token = bearerToken(req);
    if (token !== null && this.apiTokens.size > 0 && this.apiTokens.has(token)) return null;
    const why: Record<Exclude<LinkCheck, 'valid'>, string> = {
      missing: 'a signed link (expires, sig) or an API token is required',
      malformed: 'malformed expires or sig',
      'bad-signature': 'the link was altered or signed with another secret',
      expired: 'the link has expired: take the URL of a newer event, or ask again with an API token',
    };
    return { status: 403, error: token !== null ? `invalid API token; ${why[check]}` : why[check] };
  }
}
