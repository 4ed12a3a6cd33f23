import { ERROR_CODES, ErrorCode } from '../../../src/domain/error-codes';
import { expectInvalid, fixture, parse, withOpts, workItemXml } from './xml-test-helpers';

/** One representative message per code the XML adapter produces; the rest belong to the application. */
const SAMPLES: Record<string, { xml: () => string | Buffer; opts?: Parameters<typeof parse>[1] }> = {
  MALFORMED_XML: { xml: () => '<workItem version="1"><subject>x</workItem>' },
  FORBIDDEN_XML: { xml: () => fixture('xxe-external-entity.xml') },
  TOO_LARGE: { xml: () => workItemXml({ body: 'x'.repeat(70_000) }) },
  TOO_DEEP: { xml: () => workItemXml({ customer: '<name><a><b><c><d><e><f><g/></f></e></d></c></b></a></name>' }) },
  UNKNOWN_ROOT: { xml: () => '<order/>' },
  MISSING_FIELD: { xml: () => workItemXml({ subject: null }) },
  INVALID_FIELD: { xml: () => workItemXml({ priority: '11' }) },
  NOT_A_WORKITEM: { xml: () => workItemXml({ contactData: '<item key="CaseUrl">u</item>' }) },
  UNKNOWN_ENTRANCE: { xml: () => workItemXml({ entrance: 'nowhere' }) },
  UNKNOWN_TASK_TYPE: { xml: () => workItemXml(), opts: withOpts({ taskTypes: {}, taskTypesStrict: true }) },
  ATTACHMENT_REJECTED: {
    xml: () => workItemXml({}, { extra: '<attachment fileName="a.exe" contentType="application/x-msdownload">TVo=</attachment>' }),
  },
  SOCIAL_NOT_CONFIGURED: {
    xml: () => workItemXml({ entrance: 'social' }, { extra: '<social platform="facebook" pageId="1234"/>' }),
    opts: withOpts({ social: {} }),
  },
};

/** Produced after parsing, by the application (state, parking, sender identity, the broker's dead-lettering). */
const APPLICATION_CODES: readonly ErrorCode[] = [
  'NOT_FOUND',
  'PARK_LIMIT',
  'EXPIRED',
  'SENDER_NOT_ALLOWED',
  'STALE_UPDATE',
  'NOT_HELD',
  'EXPIRED_IN_QUEUE',
  'DELIVERY_LIMIT',
];

describe('parseMessage: error catalog', () => {
  it('has a sample for every code that is not the application’s', () => {
    const expected = ERROR_CODES.filter((code) => !APPLICATION_CODES.includes(code));
    expect(Object.keys(SAMPLES).sort()).toEqual([...expected].sort());
  });

  it.each(Object.entries(SAMPLES))('produces %s', (code, sample) => {
    const error = expectInvalid(parse(sample.xml(), sample.opts), code as ErrorCode);
    expect(error.message).not.toBe('');
    expect(error.path).toMatch(/^\//);
  });
});

describe('parseMessage: what a rejection still tells', () => {
  it('reads entrance and task type of an item rejected after parsing, so the rejection is counted where it belongs', () => {
    const r = parse(workItemXml({ priority: '11' }));
    expect(r).toMatchObject({ kind: 'invalid', entrance: 'loans', taskType: 'loan-review' });
  });

  it('leaves out an entrance that is not configured and a task type that is not there', () => {
    const r = parse(workItemXml({ entrance: 'nowhere', contactData: '<item key="CaseUrl">u</item>' }));
    expect(r.kind).toBe('invalid');
    expect(r).not.toHaveProperty('entrance');
    expect(r).not.toHaveProperty('taskType');
  });
});
