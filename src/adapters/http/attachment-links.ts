import { createHmac, randomBytes } from 'node:crypto';
import type { AttachmentLinks } from '../../ports/attachment-links';
import { safeEqual } from './dashboard/access';

/**
 * Signed, expiring attachment links: `/attachments/<contactId>/<fileName>?expires=<unix seconds>&sig=<sig>`.
 *
 * What is signed (version 1) is the UTF-8 string
 *
 *     "GET /attachments/" + contactId + "/" + fileName + "\n" + expires
 *
 * with `fileName` as the attachment's exact (decoded, not percent-encoded) name and `expires` the decimal digits of the
 * query parameter. `sig` = base64url (no padding) of HMAC-SHA256(key = ATTACHMENT_URL_SECRET as UTF-8, that string).
 * The host is not signed, so one link works through any name of the service and on every instance sharing the secret.
 * A link is valid while the current unix time is ≤ `expires`.
 */
export function attachmentSignatureBase(contactId: string, fileName: string, expires: number): string {
  return `GET /attachments/${contactId}/${fileName}\n${expires}`;
}

export function attachmentPath(contactId: string, fileName: string): string {
  return `/attachments/${encodeURIComponent(contactId)}/${encodeURIComponent(fileName)}`;
}

export type LinkCheck = 'valid' | 'missing' | 'malformed' | 'expired' | 'bad-signature';

export class AttachmentUrlSigner implements AttachmentLinks {
  private readonly secret: Buffer;

  constructor(
    secret: string,
    readonly ttlSeconds: number,
    private readonly baseUrl: string,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.secret = Buffer.from(secret, 'utf8');
  }

  /** A key for a process without ATTACHMENT_URL_SECRET: links then work on this process only, until it restarts. */
  static randomSecret(): string {
    return randomBytes(32).toString('base64url');
  }

  signature(contactId: string, fileName: string, expires: number): string {
    return createHmac('sha256', this.secret)
      .update(attachmentSignatureBase(contactId, fileName, expires), 'utf8')
      .digest('base64url');
  }

  /** Path and query of a link valid for ttlSeconds from now (the dashboard links with it). */
  signedPath(contactId: string, fileName: string): string {
    const expires = Math.floor(this.nowMs() / 1000) + this.ttlSeconds;
    return `${attachmentPath(contactId, fileName)}?expires=${expires}&sig=${this.signature(contactId, fileName, expires)}`;
  }

  location(contactId: string, fileName: string): string {
    return `${this.baseUrl}${attachmentPath(contactId, fileName)}`;
  }

  signed(contactId: string, fileName: string): string {
    return `${this.baseUrl}${this.signedPath(contactId, fileName)}`;
  }

  /** Checks `expires` and `sig` of a request for contactId/fileName (fileName decoded). Constant-time compare. */
  check(contactId: string, fileName: string, expires: string | null, sig: string | null): LinkCheck {
    if (expires === null && sig === null) return 'missing';
    if (expires === null || sig === null || !/^\d{1,12}$/.test(expires) || !/^[A-Za-z0-9_-]{1,128}$/.test(sig)) return 'malformed';
    const exp = Number(expires);
    // The signature first, so an altered link is reported as altered even when it is also old.
    if (!safeEqual(sig, this.signature(contactId, fileName, exp))) return 'bad-signature';
    return Math.floor(this.nowMs() / 1000) > exp ? 'expired' : 'valid';
  }
}
