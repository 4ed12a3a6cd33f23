import { createHash } from 'node:crypto';
import { OPTS, expectInvalid, expectItem, parse, withOpts, workItemXml } from './xml-test-helpers';

const attachment = (attributes: string, content: string): string => `<attachment ${attributes}>${content}</attachment>`;
const PDF = Buffer.from('%PDF-1.4 hello');
const PDF_B64 = PDF.toString('base64');
const withAttachment = (attributes: string, content = PDF_B64): string => workItemXml({}, { extra: attachment(attributes, content) });
const GOOD = 'fileName="case.pdf" contentType="application/pdf" encoding="base64"';

describe('parseMessage: attachment', () => {
  it('decodes base64, computes sha256 and keeps the file name and content type', () => {
    const item = expectItem(parse(withAttachment(GOOD)));
    expect(item.attachment).toEqual({
      fileName: 'case.pdf',
      contentType: 'application/pdf',
      data: PDF,
      sha256: createHash('sha256').update(PDF).digest('hex'),
    });
  });

  it('allows wrapped, indented base64 and no encoding attribute', () => {
    const data = Buffer.alloc(300, 7);
    const wrapped = `\n    ${data.toString('base64').replace(/.{76}/g, '$&\r\n    ')}\n  `;
    const item = expectItem(parse(withAttachment('fileName="a.pdf" contentType="application/pdf"', wrapped)));
    expect(item.attachment!.data.equals(data)).toBe(true);
  });

  it('matches content types on the lowercase essence, exactly or by type/* wildcard', () => {
    const type = (contentType: string) => parse(withAttachment(`fileName="f" contentType="${contentType}"`));
    expect(expectItem(type('audio/mpeg')).attachment!.contentType).toBe('audio/mpeg');
    expect(expectItem(type('IMAGE/PNG')).attachment!.contentType).toBe('image/png');
    expect(expectItem(type('text/plain; charset=utf-8')).attachment!.contentType).toBe('text/plain; charset=utf-8');
    for (const bad of [
      'text/html',
      'application/x-msdownload',
      'audio',
      'audio/*',
      '*/*',
      'text/plain; charset',
      'text/plain&#10;X-Evil: 1',
    ]) {
      expectInvalid(type(bad), 'ATTACHMENT_REJECTED', '/workItem/attachment/@contentType');
    }
  });

  it('uses the configured allow-list', () => {
    const opts = withOpts({ attachments: { ...OPTS.attachments, allowedContentTypes: ['text/html'] } });
    expect(expectItem(parse(withAttachment('fileName="f" contentType="text/html"'), opts)).attachment!.contentType).toBe('text/html');
    expectInvalid(parse(withAttachment(GOOD), opts), 'ATTACHMENT_REJECTED');
  });

  it.each([
    ['missing', 'contentType="application/pdf"'],
    ['empty', 'fileName="" contentType="application/pdf"'],
    ['with a slash', 'fileName="../etc/passwd" contentType="application/pdf"'],
    ['with a backslash', 'fileName="..\\win.ini" contentType="application/pdf"'],
    ['"."', 'fileName="." contentType="application/pdf"'],
    ['".."', 'fileName=".." contentType="application/pdf"'],
    ['with a control character', 'fileName="a&#9;b.pdf" contentType="application/pdf"'],
    ['longer than 255 bytes', `fileName="${'å'.repeat(128)}" contentType="application/pdf"`],
    // shows as "invoiceexe.pdf": a right-to-left override reverses what follows it
    ['with a right-to-left override', 'fileName="invoice\u202Efdp.exe" contentType="application/pdf"'],
    ['with a right-to-left override as a character reference', 'fileName="invoice&#x202E;fdp.exe" contentType="application/pdf"'],
    ['with a bidi isolate', 'fileName="a\u2067b.pdf" contentType="application/pdf"'],
    ['with a zero-width space', 'fileName="a\u200Bb.pdf" contentType="application/pdf"'],
    ['with a zero-width joiner', 'fileName="a\u200Db.pdf" contentType="application/pdf"'],
    ['with a byte-order mark', 'fileName="\uFEFFa.pdf" contentType="application/pdf"'],
    ['with a line separator', 'fileName="a\u2028b.pdf" contentType="application/pdf"'],
  ])('rejects a file name %s', (_label, attributes) => {
    const error = expectInvalid(parse(withAttachment(attributes)), 'ATTACHMENT_REJECTED', '/workItem/attachment/@fileName');
    expect(error.message).toMatch(/fileName/);
  });

  it('names the invisible character it refuses', () => {
    const error = expectInvalid(
      parse(withAttachment('fileName="invoice\u202Efdp.exe" contentType="application/pdf"')),
      'ATTACHMENT_REJECTED',
      '/workItem/attachment/@fileName',
    );
    expect(error.message).toContain('U+202E');
  });

  it('keeps names in other scripts and with accents', () => {
    for (const name of ['Überweisung été.pdf', 'فاتورة.pdf', '請求書.pdf']) {
      expect(expectItem(parse(withAttachment(`fileName="${name}" contentType="application/pdf"`))).attachment!.fileName).toBe(name);
    }
  });

  it('requires a content type and base64 encoding', () => {
    expectInvalid(parse(withAttachment('fileName="f.pdf"')), 'ATTACHMENT_REJECTED', '/workItem/attachment/@contentType');
    const error = expectInvalid(
      parse(withAttachment(`${GOOD.replace('base64', 'hex')}`)),
      'ATTACHMENT_REJECTED',
      '/workItem/attachment/@encoding',
    );
    expect(error.message).toMatch(/base64/);
  });

  it.each([
    ['garbage characters', 'not*base64!'],
    ['a URL-safe alphabet', 'ab-_'],
    ['missing padding', 'YWI'],
    ['padding in the middle', 'YQ==YWJj'],
    ['too much padding', 'Y==='],
    ['a bad length', 'YWJjZ'],
    ['nothing at all', '   '],
  ])('rejects base64 with %s', (_label, content) => {
    const error = expectInvalid(parse(withAttachment(GOOD, content)), 'ATTACHMENT_REJECTED', '/workItem/attachment');
    expect(error.message).toMatch(/base64|empty/);
  });

  it('rejects an attachment over attachments.maxBytes (decoded size)', () => {
    const opts = withOpts({ attachments: { ...OPTS.attachments, maxBytes: 10 } });
    expect(expectItem(parse(withAttachment(GOOD, Buffer.alloc(10).toString('base64')), opts)).attachment!.data).toHaveLength(10);
    const error = expectInvalid(parse(withAttachment(GOOD, Buffer.alloc(11).toString('base64')), opts), 'ATTACHMENT_REJECTED');
    expect(error.message).toMatch(/too large/);
  });

  it('stops reading a far too large attachment while parsing, not after', () => {
    const opts = withOpts({ attachments: { ...OPTS.attachments, maxBytes: 1000 } });
    const result = parse(withAttachment(GOOD, 'A'.repeat(100_000)), opts);
    expect(expectInvalid(result, 'ATTACHMENT_REJECTED', '/workItem/attachment').message).toMatch(/too large/);
    expect(result).toMatchObject({ externalId: 'CASE-1', source: 'bank-support' });
  });

  it('is not bounded by maxTextChars (only the attachment)', () => {
    const data = Buffer.alloc(100_000, 1);
    expect(expectItem(parse(withAttachment(GOOD, data.toString('base64')))).attachment!.data.equals(data)).toBe(true);
  });

  it('allows at most one attachment (INVALID_FIELD)', () => {
    const xml = workItemXml({}, { extra: attachment(GOOD, PDF_B64) + attachment(GOOD, PDF_B64) });
    expectInvalid(parse(xml), 'INVALID_FIELD', '/workItem/attachment[2]');
  });

  it('rejects unknown attributes and child elements as INVALID_FIELD', () => {
    expectInvalid(parse(withAttachment(`${GOOD} size="3"`)), 'INVALID_FIELD', '/workItem/attachment/@size');
    expectInvalid(parse(withAttachment(GOOD, '<part/>')), 'INVALID_FIELD', '/workItem/attachment/part');
  });
});

