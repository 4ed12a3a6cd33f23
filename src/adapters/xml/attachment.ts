import { createHash } from 'node:crypto';
import { AppConfig } from '../../config/config';
import { AttachmentInput } from '../../domain/work-item';
import { quote, reject } from './rejection';
import { attributePath } from './xml-path';
import { XmlNode } from './xml-node';

const PATH = '/workItem/attachment';
const MAX_FILE_NAME_BYTES = 255;

function rejectAttachment(reason: string, path = PATH): never {
  return reject('ATTACHMENT_REJECTED', `attachment rejected: ${reason}`, path);
}

/** Validates `<attachment>` (names, type, base64) and decodes it. Every problem is ATTACHMENT_REJECTED. */
export function readAttachment(node: XmlNode, cfg: AppConfig['attachments']): AttachmentInput {
  const fileName = readFileName(node.attributes.get('fileName'));
  const contentType = readContentType(node.attributes.get('contentType'), cfg.allowedContentTypes);
  const encoding = node.attributes.get('encoding');
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'base64') {
    rejectAttachment(`encoding ${quote(encoding)} is not supported; use base64`, attributePath(PATH, 'encoding'));
  }
  const data = decodeBase64(node.text, cfg.maxBytes);
  const sha256 = createHash('sha256').update(data).digest('hex');
  return { fileName, contentType, data, sha256 };
}

/**
 * Format characters (Unicode Cf: bidi overrides and isolates, zero-width space/joiners, BOM, soft hyphen…) and
 * line/paragraph separators: invisible in a file name, and a right-to-left override makes `invoice\u202Efdp.exe`
 * show as "invoiceexe.pdf" to the agent who opens it.
 */
const INVISIBLE_IN_NAME = /[\p{Cf}\p{Zl}\p{Zp}]/u;

/** File names end up in URLs and possibly on disk: no paths, no control or invisible characters. */
function readFileName(value: string | undefined): string {
  const path = attributePath(PATH, 'fileName');
  if (value === undefined || value.trim() === '') rejectAttachment('fileName is required', path);
  if (/[/\\\p{Cc}]/u.test(value)) rejectAttachment('fileName must not contain /, \\ or control characters', path);
  if (INVISIBLE_IN_NAME.test(value)) {
    const cp = value.codePointAt(value.search(INVISIBLE_IN_NAME)) ?? 0;
    const hex = cp.toString(16).toUpperCase().padStart(4, '0');
    rejectAttachment(`fileName must not contain bidirectional controls or invisible characters (U+${hex})`, path);
  }
  if (value === '.' || value === '..') rejectAttachment('fileName must not be "." or ".."', path);
  // bytes, not characters: 255 bytes is the common file-system limit for one name
  if (Buffer.byteLength(value, 'utf8') > MAX_FILE_NAME_BYTES) {
    rejectAttachment(`fileName must be at most ${MAX_FILE_NAME_BYTES} bytes`, path);
  }
  return value;
}

/** RFC 6838 restricted-name for type and subtype (no wildcards); RFC 9110 token for parameters. */
const NAME = '[a-z0-9][a-z0-9!#$&^_.+-]{0,126}';
const TOKEN = "[a-z0-9!#$%&'*+.^_`|~-]+";
const MEDIA_TYPE = new RegExp(`^(${NAME})/(${NAME})((?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|"[^"\\\\\\p{Cc}]*"))*)[ \\t]*$`, 'iu');

/**
 * `type/subtype` with optional parameters, matched on its lowercase essence (parameters dropped)
 * against the allow-list, which holds exact types or `type/*` wildcards. The strict grammar also
 * keeps the value safe to serve back as a Content-Type header.
 */
function readContentType(value: string | undefined, allowed: readonly string[]): string {
  const path = attributePath(PATH, 'contentType');
  if (value === undefined || value.trim() === '') rejectAttachment('contentType is required', path);
  const m = MEDIA_TYPE.exec(value.trim());
  if (!m) rejectAttachment(`contentType ${quote(value)} is not a valid media type`, path);
  const essence = `${m[1]}/${m[2]}`.toLowerCase();
  const isAllowed = allowed.some((a) => a === essence || (a.endsWith('/*') && essence.startsWith(a.slice(0, -1))));
  if (!isAllowed) rejectAttachment(`contentType ${quote(essence)} is not allowed`, path);
  return `${essence}${m[3]}`;
}

const NOT_BASE64 = /[^A-Za-z0-9+/=]/;

/**
 * Strict base64: Buffer.from skips invalid characters and missing padding without a word, which
 * would store a silently different file. Whitespace (line wrapping) is allowed and removed.
 */
function decodeBase64(text: string, maxBytes: number): Buffer {
  const compact = text.replace(/[ \t\r\n]+/g, '');
  if (compact === '') rejectAttachment('the attachment is empty');
  if (NOT_BASE64.test(compact)) rejectAttachment('not valid base64 (unexpected character)');
  const firstPad = compact.indexOf('=');
  const padding = firstPad === -1 ? 0 : compact.length - firstPad;
  if (compact.length % 4 !== 0 || padding > 2 || /[^=]/.test(compact.slice(compact.length - padding))) {
    rejectAttachment('not valid base64 (bad length or padding)');
  }
  const size = (compact.length / 4) * 3 - padding;
  if (size > maxBytes) rejectAttachment(`too large: ${size} bytes, the limit is ${maxBytes}`);
  return Buffer.from(compact, 'base64');
}
