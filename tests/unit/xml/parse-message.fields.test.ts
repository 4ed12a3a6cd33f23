import { expectCancel, expectInvalid, expectItem, parse, withLimits, workItemXml } from './xml-test-helpers';

describe('parseMessage: roots and versions', () => {
  it('accepts a minimal work item and applies the default priority', () => {
    const item = expectItem(parse(workItemXml()));
    expect(item).toMatchObject({ externalId: 'CASE-1', source: 'bank-support', entrance: 'loans', priority: 5 });
    expect(item).not.toHaveProperty('body');
    expect(item).not.toHaveProperty('customer');
    expect(item).not.toHaveProperty('attachment');
    expect(item).not.toHaveProperty('social');
  });

  it('rejects an unknown root with UNKNOWN_ROOT', () => {
    expectInvalid(parse('<order version="1"><id>1</id></order>'), 'UNKNOWN_ROOT', '/order');
  });

  it('requires version on <workItem> (MISSING_FIELD)', () => {
    expectInvalid(parse(workItemXml({}, { rootAttributes: '' })), 'MISSING_FIELD', '/workItem/@version');
  });

  it('rejects another version with UNKNOWN_ROOT "unsupported version"', () => {
    const error = expectInvalid(parse(workItemXml({}, { rootAttributes: 'version="2"' })), 'UNKNOWN_ROOT', '/workItem/@version');
    expect(error.message).toMatch(/unsupported version/);
  });

  it('accepts <cancelWorkItem> with or without version', () => {
    const body = '<externalId> CASE-1 </externalId><source>bank-support</source>';
    expect(expectCancel(parse(`<cancelWorkItem>${body}</cancelWorkItem>`))).toEqual({ externalId: 'CASE-1', source: 'bank-support' });
    expect(expectCancel(parse(`<cancelWorkItem version="1">${body}</cancelWorkItem>`)).externalId).toBe('CASE-1');
  });

  it('rejects <cancelWorkItem> with another version, missing fields or unknown children', () => {
    expectInvalid(
      parse('<cancelWorkItem version="3"><externalId>a</externalId><source>s</source></cancelWorkItem>'),
      'UNKNOWN_ROOT',
      '/cancelWorkItem/@version',
    );
    expectInvalid(parse('<cancelWorkItem><source>s</source></cancelWorkItem>'), 'MISSING_FIELD', '/cancelWorkItem/externalId');
    expectInvalid(parse('<cancelWorkItem><externalId>a</externalId></cancelWorkItem>'), 'MISSING_FIELD', '/cancelWorkItem/source');
    expectInvalid(
      parse('<cancelWorkItem><externalId>a</externalId><source>s</source><reason>x</reason></cancelWorkItem>'),
      'INVALID_FIELD',
      '/cancelWorkItem/reason',
    );
  });
});

