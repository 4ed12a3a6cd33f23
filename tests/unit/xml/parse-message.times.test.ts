import { expectInvalid, expectItem, parse, withOpts, workItemXml } from './xml-test-helpers';

/** Contract 1.1: <expiresAt> (workItem, updateWorkItem) — times relative to arrival. */

const inDays = (days: number): string => new Date(Date.now() + days * 86_400_000).toISOString();
const inSeconds = (s: number): string => new Date(Date.now() + s * 1000).toISOString();

function update(inner: string): string {
  return `<updateWorkItem version="1"><externalId>CASE-1</externalId><source>bank-support</source>${inner}</updateWorkItem>`;
}

/** Far, odd and malformed dates: each must be INVALID_FIELD, never a crash or a wrapped-around date. */
const MALFORMED = [
  'soon',
  '',
  '2026-12-01T08:00:00', // no zone
  '2026-12-01 08:00:00Z', // space instead of T
  '2026-02-30T08:00:00Z', // no such day
  '2026-12-01T24:00:00Z',
  '2026-12-01T23:59:60Z', // leap second
  '2026-12-01T08:00:00+24:00',
  '+275760-09-13T00:00:00Z', // the last Date, with an expanded year
  '-000001-01-01T00:00:00Z',
  '20261201T080000Z', // basic format
  `2026-12-01T08:00:00.${'9'.repeat(10)}Z`, // more than nanoseconds
  '２０２６-12-01T08:00:00Z', // full-width digits
  '1e20',
  '0',
];

describe('<expiresAt>', () => {
  it('in <workItem>: kept as written when in the future and at most 365 days ahead; empty counts as absent', () => {
    const at = inSeconds(3);
    expect(expectItem(parse(workItemXml({ expiresAt: at }))).expiresAt).toBe(at);
    expect(expectItem(parse(workItemXml({ expiresAt: `  ${at}\n` }))).expiresAt).toBe(at);
    const zoned = new Date(Date.now() + 86_400_000).toISOString().slice(0, 19) + '+05:30';
    expect(expectItem(parse(workItemXml({ expiresAt: zoned }))).expiresAt).toBe(zoned);
    expect(expectItem(parse(workItemXml({ expiresAt: inDays(364.9) }))).expiresAt).toBeDefined();
    expect(expectItem(parse(workItemXml({ expiresAt: '' }))).expiresAt).toBeUndefined();
  });

  it('in the past, now, or more than 365 days ahead → INVALID_FIELD naming the rule', () => {
    for (const [at, why] of [
      [inSeconds(-1), /in the future/],
      [inDays(-400), /in the future/],
      ['1970-01-01T00:00:00Z', /in the future/],
      ['0001-01-01T00:00:00Z', /in the future/],
      [inDays(365.01), /365 days/],
      ['9999-12-31T23:59:59Z', /365 days/],
    ] as const) {
      const e = expectInvalid(parse(workItemXml({ expiresAt: at })), 'INVALID_FIELD', '/workItem/expiresAt');
      expect(e.message).toMatch(why);
    }
  });

  it('malformed or far-fetched date forms → INVALID_FIELD (workItem and update)', () => {
    for (const bad of MALFORMED.filter((b) => b !== '')) {
      expectInvalid(parse(workItemXml({ expiresAt: bad })), 'INVALID_FIELD', '/workItem/expiresAt');
      expectInvalid(parse(update(`<expiresAt>${bad}</expiresAt>`)), 'INVALID_FIELD', '/updateWorkItem/expiresAt');
    }
  });

  it('in <updateWorkItem>: the same rules; empty counts as absent (no field to change)', () => {
    const at = inDays(3);
    const r = parse(update(`<expiresAt>${at}</expiresAt>`));
    expect(r).toMatchObject({ kind: 'update', update: { expiresAt: at } });
    expectInvalid(parse(update(`<expiresAt>${inDays(-1)}</expiresAt>`)), 'INVALID_FIELD', '/updateWorkItem/expiresAt');
    expectInvalid(parse(update('<expiresAt/>')), 'MISSING_FIELD', '/updateWorkItem');
  });

  it('may occur once', () => {
    expectInvalid(
      parse(workItemXml({}, { extra: `<expiresAt>${inDays(1)}</expiresAt><expiresAt>${inDays(2)}</expiresAt>` })),
      'INVALID_FIELD',
      '/workItem/expiresAt[2]',
    );
  });
});

describe('<activateAt>', () => {
  it('in <workItem>: at most schedule.maxDays (default 30) ahead; now or in the past is allowed (routed at once)', () => {
    for (const when of [inSeconds(3), inDays(29.9), inDays(-1), '2001-01-01T00:00:00Z', '0001-01-01T00:00:00Z']) {
      expect(expectItem(parse(workItemXml({ activateAt: when }))).activateAt).toBe(when);
    }
    const e = expectInvalid(parse(workItemXml({ activateAt: inDays(30.01) })), 'INVALID_FIELD', '/workItem/activateAt');
    expect(e.message).toMatch(/30 days ahead \(schedule.maxDays\)/);
    expectInvalid(parse(workItemXml({ activateAt: '9999-12-31T23:59:59Z' })), 'INVALID_FIELD', '/workItem/activateAt');
    expect(expectItem(parse(workItemXml({ activateAt: '' }))).activateAt).toBeUndefined();
  });

  it('schedule.maxDays comes from the configuration', () => {
    const opts = withOpts({ schedule: { maxDays: 2 } } as never);
    expect(expectItem(parse(workItemXml({ activateAt: inDays(1.9) }), opts)).activateAt).toBeDefined();
    const e = expectInvalid(parse(workItemXml({ activateAt: inDays(2.1) }), opts), 'INVALID_FIELD', '/workItem/activateAt');
    expect(e.message).toMatch(/2 days ahead/);
  });

  it('malformed or far-fetched date forms → INVALID_FIELD', () => {
    for (const bad of MALFORMED.filter((b) => b !== '')) {
      expectInvalid(parse(workItemXml({ activateAt: bad })), 'INVALID_FIELD', '/workItem/activateAt');
    }
  });

  it('with expiresAt: both are kept (an item may expire while still scheduled)', () => {
    const item = expectItem(parse(workItemXml({ activateAt: inDays(2), expiresAt: inDays(1) })));
    expect(item.activateAt).toBeDefined();
    expect(item.expiresAt).toBeDefined();
  });
});
