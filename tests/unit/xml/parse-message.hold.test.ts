import { parseMessage } from '../../../src/adapters/xml/parse-message';
import type { HoldRequest, ResumeRequest } from '../../../src/domain/work-item';
import { OPTS, expectInvalid, parse } from './xml-test-helpers';

/** Contract 1.2 "Hold and resume": <holdWorkItem> and <resumeWorkItem> as the XML adapter reads them. */

const IDS = '<externalId> CASE-1 </externalId><source>bank-support</source>';

function hold(inner: string, rootAttributes = 'version="1"'): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<holdWorkItem ${rootAttributes}>\n${inner}\n</holdWorkItem>\n`;
}

function resume(inner: string, rootAttributes = 'version="1"'): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<resumeWorkItem ${rootAttributes}>\n${inner}\n</resumeWorkItem>\n`;
}

function expectHold(xml: string): HoldRequest {
  const r = parse(xml);
  if (r.kind !== 'hold') throw new Error(`expected a hold, got ${JSON.stringify(r)}`);
  return r.hold;
}

function expectResume(xml: string): ResumeRequest {
  const r = parse(xml);
  if (r.kind !== 'resume') throw new Error(`expected a resume, got ${JSON.stringify(r)}`);
  return r.resume;
}

const inDays = (days: number): string => new Date(Date.now() + days * 86_400_000).toISOString();

describe('parseMessage: <holdWorkItem>', () => {
  it('reads externalId and source (trimmed), until as written and reason; version is optional, as for a cancel', () => {
    const until = inDays(1);
    expect(expectHold(hold(`${IDS}<until>${until}</until><reason> Waiting for the customer's documents </reason>`))).toEqual({
      externalId: 'CASE-1',
      source: 'bank-support',
      until,
      reason: "Waiting for the customer's documents",
    });
    expect(expectHold(hold(IDS, ''))).toEqual({ externalId: 'CASE-1', source: 'bank-support' });
    expect(expectHold(hold(`${IDS}<until/><reason>  </reason>`))).toEqual({ externalId: 'CASE-1', source: 'bank-support' });
  });

  it('the contract sample (until with a zone, a reason)', () => {
    const r = parseMessage(
      Buffer.from(
        '<?xml version="1.0" encoding="UTF-8"?>\n<holdWorkItem version="1">\n  <externalId>CASE-2026-000123</externalId>\n' +
          '  <source>bank-support</source>\n  <until>2026-12-08T08:00:00Z</until>\n' +
          "  <reason>Waiting for the customer's documents</reason>\n</holdWorkItem>\n",
      ),
      { ...OPTS, schedule: { maxDays: 36_500 } } as typeof OPTS,
    );
    expect(r).toEqual({
      kind: 'hold',
      hold: {
        externalId: 'CASE-2026-000123',
        source: 'bank-support',
        until: '2026-12-08T08:00:00Z',
        reason: "Waiting for the customer's documents",
      },
    });
  });

  it('until: the rules of activateAt (RFC 3339 with a zone, at most schedule.maxDays ahead; now or past is fine)', () => {
    expect(expectHold(hold(`${IDS}<until>2020-01-01T00:00:00Z</until>`)).until).toBe('2020-01-01T00:00:00Z');
    expect(expectHold(hold(`${IDS}<until>${inDays(29)}</until>`)).until).toBeDefined();
    for (const bad of ['tomorrow', '2026-12-08T08:00:00', '2026-02-30T08:00:00Z', '2026-12-08']) {
      const e = expectInvalid(parse(hold(`${IDS}<until>${bad}</until>`)), 'INVALID_FIELD', '/holdWorkItem/until');
      expect(e.message).toMatch(/until must be an ISO-8601 date-time with a time zone/);
    }
    const far = expectInvalid(parse(hold(`${IDS}<until>${inDays(31)}</until>`)), 'INVALID_FIELD', '/holdWorkItem/until');
    expect(far.message).toBe('until must be at most 30 days ahead (schedule.maxDays)');
    const opts = { ...OPTS, schedule: { maxDays: 60 } } as typeof OPTS;
    expect(parse(hold(`${IDS}<until>${inDays(31)}</until>`), opts).kind).toBe('hold');
  });

  it('reason: at most 256 characters; line breaks and tabs allowed, other control characters not', () => {
    expect(expectHold(hold(`${IDS}<reason>${'r'.repeat(256)}</reason>`)).reason).toHaveLength(256);
    const long = expectInvalid(parse(hold(`${IDS}<reason>${'r'.repeat(257)}</reason>`)), 'INVALID_FIELD', '/holdWorkItem/reason');
    expect(long.message).toBe('reason must be at most 256 characters');
    expect(expectHold(hold(`${IDS}<reason>line one\n\tline two</reason>`)).reason).toBe('line one\n\tline two');
    expectInvalid(parse(hold(`${IDS}<reason>bell \u0085 next line</reason>`)), 'INVALID_FIELD', '/holdWorkItem/reason');
  });

  it('needs externalId and source, each valid; echoes what is valid in the rejection', () => {
    expectInvalid(parse(hold('<source>bank-support</source>')), 'MISSING_FIELD', '/holdWorkItem/externalId');
    expectInvalid(parse(hold('<externalId>CASE-1</externalId>')), 'MISSING_FIELD', '/holdWorkItem/source');
    expectInvalid(parse(hold('<externalId>CASE-1</externalId><source>Bad Source!</source>')), 'INVALID_FIELD', '/holdWorkItem/source');
    const r = parse(hold(`<externalId>CASE-1</externalId><source>bank-support</source><until>soon</until>`));
    expect(r).toMatchObject({ kind: 'invalid', externalId: 'CASE-1', source: 'bank-support' });
  });

  it('refuses anything else, with the codes and paths of a cancel', () => {
    expectInvalid(parse(hold(`${IDS}<entrance>loans</entrance>`)), 'INVALID_FIELD', '/holdWorkItem/entrance');
    expectInvalid(parse(hold(IDS, 'version="1" revision="2"')), 'INVALID_FIELD', '/holdWorkItem/@revision');
    expectInvalid(parse(hold(`${IDS}<until>${inDays(1)}</until><until>${inDays(2)}</until>`)), 'INVALID_FIELD', '/holdWorkItem/until[2]');
    expectInvalid(parse(hold(`text${IDS}`)), 'INVALID_FIELD', '/holdWorkItem');
    expectInvalid(parse(hold(IDS, 'version="2"')), 'UNKNOWN_ROOT', '/holdWorkItem/@version');
  });
});