describe('parseMessage: structure (nothing is silently ignored)', () => {
  it('rejects unknown child elements with their path', () => {
    expectInvalid(parse(workItemXml({ colour: 'blue' })), 'INVALID_FIELD', '/workItem/colour');
    expectInvalid(parse(workItemXml({ customer: '<name>A</name><age>3</age>' })), 'INVALID_FIELD', '/workItem/customer/age');
    expectInvalid(parse(workItemXml({ subject: 'a <b>bold</b> word' })), 'INVALID_FIELD', '/workItem/subject/b');
  });

  it('reads restart="true|false" on <workItem> (contract 1.2); anything else is INVALID_FIELD at /workItem/@restart', () => {
    expect(expectItem(parse(workItemXml({}, { rootAttributes: 'version="1" restart="true"' }))).restart).toBe(true);
    expect(expectItem(parse(workItemXml({}, { rootAttributes: 'version="1" restart="false"' })))).not.toHaveProperty('restart');
    expect(expectItem(parse(workItemXml()))).not.toHaveProperty('restart');
    for (const v of ['yes', '1', 'TRUE', '']) {
      expectInvalid(parse(workItemXml({}, { rootAttributes: `version="1" restart="${v}"` })), 'INVALID_FIELD', '/workItem/@restart');
    }
  });

  it('rejects unknown attributes anywhere with their path', () => {
    expectInvalid(parse(workItemXml({}, { rootAttributes: 'version="1" lang="en"' })), 'INVALID_FIELD', '/workItem/@lang');
    expectInvalid(parse(workItemXml({}, { extra: '<subject2/>' })), 'INVALID_FIELD', '/workItem/subject2');
    const xml = workItemXml({ contactData: '<item key="WorkItemTask" type="x">t</item>' });
    expectInvalid(parse(xml), 'INVALID_FIELD', '/workItem/contactData/item[1]/@type');
    expectInvalid(
      parse(workItemXml({}, { extra: '<social platform="facebook" pageId="1234" likes="3"/>' })),
      'INVALID_FIELD',
      '/workItem/social/@likes',
    );
  });

  it('rejects duplicate singleton elements', () => {
    const error = expectInvalid(parse(workItemXml({}, { extra: '<subject>again</subject>' })), 'INVALID_FIELD', '/workItem/subject[2]');
    expect(error.message).toMatch(/only once/);
    expectInvalid(parse(workItemXml({ customer: '<name>A</name><name>B</name>' })), 'INVALID_FIELD', '/workItem/customer/name[2]');
    expectInvalid(parse(workItemXml({}, { extra: '<contactData/>' })), 'INVALID_FIELD', '/workItem/contactData[2]');
  });

  it('rejects mixed content in containers', () => {
    expectInvalid(parse(workItemXml({}, { extra: 'stray text' })), 'INVALID_FIELD', '/workItem');
    expectInvalid(parse(workItemXml({ customer: 'Anna<name>A</name>' })), 'INVALID_FIELD', '/workItem/customer');
    expectInvalid(parse(workItemXml({ contactData: 'x<item key="WorkItemTask">t</item>' })), 'INVALID_FIELD', '/workItem/contactData');
    expectInvalid(
      parse(workItemXml({}, { extra: '<social platform="facebook" pageId="1234">hi</social>' })),
      'INVALID_FIELD',
      '/workItem/social',
    );
  });

  it('accepts whitespace and comments between elements', () => {
    const xml = workItemXml({ customer: '\n  <!-- c -->\n  <name>A</name>\n' });
    expect(expectItem(parse(xml)).customer).toEqual({ name: 'A' });
  });

  it('reports structural problems before field problems', () => {
    expectInvalid(parse(workItemXml({ externalId: null, colour: 'x' })), 'INVALID_FIELD', '/workItem/colour');
  });
});

