import type { UpdateRequest } from '../../../src/domain/work-item';
import { expectInvalid, parse } from './xml-test-helpers';

/** Contract 1.1 "Update": <updateWorkItem> as the XML adapter reads it. */

function update(inner: string, rootAttributes = 'version="1"'): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<updateWorkItem ${rootAttributes}>\n` +
    `  <externalId>CASE-1</externalId>\n  <source>bank-support</source>\n${inner}\n</updateWorkItem>\n`
  );
}

function expectUpdate(xml: string): UpdateRequest {
  const r = parse(xml);
  if (r.kind !== 'update') throw new Error(`expected an update, got ${JSON.stringify(r)}`);
  return r.update;
}

const inDays = (days: number): string => new Date(Date.now() + days * 86_400_000).toISOString();

describe('parseMessage: <updateWorkItem>', () => {
  it('reads every field it may carry, and only those given', () => {
    const u = expectUpdate(
      update(
        '<priority>8</priority><subject> New subject </subject><body>b</body><dueAt>2026-12-24T12:00:00Z</dueAt>' +
          '<customer><name>Ann</name><email/></customer>' +
          '<contactData><item key="CaseUrl">https://bank.example/cases/123/v2</item><item key="Obsolete"/></contactData>',
        'version="1" revision="3"',
      ),
    );
    expect(u).toEqual({
      externalId: 'CASE-1',
      source: 'bank-support',
      revision: 3,
      priority: 8,
      subject: 'New subject',
      body: 'b',
      dueAt: '2026-12-24T12:00:00Z',
      customer: { name: 'Ann', email: null },
      contactData: expect.any(Object),
    });
    expect({ ...u.contactData }).toEqual({ CaseUrl: 'https://bank.example/cases/123/v2', Obsolete: '' });
    expect(Object.getPrototypeOf(u.contactData)).toBeNull();
    expect(expectUpdate(update('<priority>2</priority>'))).toEqual({ externalId: 'CASE-1', source: 'bank-support', priority: 2 });
  });

  it('revision: a positive integer up to 2^53-1 (xs:positiveInteger forms: +, leading zeros, XML white space)', () => {
    for (const [text, value] of [
      ['1', 1],
      ['+7', 7],
      ['0003', 3],
      [' 12\t', 12],
      ['9007199254740991', Number.MAX_SAFE_INTEGER],
    ] as const) {
      expect(expectUpdate(update('<priority>8</priority>', `version="1" revision="${text}"`)).revision).toBe(value);
    }
    for (const bad of [
      '0',
      '-1',
      '1.5',
      '1e3',
      '0x10',
      'three',
      '',
      '9007199254740992',
      '99999999999999999999999999',
      '9'.repeat(4000),
      '1 2',
      '\u00A05',
    ]) {
      const e = expectInvalid(
        parse(update('<priority>8</priority>', `version="1" revision="${bad}"`)),
        'INVALID_FIELD',
        '/updateWorkItem/@revision',
      );
      expect(e.message).toMatch(/positive integer/);
    }
  });

  it('needs version="1", externalId, source and at least one field with a value', () => {
    expectInvalid(parse(update('<priority>8</priority>', '')), 'MISSING_FIELD', '/updateWorkItem/@version');
    expectInvalid(parse(update('<priority>8</priority>', 'version="2"')), 'UNKNOWN_ROOT');
    expectInvalid(
      parse('<updateWorkItem version="1"><source>bank-support</source><priority>8</priority></updateWorkItem>'),
      'MISSING_FIELD',
      '/updateWorkItem/externalId',
    );
    const e = expectInvalid(parse(update('')), 'MISSING_FIELD', '/updateWorkItem');
    expect(e.message).toMatch(/at least one of/);
    expectInvalid(parse(update('<subject> </subject><contactData/><customer/>')), 'MISSING_FIELD', '/updateWorkItem');
  });

  it('entrance, attachment, social and activateAt cannot change; unknown elements and attributes are refused', () => {
    for (const [inner, name] of [
      ['<entrance>support</entrance>', 'entrance'],
      ['<attachment fileName="a.pdf" contentType="application/pdf">JVBERi0=</attachment>', 'attachment'],
      ['<social platform="facebook" pageId="1234"/>', 'social'],
      [`<activateAt>${inDays(1)}</activateAt>`, 'activateAt'],
    ]) {
      const e = expectInvalid(parse(update(`<priority>8</priority>${inner}`)), 'INVALID_FIELD', `/updateWorkItem/${name}`);
      expect(e.message).toMatch(/cannot change/);
    }
    expectInvalid(parse(update('<priority>8</priority><colour>red</colour>')), 'INVALID_FIELD', '/updateWorkItem/colour');
    expectInvalid(parse(update('<priority>8</priority>', 'version="1" force="yes"')), 'INVALID_FIELD', '/updateWorkItem/@force');
    expectInvalid(parse(update('<priority>8</priority><priority>9</priority>')), 'INVALID_FIELD', '/updateWorkItem/priority[2]');
  });

  it('checks each field like <workItem> does, with /updateWorkItem paths', () => {
    expectInvalid(parse(update('<priority>11</priority>')), 'INVALID_FIELD', '/updateWorkItem/priority');
    expectInvalid(parse(update(`<subject>${'s'.repeat(999)}</subject>`)), 'INVALID_FIELD', '/updateWorkItem/subject');
    expectInvalid(parse(update('<dueAt>tomorrow</dueAt>')), 'INVALID_FIELD', '/updateWorkItem/dueAt');
    expectInvalid(parse(update('<customer><email>not-an-email</email></customer>')), 'INVALID_FIELD', '/updateWorkItem/customer/email');
    expectInvalid(
      parse(update('<contactData><item key="A">1</item><item key="A">2</item></contactData>')),
      'INVALID_FIELD',
      '/updateWorkItem/contactData/item[2]/@key',
    );
    const items51 = Array.from({ length: 51 }, (_, i) => `<item key="k${i}">v</item>`).join('');
    expectInvalid(parse(update(`<contactData>${items51}</contactData>`)), 'INVALID_FIELD', '/updateWorkItem/contactData');
    expectInvalid(parse(update('<contactData><item key="WorkItemTask"/></contactData>')), 'NOT_A_WORKITEM', '/updateWorkItem/contactData');
    expectInvalid(parse(update('<contactData><item key="WorkItemTask">  </item></contactData>')), 'NOT_A_WORKITEM');
  });

  it('the update root is named in the unknown-root message', () => {
    const e = expectInvalid(parse('<order version="1"/>'), 'UNKNOWN_ROOT');
    expect(e.message).toMatch(/<updateWorkItem>/);
  });

  it('echoes externalId and source of a rejected update', () => {
    const r = parse(update('<priority>99</priority>'));
    expect(r).toMatchObject({ kind: 'invalid', externalId: 'CASE-1', source: 'bank-support' });
  });
});