describe('parseMessage: <resumeWorkItem>', () => {
  it('reads externalId and source (trimmed); version is optional', () => {
    expect(expectResume(resume(IDS))).toEqual({ externalId: 'CASE-1', source: 'bank-support' });
    expect(expectResume(resume(IDS, ''))).toEqual({ externalId: 'CASE-1', source: 'bank-support' });
  });

  it('needs externalId and source; refuses anything else (an until or a reason belongs to a hold)', () => {
    expectInvalid(parse(resume('<source>bank-support</source>')), 'MISSING_FIELD', '/resumeWorkItem/externalId');
    expectInvalid(parse(resume('<externalId>CASE-1</externalId>')), 'MISSING_FIELD', '/resumeWorkItem/source');
    expectInvalid(parse(resume(`${IDS}<reason>x</reason>`)), 'INVALID_FIELD', '/resumeWorkItem/reason');
    expectInvalid(parse(resume(`${IDS}<until>${inDays(1)}</until>`)), 'INVALID_FIELD', '/resumeWorkItem/until');
    expectInvalid(parse(resume(IDS, 'version="9"')), 'UNKNOWN_ROOT', '/resumeWorkItem/@version');
  });

  it('names both new roots when the root is unknown', () => {
    const e = expectInvalid(parse('<pauseWorkItem version="1"/>'), 'UNKNOWN_ROOT');
    expect(e.message).toMatch(/<holdWorkItem> or <resumeWorkItem>/);
  });
});