describe('parseMessage: field rules', () => {
  describe('externalId', () => {
    it('is required (absent or empty)', () => {
      expectInvalid(parse(workItemXml({ externalId: null })), 'MISSING_FIELD', '/workItem/externalId');
      expectInvalid(parse(workItemXml({ externalId: '  ' })), 'MISSING_FIELD', '/workItem/externalId');
    });
    it('is trimmed, at most 128 characters, without control characters', () => {
      expect(expectItem(parse(workItemXml({ externalId: '\n  CASE-9 \n' }))).externalId).toBe('CASE-9');
      expect(expectItem(parse(workItemXml({ externalId: 'x'.repeat(128) }))).externalId).toHaveLength(128);
      expectInvalid(parse(workItemXml({ externalId: 'x'.repeat(129) })), 'INVALID_FIELD', '/workItem/externalId');
      expectInvalid(parse(workItemXml({ externalId: 'a\tb' })), 'INVALID_FIELD', '/workItem/externalId');
      expectInvalid(parse(workItemXml({ externalId: 'a&#10;b' })), 'INVALID_FIELD', '/workItem/externalId');
    });
  });

  describe('source', () => {
    it('is required and matches [a-z0-9._-]{1,64}', () => {
      expectInvalid(parse(workItemXml({ source: null })), 'MISSING_FIELD', '/workItem/source');
      expectInvalid(parse(workItemXml({ source: 'Bank Support' })), 'INVALID_FIELD', '/workItem/source');
      expectInvalid(parse(workItemXml({ source: 'a'.repeat(65) })), 'INVALID_FIELD', '/workItem/source');
      expect(expectItem(parse(workItemXml({ source: ' a.b_c-1 ' }))).source).toBe('a.b_c-1');
    });
  });

  describe('entrance', () => {
    it('is required and must be configured', () => {
      expectInvalid(parse(workItemXml({ entrance: null })), 'MISSING_FIELD', '/workItem/entrance');
      const error = expectInvalid(parse(workItemXml({ entrance: 'mortgages' })), 'UNKNOWN_ENTRANCE', '/workItem/entrance');
      expect(error.message).toContain('mortgages');
      expect(expectItem(parse(workItemXml({ entrance: ' support ' }))).entrance).toBe('support');
    });
    it('cannot reach Object.prototype members', () => {
      expectInvalid(parse(workItemXml({ entrance: 'constructor' })), 'UNKNOWN_ENTRANCE');
    });
  });

  describe('priority', () => {
    it.each([
      ['1', 1],
      ['10', 10],
      [' 7 ', 7],
      ['', 5],
    ])('accepts %j as %d', (text, expected) => {
      expect(expectItem(parse(workItemXml({ priority: text }))).priority).toBe(expected);
    });
    it.each(['0', '11', '-1', '+3', '2.5', '1e1', 'high', '0x5', '5 5'])('rejects %j', (text) => {
      const error = expectInvalid(parse(workItemXml({ priority: text })), 'INVALID_FIELD', '/workItem/priority');
      expect(error.message).toBe('priority must be an integer 1..10');
    });
  });

  describe('subject', () => {
    it('is required, trimmed and at most 998 characters', () => {
      expectInvalid(parse(workItemXml({ subject: null })), 'MISSING_FIELD', '/workItem/subject');
      expectInvalid(parse(workItemXml({ subject: '' })), 'MISSING_FIELD', '/workItem/subject');
      expect(expectItem(parse(workItemXml({ subject: '  Hello  ' }))).subject).toBe('Hello');
      expect(expectItem(parse(workItemXml({ subject: 's'.repeat(998) }))).subject).toHaveLength(998);
      expectInvalid(parse(workItemXml({ subject: 's'.repeat(999) })), 'INVALID_FIELD', '/workItem/subject');
    });
  });

  describe('body', () => {
    it('is optional, trimmed at the ends only', () => {
      expect(expectItem(parse(workItemXml({ body: '\n  line 1\n\n  line 2  \n' }))).body).toBe('line 1\n\n  line 2');
      expect(expectItem(parse(workItemXml({ body: '   ' })))).not.toHaveProperty('body');
    });
    it('is at most 65536 characters', () => {
      const opts = withLimits({ maxTextChars: 100_000 });
      expect(expectItem(parse(workItemXml({ body: 'b'.repeat(65_536) }), opts)).body).toHaveLength(65_536);
      expectInvalid(parse(workItemXml({ body: 'b'.repeat(65_537) }), opts), 'INVALID_FIELD', '/workItem/body');
    });
  });

  describe('dueAt', () => {
    it.each([
      '2026-11-24T12:00:00Z',
      '2026-11-24T12:00:00.5Z',
      '2026-11-24T14:00:00+02:00',
      '2026-11-24T07:30:00-04:30',
      '2024-02-29T00:00:00Z',
    ])('accepts %s and passes it on unchanged', (text) => {
      expect(expectItem(parse(workItemXml({ dueAt: text }))).dueAt).toBe(text);
    });
    it.each([
      '2026-11-24',
      '2026-11-24T12:00:00',
      '2026-11-24T12:00Z',
      '2026-11-24 12:00:00Z',
      '2026-02-30T12:00:00Z',
      '2025-02-29T12:00:00Z',
      '2026-13-01T12:00:00Z',
      '2026-11-24T24:00:00Z',
      '2026-11-24T12:00:00+0200',
      '2026-11-24T12:00:00+25:00',
      'tomorrow',
      '1732449600',
    ])('rejects %s', (text) => {
      expectInvalid(parse(workItemXml({ dueAt: text })), 'INVALID_FIELD', '/workItem/dueAt');
    });
  });

  describe('customer', () => {
    it('maps the present fields and treats empty ones as absent', () => {
      const item = expectItem(parse(workItemXml({ customer: '<name> Anna </name><email/><phone>+46 (70) 123-45</phone>' })));
      expect(item.customer).toEqual({ name: 'Anna', phone: '+46 (70) 123-45' });
      expect(expectItem(parse(workItemXml({ customer: '<name/><email/><phone/>' })))).not.toHaveProperty('customer');
    });
    it('validates name length, email and phone', () => {
      expectInvalid(parse(workItemXml({ customer: `<name>${'n'.repeat(257)}</name>` })), 'INVALID_FIELD', '/workItem/customer/name');
      for (const email of ['anna', 'anna@', 'anna@example', 'a b@example.com', 'a@b@example.com']) {
        expectInvalid(parse(workItemXml({ customer: `<email>${email}</email>` })), 'INVALID_FIELD', '/workItem/customer/email');
      }
      for (const phone of ['12', '+46-70-abc', '++46701234567', '1'.repeat(33)]) {
        expectInvalid(parse(workItemXml({ customer: `<phone>${phone}</phone>` })), 'INVALID_FIELD', '/workItem/customer/phone');
      }
    });
  });

  describe('contactData', () => {
    const items = (n: number): string =>
      ['<item key="WorkItemTask">t</item>', ...Array.from({ length: n - 1 }, (_, i) => `<item key="k${i}">v</item>`)].join('');

    it('keeps items in a null-prototype record with trimmed values', () => {
      const item = expectItem(
        parse(workItemXml({ contactData: '<item key="WorkItemTask"> t </item><item key="Empty"></item><item key="a.b-c_D">x y</item>' })),
      );
      expect({ ...item.contactData }).toEqual({ WorkItemTask: 't', Empty: '', 'a.b-c_D': 'x y' });
      expect(item.taskType).toBe('t');
    });
    it('allows 50 items and rejects 51', () => {
      expect(Object.keys(expectItem(parse(workItemXml({ contactData: items(50) }))).contactData)).toHaveLength(50);
      expectInvalid(parse(workItemXml({ contactData: items(51) })), 'INVALID_FIELD', '/workItem/contactData');
    });
    it('requires a key matching the key pattern', () => {
      const at2 = '/workItem/contactData/item[2]/@key';
      expectInvalid(parse(workItemXml({ contactData: '<item key="WorkItemTask">t</item><item>v</item>' })), 'MISSING_FIELD', at2);
      expectInvalid(parse(workItemXml({ contactData: '<item key="WorkItemTask">t</item><item key="">v</item>' })), 'MISSING_FIELD', at2);
      for (const key of ['has space', 'ä', 'a/b', 'k'.repeat(101)]) {
        expectInvalid(
          parse(workItemXml({ contactData: `<item key="WorkItemTask">t</item><item key="${key}">v</item>` })),
          'INVALID_FIELD',
          at2,
        );
      }
    });
    it('rejects duplicate keys', () => {
      const xml = workItemXml({ contactData: '<item key="WorkItemTask">t</item><item key="A">1</item><item key="A">2</item>' });
      const error = expectInvalid(parse(xml), 'INVALID_FIELD', '/workItem/contactData/item[3]/@key');
      expect(error.message).toMatch(/duplicate/);
    });
    it('limits values to 1024 characters', () => {
      expect(expectItem(parse(workItemXml({ contactData: `<item key="WorkItemTask">${'v'.repeat(1024)}</item>` }))).taskType).toHaveLength(
        1024,
      );
      const xml = workItemXml({ contactData: `<item key="WorkItemTask">t</item><item key="Long">${'v'.repeat(1025)}</item>` });
      expectInvalid(parse(xml), 'INVALID_FIELD', '/workItem/contactData/item[2]');
    });
    it('rejects other child elements', () => {
      expectInvalid(
        parse(workItemXml({ contactData: '<item key="WorkItemTask">t</item><entry key="a">b</entry>' })),
        'INVALID_FIELD',
        '/workItem/contactData/entry',
      );
      expectInvalid(
        parse(workItemXml({ contactData: '<item key="WorkItemTask">t<x/></item>' })),
        'INVALID_FIELD',
        '/workItem/contactData/item[1]/x',
      );
    });
  });

  describe('work-item task key (NOT_A_WORKITEM)', () => {
    it.each([
      ['no contactData', null],
      ['empty contactData', ''],
      ['no task key', '<item key="CaseUrl">u</item>'],
      ['an empty task value', '<item key="WorkItemTask"></item>'],
      ['a blank task value', '<item key="WorkItemTask">  \n </item>'],
      ['a differently cased key', '<item key="workitemtask">x</item>'],
    ])('rejects an item with %s', (_label, contactData) => {
      expectInvalid(parse(workItemXml({ contactData })), 'NOT_A_WORKITEM', '/workItem/contactData');
    });
  });

  describe('echo of externalId and source on rejection', () => {
    it('returns both when they are valid', () => {
      expect(parse(workItemXml({ priority: '99' }))).toMatchObject({ kind: 'invalid', externalId: 'CASE-1', source: 'bank-support' });
    });
    it('omits values that are themselves invalid', () => {
      const result = parse(workItemXml({ source: 'Not Valid' }));
      expect(result).toMatchObject({ kind: 'invalid', externalId: 'CASE-1' });
      expect(result).not.toHaveProperty('source');
    });
    it('echoes them for cancel requests too', () => {
      const result = parse('<cancelWorkItem version="9"><externalId>E</externalId><source>s</source></cancelWorkItem>');
      expect(result).toMatchObject({ kind: 'invalid', externalId: 'E', source: 's' });
    });
  });
});
