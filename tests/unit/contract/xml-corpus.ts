import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { workItemXml } from '../xml/xml-test-helpers';

/**
 * Every XML document the differential test puts through both the service's parser and the XSD: the fixture files,
 * the examples, and generated cases mirroring the parser's unit tests (tests/unit/xml/*.test.ts), valid and invalid.
 * Names are stable: the rule lists in xsd-rules.ts refer to them.
 */
export interface XmlCase {
  name: string;
  body: Buffer;
}

const ROOT = path.resolve(__dirname, '../../..');

/** Hostile fixtures are templates (the integration test fills in a canary URL); none is ever fetched here. */
function fillHostile(text: string): string {
  return text.replace(/\{\{EXTERNAL_ID\}\}/g, 'HOSTILE-1').replace(/\{\{CANARY_URL\}\}/g, 'http://127.0.0.1:9');
}

/** `.xml` files under `dir` (relative to the project), sub-folders included, in a stable order. */
function files(dir: string): string[] {
  return (readdirSync(path.join(ROOT, dir), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.xml'))
    .map((f) => f.split(path.sep).join('/'))
    .sort();
}

const CONTROL_ITEM = '<item key="WorkItemTask">t</item>';
const PDF_B64 = Buffer.from('%PDF-1.4 hello').toString('base64');
const GOOD_ATTACHMENT = 'fileName="case.pdf" contentType="application/pdf" encoding="base64"';
const withAttachment = (attributes: string, content = PDF_B64): string =>
  workItemXml({}, { extra: `<attachment ${attributes}>${content}</attachment>` });
const social = (attributes: string, entrance = 'social'): string => workItemXml({ entrance }, { extra: `<social ${attributes}/>` });
const items = (n: number): string => [CONTROL_ITEM, ...Array.from({ length: n - 1 }, (_, i) => `<item key="k${i}">v</item>`)].join('');
const cancel = (inner: string, attributes = ''): string => `<cancelWorkItem${attributes}>${inner}</cancelWorkItem>`;
const IDENTITY = '<externalId>CASE-1</externalId><source>bank-support</source>';
const update = (inner: string, attributes = ' version="1"'): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<updateWorkItem${attributes}>\n  ${IDENTITY}\n  ${inner}\n</updateWorkItem>\n`;

/** Generated cases: [name, document]. */
function generated(): [string, string | Buffer][] {
  const cases: [string, string | Buffer][] = [];
  const add = (name: string, body: string | Buffer): void => {
    cases.push([name, body]);
  };

  // roots and versions
  add('minimal', workItemXml());
  add('root order', '<order version="1"><id>1</id></order>');
  add('root receipt sent inbound', '<workItemReceipt status="accepted"/>');
  add('version missing', workItemXml({}, { rootAttributes: '' }));
  add('version 2', workItemXml({}, { rootAttributes: 'version="2"' }));
  add('version padded', workItemXml({}, { rootAttributes: 'version=" 1 "' }));
  add('cancel without version', cancel('<externalId> CASE-1 </externalId><source>bank-support</source>'));
  add('cancel with version', cancel(IDENTITY, ' version="1"'));
  add('cancel example order reversed', cancel('<source>bank-support</source><externalId>CASE-1</externalId>'));
  add('cancel version 3', cancel('<externalId>a</externalId><source>s</source>', ' version="3"'));
  add('cancel without externalId', cancel('<source>s</source>'));
  add('cancel without source', cancel('<externalId>a</externalId>'));
  add('cancel with reason', cancel('<externalId>a</externalId><source>s</source><reason>x</reason>'));
  add('cancel with bad source', cancel('<externalId>a</externalId><source>Not Valid</source>'));

  // structure
  add('unknown child', workItemXml({ colour: 'blue' }));
  add('unknown customer child', workItemXml({ customer: '<name>A</name><age>3</age>' }));
  add('element in subject', workItemXml({ subject: 'a <b>bold</b> word' }));
  add('unknown root attribute', workItemXml({}, { rootAttributes: 'version="1" lang="en"' }));
  add('restart true', workItemXml({}, { rootAttributes: 'version="1" restart="true"' }));
  add('restart false', workItemXml({}, { rootAttributes: 'version="1" restart="false"' }));
  add('restart padded', workItemXml({}, { rootAttributes: 'version="1" restart=" true "' }));
  add('restart yes', workItemXml({}, { rootAttributes: 'version="1" restart="yes"' }));
  add('restart 1', workItemXml({}, { rootAttributes: 'version="1" restart="1"' }));
  add('unknown empty element', workItemXml({}, { extra: '<subject2/>' }));
  add('unknown item attribute', workItemXml({ contactData: '<item key="WorkItemTask" type="x">t</item>' }));
  add('unknown social attribute', workItemXml({ entrance: 'social' }, { extra: '<social platform="facebook" pageId="1234" likes="3"/>' }));
  add('subject twice', workItemXml({}, { extra: '<subject>again</subject>' }));
  add('customer name twice', workItemXml({ customer: '<name>A</name><name>B</name>' }));
  add('contactData twice', workItemXml({}, { extra: '<contactData/>' }));
  add('text in root', workItemXml({}, { extra: 'stray text' }));
  add('text in customer', workItemXml({ customer: 'Anna<name>A</name>' }));
  add('text in contactData', workItemXml({ contactData: `x${CONTROL_ITEM}` }));
  add('text in social', workItemXml({ entrance: 'social' }, { extra: '<social platform="facebook" pageId="1234">hi</social>' }));
  add('white space in social', workItemXml({ entrance: 'social' }, { extra: '<social platform="facebook" pageId="1234">\n  </social>' }));
  add('comments and white space in customer', workItemXml({ customer: '\n  <!-- c -->\n  <name>A</name>\n' }));
  add('missing externalId and unknown child', workItemXml({ externalId: null, colour: 'x' }));
  add(
    'fields in another order',
    workItemXml({ contactData: CONTROL_ITEM, subject: 'S', entrance: 'loans', source: 'bank-support', externalId: 'E' }),
  );
  add(
    'every field',
    workItemXml(
      {
        priority: '3',
        body: 'Body text',
        dueAt: '2026-11-24T12:00:00Z',
        customer: '<name>Anna</name><email>anna@example.com</email><phone>+46701234567</phone>',
        contactData: `${CONTROL_ITEM}<item key="CaseUrl">https://bank.example/cases/1</item>`,
      },
      { extra: `<attachment ${GOOD_ATTACHMENT}>${PDF_B64}</attachment>` },
    ),
  );

  // externalId
  add('externalId missing', workItemXml({ externalId: null }));
  add('externalId blank', workItemXml({ externalId: '  ' }));
  add('externalId padded', workItemXml({ externalId: '\n  CASE-9 \n' }));
  add('externalId 128', workItemXml({ externalId: 'x'.repeat(128) }));
  add('externalId 129', workItemXml({ externalId: 'x'.repeat(129) }));
  add('externalId 128 padded', workItemXml({ externalId: `  ${'x'.repeat(128)}  ` }));
  add('externalId tab inside', workItemXml({ externalId: 'a\tb' }));
  add('externalId newline reference inside', workItemXml({ externalId: 'a&#10;b' }));
  add('externalId C1 control', workItemXml({ externalId: 'a\u0085b' }));
  add('externalId with spaces inside', workItemXml({ externalId: 'CASE 2026 1' }));
  add('externalId CDATA', workItemXml({ externalId: '<![CDATA[CASE-<7>]]>' }));

  // source and entrance
  add('source missing', workItemXml({ source: null }));
  add('source with capitals and space', workItemXml({ source: 'Bank Support' }));
  add('source 65', workItemXml({ source: 'a'.repeat(65) }));
  add('source 64', workItemXml({ source: 'a'.repeat(64) }));
  add('source padded', workItemXml({ source: ' a.b_c-1 ' }));
  add('entrance missing', workItemXml({ entrance: null }));
  add('entrance not configured', workItemXml({ entrance: 'mortgages' }));
  add('entrance padded', workItemXml({ entrance: ' support ' }));
  add('entrance constructor', workItemXml({ entrance: 'constructor' }));
  add('entrance 10000 characters', workItemXml({ entrance: 'e'.repeat(10_000) }));
  add('entrance with capitals', workItemXml({ entrance: 'Loans' }));

  // priority
  for (const text of ['1', '10', ' 7 ', '', '05', '010', '009']) add(`priority ${JSON.stringify(text)}`, workItemXml({ priority: text }));
  for (const text of ['0', '11', '-1', '+3', '2.5', '1e1', 'high', '0x5', '5 5', '0010', '00', '99']) {
    add(`priority ${JSON.stringify(text)}`, workItemXml({ priority: text }));
  }

  // subject and body
  add('subject missing', workItemXml({ subject: null }));
  add('subject empty', workItemXml({ subject: '' }));
  add('subject padded', workItemXml({ subject: '  Hello  ' }));
  add('subject 998', workItemXml({ subject: 's'.repeat(998) }));
  add('subject 999', workItemXml({ subject: 's'.repeat(999) }));
  add('subject 998 padded', workItemXml({ subject: `\n ${'s'.repeat(998)} \n` }));
  add('subject with tab and newline inside', workItemXml({ subject: 'a\tb\nc' }));
  add('subject entities', workItemXml({ subject: 'Tags &amp; entities: &lt;b&gt; &quot;q&quot; &apos;a&apos; &#x263A; &#65;' }));
  add('body multi-line', workItemXml({ body: '\n  line 1\n\n  line 2  \n' }));
  add('body blank', workItemXml({ body: '   ' }));
  add('body 65536', workItemXml({ body: 'b'.repeat(65_536) }));
  add('body 65537', workItemXml({ body: 'b'.repeat(65_537) }));
  add('body 70000', workItemXml({ body: 'x'.repeat(70_000) }));
  add('body CDATA with markup', workItemXml({ body: '<![CDATA[<!DOCTYPE html><html><?php echo 1; ?> & <b>bold</b></html>]]>' }));

  // dueAt
  for (const text of [
    '2026-11-24T12:00:00Z',
    '2026-11-24T12:00:00.5Z',
    '2026-11-24T12:00:00.123456789Z',
    '2026-11-24T14:00:00+02:00',
    '2026-11-24T07:30:00-04:30',
    '2024-02-29T00:00:00Z',
    ' 2026-11-24T12:00:00Z ',
    '',
  ]) {
    add(`dueAt ${JSON.stringify(text)}`, workItemXml({ dueAt: text }));
  }
  for (const text of [
    '2026-11-24',
    '2026-11-24T12:00:00',
    '2026-11-24T12:00Z',
    '2026-11-24 12:00:00Z',
    '2026-02-30T12:00:00Z',
    '2025-02-29T12:00:00Z',
    '2026-13-01T12:00:00Z',
    '2026-11-24T24:00:00Z',
    '2026-11-24T12:60:00Z',
    '2026-11-24T12:00:60Z',
    '2026-11-24T12:00:00+0200',
    '2026-11-24T12:00:00+25:00',
    '2026-11-24T12:00:00.1234567890Z',
    '2026-11-24t12:00:00z',
    '12026-11-24T12:00:00Z',
    'tomorrow',
    '1732449600',
    '2026-11-24T12:00:00+15:00',
  ]) {
    add(`dueAt ${JSON.stringify(text)}`, workItemXml({ dueAt: text }));
  }

  // customer
  add('customer fields padded and empty', workItemXml({ customer: '<name> Anna </name><email/><phone>+46 (70) 123-45</phone>' }));
  add('customer all empty', workItemXml({ customer: '<name/><email/><phone/>' }));
  add('customer empty', workItemXml({ customer: '' }));
  add('customer name 256', workItemXml({ customer: `<name>${'n'.repeat(256)}</name>` }));
  add('customer name 257', workItemXml({ customer: `<name>${'n'.repeat(257)}</name>` }));
  for (const email of ['anna@example.com', ' anna.s+tag@mail.example.co.uk ', 'ä@exämple.se']) {
    add(`email ${JSON.stringify(email)}`, workItemXml({ customer: `<email>${email}</email>` }));
  }
  for (const email of [
    'anna',
    'anna@',
    'anna@example',
    'a b@example.com',
    'a@b@example.com',
    'a(b)@example.com',
    `${'a'.repeat(250)}@b.se`,
  ]) {
    add(`email ${JSON.stringify(email)}`, workItemXml({ customer: `<email>${email}</email>` }));
  }
  for (const phone of ['+46701234567', '+46 (70) 123-45', '123', '+ 12', ` ${'1'.repeat(32)} `, '(0)']) {
    add(`phone ${JSON.stringify(phone)}`, workItemXml({ customer: `<phone>${phone}</phone>` }));
  }
  for (const phone of ['12', '+46-70-abc', '++46701234567', '1'.repeat(33), '+', '1 2', '  12  ', '+46\u00A0701']) {
    add(`phone ${JSON.stringify(phone)}`, workItemXml({ customer: `<phone>${phone}</phone>` }));
  }

  // contactData
  add(
    'contactData trimmed values',
    workItemXml({ contactData: '<item key="WorkItemTask"> t </item><item key="Empty"></item><item key="a.b-c_D">x y</item>' }),
  );
  add('contactData 50 items', workItemXml({ contactData: items(50) }));
  add('contactData 51 items', workItemXml({ contactData: items(51) }));
  add('contactData item without key', workItemXml({ contactData: `${CONTROL_ITEM}<item>v</item>` }));
  add('contactData item with empty key', workItemXml({ contactData: `${CONTROL_ITEM}<item key="">v</item>` }));
  for (const key of ['has space', 'ä', 'a/b', 'k'.repeat(101)]) {
    add(
      `contactData key ${JSON.stringify(key.length > 20 ? `${key.slice(0, 5)}…(${key.length})` : key)}`,
      workItemXml({ contactData: `${CONTROL_ITEM}<item key="${key}">v</item>` }),
    );
  }
  add('contactData key 100', workItemXml({ contactData: `${CONTROL_ITEM}<item key="${'k'.repeat(100)}">v</item>` }));
  add('contactData duplicate keys', workItemXml({ contactData: `${CONTROL_ITEM}<item key="A">1</item><item key="A">2</item>` }));
  add('contactData value 1024', workItemXml({ contactData: `<item key="WorkItemTask">${'v'.repeat(1024)}</item>` }));
  add('contactData value 1025', workItemXml({ contactData: `${CONTROL_ITEM}<item key="Long">${'v'.repeat(1025)}</item>` }));
  add('contactData value 1024 padded', workItemXml({ contactData: `${CONTROL_ITEM}<item key="Long">\n  ${'v'.repeat(1024)}\n</item>` }));
  add('contactData other element', workItemXml({ contactData: `${CONTROL_ITEM}<entry key="a">b</entry>` }));
  add('contactData element in item', workItemXml({ contactData: '<item key="WorkItemTask">t<x/></item>' }));
  add(
    'contactData prototype keys',
    workItemXml({ contactData: `${CONTROL_ITEM}<item key="__proto__">p</item><item key="constructor">c</item>` }),
  );

  // work-item task key
  add('task key: no contactData', workItemXml({ contactData: null }));
  add('task key: empty contactData', workItemXml({ contactData: '' }));
  add('task key: absent', workItemXml({ contactData: '<item key="CaseUrl">u</item>' }));
  add('task key: empty value', workItemXml({ contactData: '<item key="WorkItemTask"></item>' }));
  add('task key: blank value', workItemXml({ contactData: '<item key="WorkItemTask">  \n </item>' }));
  add('task key: other letter case', workItemXml({ contactData: '<item key="workitemtask">x</item>' }));

  // attachment
  add('attachment', withAttachment(GOOD_ATTACHMENT));
  const wrapped = `\n    ${Buffer.alloc(300, 7).toString('base64').replace(/.{76}/g, '$&\r\n    ')}\n  `;
  add('attachment wrapped without encoding', withAttachment('fileName="a.pdf" contentType="application/pdf"', wrapped));
  add('attachment encoding BASE64', withAttachment('fileName="a.pdf" contentType="application/pdf" encoding="BASE64"'));
  add('attachment encoding hex', withAttachment(GOOD_ATTACHMENT.replace('base64', 'hex')));
  add('attachment encoding empty', withAttachment('fileName="a.pdf" contentType="application/pdf" encoding=""'));
  for (const type of ['audio/mpeg', 'IMAGE/PNG', 'text/plain; charset=utf-8', 'text/plain;charset="utf-8"', 'audio/wav ']) {
    add(`attachment contentType ${JSON.stringify(type)}`, withAttachment(`fileName="f" contentType="${type}"`));
  }
  for (const type of [
    'text/html',
    'application/x-msdownload',
    'audio',
    'audio/*',
    '*/*',
    'text/plain; charset',
    'text/plain&#10;X-Evil: 1',
    '',
    '/plain',
  ]) {
    add(`attachment contentType ${JSON.stringify(type)}`, withAttachment(`fileName="f" contentType="${type}"`));
  }
  add('attachment contentType missing', withAttachment('fileName="f.pdf"'));
  for (const [label, attributes] of [
    ['missing', 'contentType="application/pdf"'],
    ['empty', 'fileName="" contentType="application/pdf"'],
    ['blank', 'fileName="   " contentType="application/pdf"'],
    ['with a slash', 'fileName="../etc/passwd" contentType="application/pdf"'],
    ['with a backslash', 'fileName="..\\win.ini" contentType="application/pdf"'],
    ['"."', 'fileName="." contentType="application/pdf"'],
    ['".."', 'fileName=".." contentType="application/pdf"'],
    ['with a control character', 'fileName="a&#9;b.pdf" contentType="application/pdf"'],
    ['longer than 255 bytes', `fileName="${'å'.repeat(128)}" contentType="application/pdf"`],
    ['longer than 255 characters', `fileName="${'a'.repeat(256)}" contentType="application/pdf"`],
    ['with a right-to-left override', 'fileName="invoice\u202Efdp.exe" contentType="application/pdf"'],
    ['with a right-to-left override reference', 'fileName="invoice&#x202E;fdp.exe" contentType="application/pdf"'],
    ['with a bidi isolate', 'fileName="a\u2067b.pdf" contentType="application/pdf"'],
    ['with a zero-width space', 'fileName="a\u200Bb.pdf" contentType="application/pdf"'],
    ['with a zero-width joiner', 'fileName="a\u200Db.pdf" contentType="application/pdf"'],
    ['with a byte-order mark', 'fileName="\uFEFFa.pdf" contentType="application/pdf"'],
    ['with a line separator', 'fileName="a\u2028b.pdf" contentType="application/pdf"'],
    ['with a soft hyphen', 'fileName="a\u00ADb.pdf" contentType="application/pdf"'],
    ['with a C1 control', 'fileName="a\u0085b.pdf" contentType="application/pdf"'],
    ['in other scripts', 'fileName="Überweisung été.pdf" contentType="application/pdf"'],
    ['in Arabic', 'fileName="فاتورة.pdf" contentType="application/pdf"'],
    ['in Japanese', 'fileName="請求書.pdf" contentType="application/pdf"'],
    ['starting with a dot', 'fileName=".profile" contentType="application/pdf"'],
    ['of three dots', 'fileName="..." contentType="application/pdf"'],
    ['padded', 'fileName=" a.pdf " contentType="application/pdf"'],
    ['255 bytes', `fileName="${'a'.repeat(255)}" contentType="application/pdf"`],
  ]) {
    add(`attachment fileName ${label}`, withAttachment(attributes));
  }
  for (const [label, content] of [
    ['garbage characters', 'not*base64!'],
    ['a URL-safe alphabet', 'ab-_'],
    ['missing padding', 'YWI'],
    ['padding in the middle', 'YQ==YWJj'],
    ['too much padding', 'Y==='],
    ['only padding', '===='],
    ['a bad length', 'YWJjZ'],
    ['nothing at all', '   '],
    ['one byte', 'AA=='],
    ['spaces inside', 'YW Jj'],
    ['non-zero padding bits', 'QR=='],
    ['a dash', 'YW-j'],
  ]) {
    add(`attachment base64 ${label}`, withAttachment(GOOD_ATTACHMENT, content));
  }
  add('attachment empty element', workItemXml({}, { extra: `<attachment ${GOOD_ATTACHMENT}/>` }));
  add('attachment 100000 bytes', withAttachment(GOOD_ATTACHMENT, Buffer.alloc(100_000, 1).toString('base64')));
  add('attachment over 10 MiB', withAttachment(GOOD_ATTACHMENT, Buffer.alloc(10 * 1024 * 1024 + 3, 1).toString('base64')));
  add('attachment twice', workItemXml({}, { extra: `<attachment ${GOOD_ATTACHMENT}>${PDF_B64}</attachment>`.repeat(2) }));
  add('attachment unknown attribute', withAttachment(`${GOOD_ATTACHMENT} size="3"`));
  add('attachment child element', withAttachment(GOOD_ATTACHMENT, '<part/>'));
  add(
    'attachment exe',
    workItemXml({}, { extra: '<attachment fileName="a.exe" contentType="application/x-msdownload">TVo=</attachment>' }),
  );

  // social
  add('social configured page', social('platform="facebook" pageId="1234"'));
  add('social every attribute', social('platform="facebook" pageId="1234" postId="1234_987" author="Jane Doe"'));
  add('social padded attributes', social('platform=" facebook " pageId=" 1234 " author=""'));
  add('social without platform', social('pageId="1234"'));
  add('social without pageId', social('platform="facebook"'));
  add('social unknown platform', social('platform="twitter" pageId="1234"'));
  add('social platform not a platform name', social('platform="Face Book" pageId="1234"'));
  add('social unknown page', social('platform="facebook" pageId="999"'));
  add('social platform constructor', social('platform="constructor" pageId="1234"'));
  add('social page constructor', social('platform="facebook" pageId="constructor"'));
  add('social page __proto__', social('platform="facebook" pageId="__proto__"'));
  add('social other entrance', social('platform="facebook" pageId="1234"', 'loans'));
  add('social author 257', social(`platform="facebook" pageId="1234" author="${'a'.repeat(257)}"`));
  add('social author 256', social(`platform="facebook" pageId="1234" author="${'a'.repeat(256)}"`));
  add('social postId newline reference', social('platform="facebook" pageId="1234" postId="a&#10;b"'));
  add('social pageId 1 MiB', social(`platform="facebook" pageId="${'9'.repeat(1024 * 1024)}"`));
  add('social twice', workItemXml({ entrance: 'social' }, { extra: '<social platform="facebook" pageId="1234"/>'.repeat(2) }));

  // bytes, encodings, characters
  add('empty body', '');
  add('white space only', ' \n\t ');
  add('JSON object', '{"externalId":"x"}');
  add('JSON array', '  [1,2]');
  const badUtf8 = Buffer.from(workItemXml({ subject: 'ZZ' }));
  badUtf8[badUtf8.indexOf('ZZ')] = 0xc3;
  add('invalid UTF-8 sequence', badUtf8);
  add('invalid UTF-8 bytes', Buffer.concat([Buffer.from('<workItem version="1"><subject>'), Buffer.from([0xff, 0xfe, 0xfd])]));
  const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(workItemXml().replace('UTF-8', 'UTF-16'), 'utf16le')]);
  const be = Buffer.from(le);
  be.swap16();
  add('UTF-16LE with BOM', le);
  add('UTF-16BE with BOM', be);
  add('UTF-8 with BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(workItemXml())]));
  add('NUL byte', workItemXml({ subject: 'a\u0000b' }));
  for (const ch of ['\u0001', '\u0008', '\u000B', '\u000C', '\u001F', '\uFFFE']) {
    add(`illegal character U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`, workItemXml({ subject: `a${ch}b` }));
  }
  add('illegal character reference &#1;', workItemXml({ subject: 'a&#1;b' }));
  add('illegal character reference &#x0;', workItemXml({ subject: 'a&#x0;b' }));
  add('declared ISO-8859-1 (ASCII bytes)', workItemXml().replace('encoding="UTF-8"', "encoding='ISO-8859-1'"));
  add(
    'declared ISO-8859-1 with Latin-1 bytes',
    Buffer.from(workItemXml({ subject: 'Caf\u00e9' }).replace('UTF-8', 'ISO-8859-1'), 'latin1'),
  );
  add('declared windows-1252', workItemXml().replace('UTF-8', 'windows-1252'));
  add('declared US-ASCII', workItemXml().replace('UTF-8', 'US-ASCII'));
  add('declared utf-8 lowercase', workItemXml().replace('UTF-8', 'utf-8'));
  add('no encoding declaration', workItemXml().replace(' encoding="UTF-8"', ''));
  add('no XML declaration', workItemXml().replace(/^<\?xml[^>]*>\n/, ''));

  // well-formedness
  add('unclosed element', '<workItem version="1"><subject>x</workItem>');
  add('unclosed root', '<workItem version="1">');
  add('unquoted attribute', '<workItem version=1></workItem>');
  add('just text', 'just text');
  add('HTML entity', workItemXml({ subject: 'a &nbsp; b' }));
  add('bare ampersand', workItemXml({ subject: 'a & b' }));
  add('second root', `${workItemXml()}<workItem version="1"/>`);
  add('trailing text', `${workItemXml()}trailing`);
  add('duplicate attribute', workItemXml({}, { rootAttributes: 'version="1" version="2"' }));
  add('misplaced XML declaration', `\n${workItemXml()}`);
  add('uppercase XML declaration', workItemXml().replace('<?xml', '<?XML'));
  for (const [label, declaration] of [
    ['without version', '<?xml encoding="UTF-8"?>'],
    ['with a misspelt version', '<?xml versio="1.0"?>'],
    ['of garbage', '<?xml garbage?>'],
    ['in the wrong order', '<?xml encoding="UTF-8" version="1.0"?>'],
    ['with standalone="maybe"', '<?xml version="1.0" standalone="maybe"?>'],
    ['with standalone="yes"', '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'],
    ['version 1.1', '<?xml version="1.1" encoding="UTF-8"?>'],
  ]) {
    add(`XML declaration ${label}`, workItemXml().replace(/^<\?xml[^>]*>/, declaration));
  }

  // DOCTYPE, entities, processing instructions
  add('doctype lowercase', '<!doctype workItem><workItem version="1"/>');
  add('entity declaration in content', workItemXml({}, { extra: '<!ENTITY x "y">' }));
  add('processing instruction in subject', workItemXml({ subject: 'x<?php echo 1; ?>' }));
  add('processing instruction after root', `${workItemXml()}<?pi x?>`);
  add(
    'DOCTYPE with internal subset, unused',
    workItemXml().replace('\n<workItem', '\n<!DOCTYPE workItem [<!ELEMENT workItem ANY>]>\n<workItem'),
  );

  // limits
  add('10000-deep nesting', `<workItem version="1">${'<a>'.repeat(10_000)}${'</a>'.repeat(10_000)}</workItem>`);
  add('deep customer', workItemXml({ customer: '<name><a><b><c><d><e><f><g/></f></e></d></c></b></a></name>' }));
  add('100000 items', workItemXml({ contactData: CONTROL_ITEM + '<item key="k">v</item>'.repeat(100_000) }));
  add('100000 attributes', `<workItem version="1" ${Array.from({ length: 100_000 }, (_, i) => `a${i}="v"`).join(' ')}/>`);
  add('element name 101', workItemXml({ ['n'.repeat(101)]: 'x' }));
  add('attribute name 101', workItemXml({}, { rootAttributes: `version="1" ${'a'.repeat(101)}="x"` }));

  // names: prototype safety, namespaces
  for (const name of ['__proto__', 'constructor', 'prototype', 'toString']) add(`element named ${name}`, workItemXml({ [name]: 'x' }));
  for (const name of ['__proto__', 'constructor', 'prototype'])
    add(`attribute named ${name}`, workItemXml({}, { rootAttributes: `version="1" ${name}="x"` }));
  add('root named __proto__', '<__proto__><polluted>1</polluted></__proto__>');
  add('attribute hasOwnProperty', workItemXml({}, { rootAttributes: 'version="1" hasOwnProperty="x" b="c"' }));
  add('namespaced root', '<wi:workItem xmlns:wi="urn:x" version="1"/>');
  add('default namespace', workItemXml({}, { rootAttributes: 'version="1" xmlns="urn:workitem"' }));
  add('xml:lang', workItemXml({}, { rootAttributes: 'version="1" xml:lang="sv"' }));
  add('unbound prefix', workItemXml({ 'x:subject': 'a' }));
  add(
    'xsi:noNamespaceSchemaLocation',
    workItemXml(
      {},
      {
        rootAttributes: 'version="1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="workitem-v1.xsd"',
      },
    ),
  );

  // version 1.1 (not yet in the parser). Times are relative to now, so the verdicts hold on any day.
  const inDays = (days: number): string =>
    new Date(Math.floor(Date.now() / 1000) * 1000 + days * 86_400_000).toISOString().replace('.000Z', 'Z');
  add('expiresAt', workItemXml({ expiresAt: inDays(2) }));
  add('expiresAt in the past', workItemXml({ expiresAt: inDays(-1) }));
  add('expiresAt 400 days ahead', workItemXml({ expiresAt: inDays(400) }));
  add('expiresAt empty', workItemXml({ expiresAt: '' }));
  add('expiresAt not a date', workItemXml({ expiresAt: 'soon' }));
  add('activateAt', workItemXml({ activateAt: inDays(1).replace('Z', '+00:00') }));
  add('activateAt in the past', workItemXml({ activateAt: inDays(-1) }));
  add('activateAt 40 days ahead', workItemXml({ activateAt: inDays(40) }));
  add('activateAt without zone', workItemXml({ activateAt: '2026-12-01T08:00:00' }));
  add('update priority', update('<priority>8</priority>'));
  add('update with revision', update('<priority>8</priority>', ' version="1" revision="3"'));
  add(
    'update every field',
    update(
      `<subject>New</subject><body>b</body><dueAt>2026-12-24T12:00:00Z</dueAt><expiresAt>${inDays(3)}</expiresAt>` +
        '<customer><name>A</name></customer><contactData><item key="CaseUrl">https://bank.example/cases/123/v2</item><item key="Obsolete"/></contactData>',
    ),
  );
  add('update revision 0', update('<priority>8</priority>', ' version="1" revision="0"'));
  add('update revision not a number', update('<priority>8</priority>', ' version="1" revision="three"'));
  add('update revision 2^53-1', update('<priority>8</priority>', ' version="1" revision="9007199254740991"'));
  add('update revision 2^53', update('<priority>8</priority>', ' version="1" revision="9007199254740992"'));
  add('update without version', update('<priority>8</priority>', ''));
  add('update entrance', update('<entrance>support</entrance>'));
  add('update attachment', update(`<attachment ${GOOD_ATTACHMENT}>${PDF_B64}</attachment>`));
  add('update social', update('<social platform="facebook" pageId="1234"/>'));
  add('update activateAt', update(`<activateAt>${inDays(1)}</activateAt>`));
  add('update without externalId', '<updateWorkItem version="1"><source>bank-support</source><priority>8</priority></updateWorkItem>');
  add('update priority 11', update('<priority>11</priority>'));
  add('update duplicate keys', update('<contactData><item key="A">1</item><item key="A">2</item></contactData>'));
  add('update nothing to change', update(''));

  // version 1.2: hold and resume (described by the XSD; see NOT_YET_IMPLEMENTED in xsd-rules.ts)
  const hold = (inner: string, attributes = ' version="1"'): string =>
    `<?xml version="1.0" encoding="UTF-8"?>\n<holdWorkItem${attributes}>${IDENTITY}${inner}</holdWorkItem>\n`;
  const resume = (inner: string, attributes = ' version="1"'): string =>
    `<?xml version="1.0" encoding="UTF-8"?>\n<resumeWorkItem${attributes}>${IDENTITY}${inner}</resumeWorkItem>\n`;
  add('hold', hold(''));
  add('hold until and reason', hold(`<until>${inDays(2)}</until><reason>waiting for documents</reason>`));
  add('hold without version', hold('', ''));
  add('hold until empty and reason padded', hold('<until/><reason>\n  waiting for documents  </reason>'));
  add('hold reason 256', hold(`<reason>${'r'.repeat(256)}</reason>`));
  add('hold reason 257', hold(`<reason>${'r'.repeat(257)}</reason>`));
  add('hold until without zone', hold('<until>2026-12-08T08:00:00</until>'));
  add('hold until not a date', hold('<until>tomorrow</until>'));
  add('hold version 2', hold('', ' version="2"'));
  add('hold with priority', hold('<priority>8</priority>'));
  add('hold reason twice', hold('<reason>a</reason><reason>b</reason>'));
  add('hold without source', '<holdWorkItem version="1"><externalId>CASE-1</externalId></holdWorkItem>');
  add('resume', resume(''));
  add('resume without version', resume('', ''));
  add('resume with until', resume(`<until>${inDays(1)}</until>`));
  add('resume with reason', resume('<reason>documents arrived</reason>'));
  add('resume without externalId', '<resumeWorkItem version="1"><source>bank-support</source></resumeWorkItem>');
  return cases;
}