describe('parseMessage: social', () => {
  const social = (attributes: string, entrance = 'social'): string => workItemXml({ entrance }, { extra: `<social ${attributes}/>` });

  it('maps a configured page with its display name', () => {
    const item = expectItem(parse(social('platform="facebook" pageId="1234"')));
    expect(item.social).toEqual({ platform: 'facebook', pageId: '1234', pageName: 'Bank on Facebook', platformName: 'Facebook' });
  });

  it('requires platform and pageId', () => {
    expectInvalid(parse(social('pageId="1234"')), 'MISSING_FIELD', '/workItem/social/@platform');
    expectInvalid(parse(social('platform="facebook"')), 'MISSING_FIELD', '/workItem/social/@pageId');
  });

  it.each([
    ['an unknown platform', 'platform="twitter" pageId="1234"'],
    ['an unknown page', 'platform="facebook" pageId="999"'],
    ['a prototype member as platform', 'platform="constructor" pageId="1234"'],
    ['a prototype member as page', 'platform="facebook" pageId="constructor"'],
    ['__proto__ as page', 'platform="facebook" pageId="__proto__"'],
  ])('is SOCIAL_NOT_CONFIGURED for %s', (_label, attributes) => {
    expectInvalid(parse(social(attributes)), 'SOCIAL_NOT_CONFIGURED', '/workItem/social');
  });

  it("rejects an entrance other than the page's configured one", () => {
    const error = expectInvalid(parse(social('platform="facebook" pageId="1234"', 'loans')), 'INVALID_FIELD', '/workItem/entrance');
    expect(error.message).toContain('"social"');
  });

  it('validates the optional attributes', () => {
    expectInvalid(
      parse(social(`platform="facebook" pageId="1234" author="${'a'.repeat(257)}"`)),
      'INVALID_FIELD',
      '/workItem/social/@author',
    );
    expectInvalid(parse(social('platform="facebook" pageId="1234" postId="a&#10;b"')), 'INVALID_FIELD', '/workItem/social/@postId');
  });
});
