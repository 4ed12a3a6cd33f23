import {
  applyTaskTypeDefaults,
  missingRequiredData,
  parseIsoDuration,
  taskTypeRule,
  type TaskTypeRule,
} from '../../../src/domain/task-types';
import type { WorkItem } from '../../../src/domain/work-item';

const H = 3_600_000;
const D = 24 * H;

describe('parseIsoDuration', () => {
  it.each([
    ['P2D', 2 * D],
    ['PT4H', 4 * H],
    ['PT30M', 30 * 60_000],
    ['PT45S', 45_000],
    ['PT0.5S', 500],
    ['PT1.25S', 1250],
    ['P1DT12H', 36 * H],
    ['P1DT2H3M4S', D + 2 * H + 3 * 60_000 + 4000],
    ['PT0S', 0],
    ['P0D', 0],
    ['P2W', 14 * D],
    ['PT36H', 36 * H],
    ['P3650D', 3650 * D],
  ])('%s is %d ms', (text, ms) => {
    expect(parseIsoDuration(text)).toBe(ms);
  });

  it.each([
    ['', 'empty'],
    ['P', 'no component'],
    ['PT', 'T without a time component'],
    ['P1DT', 'T without a time component'],
    ['P1Y', 'years vary in length'],
    ['P1M', 'months vary in length'],
    ['P1Y2M3D', 'years and months'],
    ['-P1D', 'negative'],
    ['P-1D', 'negative component'],
    ['p1d', 'lower case'],
    ['1D', 'no P'],
    ['PT1H30', 'number without a unit'],
    ['PT1M1H', 'components out of order'],
    ['P1W2D', 'weeks mixed with days'],
    ['PT1.5H', 'fraction other than seconds'],
    ['PT0,5S', 'comma fraction'],
    ['PT1.0001S', 'below milliseconds'],
    ['P1D ', 'trailing space'],
    ['P3651D', 'longer than 3650 days'],
    ['P1000W', 'longer than 3650 days'],
  ])('rejects %j (%s)', (text) => {
    expect(parseIsoDuration(text)).toBeUndefined();
  });
});

const rule = (r: Partial<TaskTypeRule>): TaskTypeRule => ({ requiredContactData: [], escalation: [], ...r });
const item = (over: Partial<WorkItem> = {}): WorkItem => ({
  externalId: 'E',
  source: 's',
  entrance: 'loans',
  priority: 5,
  subject: 'x',
  contactData: { WorkItemTask: 'loan-review' },
  taskType: 'loan-review',
  ...over,
});

describe('task type defaults', () => {
  const at = Date.parse('2026-12-07T10:00:00.000Z');

  it('fills dueAt and expiresAt from receivedAt', () => {
    const out = applyTaskTypeDefaults(item(), rule({ dueIn: { text: 'P2D', ms: 2 * D }, expiresIn: { text: 'P30D', ms: 30 * D } }), at);
    expect(out).toMatchObject({ dueAt: '2026-12-09T10:00:00.000Z', expiresAt: '2027-01-06T10:00:00.000Z' });
  });

  it("keeps the sender's own dueAt and expiresAt", () => {
    const sent = item({ dueAt: '2026-12-08T00:00:00Z', expiresAt: '2026-12-20T00:00:00+01:00' });
    const out = applyTaskTypeDefaults(sent, rule({ dueIn: { text: 'P2D', ms: 2 * D }, expiresIn: { text: 'P30D', ms: 30 * D } }), at);
    expect(out).toBe(sent);
  });

  it('changes nothing without a rule or without durations', () => {
    const sent = item();
    expect(applyTaskTypeDefaults(sent, undefined, at)).toBe(sent);
    expect(applyTaskTypeDefaults(sent, rule({ priority: 8 }), at)).toBe(sent);
  });

  it('finds the first missing or empty required key', () => {
    const r = rule({ requiredContactData: ['CaseUrl', 'Branch'] });
    expect(missingRequiredData({ CaseUrl: 'u', Branch: 'b' }, r)).toBeUndefined();
    expect(missingRequiredData({ Branch: 'b' }, r)).toBe('CaseUrl');
    expect(missingRequiredData({ CaseUrl: 'u', Branch: '' }, r)).toBe('Branch');
    expect(missingRequiredData({}, undefined)).toBeUndefined();
  });

  it('looks up own keys only', () => {
    expect(taskTypeRule({}, 'constructor')).toBeUndefined();
    expect(taskTypeRule(undefined, 'x')).toBeUndefined();
    expect(taskTypeRule({ x: rule({}) }, 'x')).toEqual(rule({}));
  });
});