/** The whole corpus, in a stable order. Names must be unique. */
export function xmlCorpus(): XmlCase[] {
  const out: XmlCase[] = [];
  const seen = new Set<string>();
  const push = (name: string, body: string | Buffer): void => {
    if (seen.has(name)) throw new Error(`duplicate case name ${name}`);
    seen.add(name);
    out.push({ name, body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8') });
  };
  for (const f of files('tests/fixtures/xml')) push(`fixtures/xml/${f}`, readFileSync(path.join(ROOT, 'tests/fixtures/xml', f)));
  for (const f of files('tests/fixtures/hostile')) {
    push(`fixtures/hostile/${f}`, fillHostile(readFileSync(path.join(ROOT, 'tests/fixtures/hostile', f), 'utf8')));
  }
  for (const f of files('examples')) push(`examples/${f}`, readFileSync(path.join(ROOT, 'examples', f)));
  for (const [name, body] of generated()) push(`case: ${name}`, body);
  return out;
}

/**
 * Seeded random values for the pattern-typed fields (priority, phone, email, lengths around each limit, file name,
 * content type, social values, dueAt), drawn from small alphabets rich in the characters each rule is about
 * (white space of both kinds, controls, separators). They catch a pattern in the XSD that says something slightly
 * different from the parser's regular expression, and regular-expression quirks of the validator. Every probe must
 * agree; none is in a rule list.
 */
export function fieldProbes(seed = 7): XmlCase[] {
  let state = seed;
  const random = (n: number): number => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state % n;
  };
  const text = (alphabet: string[], min: number, max: number): string => {
    let s = '';
    for (let i = min + random(max - min + 1); i > 0; i--) s += alphabet[random(alphabet.length)];
    return s;
  };
  const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
  const probes: XmlCase[] = [];
  const probe = (field: string, count: number, alphabet: string[], min: number, max: number, xml: (v: string) => string): void => {
    for (let i = 0; i < count; i++) {
      const value = text(alphabet, min, max);
      probes.push({
        name: `probe ${field} #${i} ${JSON.stringify(value.length > 24 ? `${value.slice(0, 12)}…(${value.length})` : value)}`,
        body: Buffer.from(xml(escape(value))),
      });
    }
  };
  const WS = [' ', '\t', '\n', '\u00A0', '\u3000'];
  probe('priority', 300, ['0', '1', '5', '9', '+', '-', ...WS], 0, 5, (v) => workItemXml({ priority: v }));
  probe('phone', 300, ['1', '1', '1', ' ', '(', ')', '-', '+', '\t', 'a', '\u00A0'], 0, 36, (v) =>
    workItemXml({ customer: `<phone>${v}</phone>` }),
  );
  probe('email', 300, ['a', 'a', '@', '.', '.', ' ', '\t', '(', '"', '\u00A0', 'ä'], 0, 12, (v) =>
    workItemXml({ customer: `<email>${v}</email>` }),
  );
  probe('externalId', 200, ['x', 'x', 'x', 'x', '\u0085', ...WS], 124, 134, (v) => workItemXml({ externalId: v }));
  probe('externalId short', 100, ['x', 'x', 'x', '\u0085', ...WS], 0, 6, (v) => workItemXml({ externalId: v }));
  probe('source', 150, ['a', 'z', '0', '.', '_', '-', 'A', ...WS], 0, 6, (v) => workItemXml({ source: v }));
  probe('subject', 150, ['s', 's', 's', ...WS], 994, 1004, (v) => workItemXml({ subject: v }));
  probe('contactData value', 150, ['v', 'v', ' ', '\n', '\u2028', '\u00A0'], 1020, 1030, (v) =>
    workItemXml({ contactData: `<item key="WorkItemTask">t</item><item key="K">${v}</item>` }),
  );
  probe('customer name', 150, ['n', 'n', ' ', '\t', '\u00A0'], 252, 260, (v) => workItemXml({ customer: `<name>${v}</name>` }));
  probe('fileName', 300, ['a', '.', '.', ' ', '/', '\\', '\u202E', '\u200B', 'é', '\u00A0', '\u0085'], 0, 5, (v) =>
    workItemXml({}, { extra: `<attachment fileName="${v}" contentType="application/pdf">AA==</attachment>` }),
  );
  probe('contentType', 300, ['text', '/', 'plain', ';', ' ', '=', '"', 'a', '\t', '*', 'IMAGE', '\u00A0'], 1, 8, (v) =>
    workItemXml({}, { extra: `<attachment fileName="f" contentType="${v}">AA==</attachment>` }),
  );
  probe('social author', 150, ['a', 'a', ' ', '\u0085', '\u00A0'], 253, 259, (v) =>
    workItemXml({ entrance: 'social' }, { extra: `<social platform="facebook" pageId="1234" author="${v}"/>` }),
  );
  probe('dueAt', 300, ['2026', '-', '11', '02', '29', 'T', '12', '23', '24', ':', '00', '59', '60', 'Z', '+', '.5', ' '], 1, 12, (v) =>
    workItemXml({ dueAt: v }),
  );
  return probes;
}
