import type { TaskTypeRule } from '../../../src/domain/task-types';
import { expectInvalid, expectItem, parse, withOpts, workItemXml } from './xml-test-helpers';

const rule = (r: Partial<TaskTypeRule>): TaskTypeRule => ({ requiredContactData: [], escalation: [], ...r });
const TASK_TYPES = {
  'loan-review': rule({ entrance: 'support', priority: 7, requiredContactData: ['CaseUrl'] }),
  'no-entrance': rule({ priority: 2 }),
};
const OPTS = withOpts({ taskTypes: TASK_TYPES });
const data = (type: string, extra = '<item key="CaseUrl">https://x/1</item>'): string => `<item key="WorkItemTask">${type}</item>${extra}`;

describe('parseMessage: task types', () => {
  it('fills a missing <entrance> and <priority> from the task type', () => {
    const item = expectItem(parse(workItemXml({ entrance: null, contactData: data('loan-review') }), OPTS));
    expect(item).toMatchObject({ entrance: 'support', priority: 7, taskType: 'loan-review' });
    // an empty element counts as absent, like everywhere else
    expect(expectItem(parse(workItemXml({ entrance: '', priority: '', contactData: data('loan-review') }), OPTS))).toMatchObject({
      entrance: 'support',
      priority: 7,
    });
  });

  it("keeps the sender's entrance and priority", () => {
    const item = expectItem(parse(workItemXml({ entrance: 'loans', priority: '3', contactData: data('loan-review') }), OPTS));
    expect(item).toMatchObject({ entrance: 'loans', priority: 3 });
  });

  it('padded task type values find their rule (contact data is trimmed)', () => {
    const item = expectItem(parse(workItemXml({ entrance: null, contactData: data('  loan-review\n') }), OPTS));
    expect(item.entrance).toBe('support');
  });

  it('without a default entrance <entrance> stays required', () => {
    for (const type of ['no-entrance', 'unlisted']) {
      const error = expectInvalid(parse(workItemXml({ entrance: null, contactData: data(type) }), OPTS), 'MISSING_FIELD');
      expect(error.path).toBe('/workItem/entrance');
    }
    expect(expectItem(parse(workItemXml({ contactData: data('no-entrance') }), OPTS)).priority).toBe(2);
    expect(expectItem(parse(workItemXml({ contactData: data('unlisted') }), OPTS)).priority).toBe(5);
  });

  it('rejects missing or empty required contact data with the path of the item', () => {
    for (const extra of ['', '<item key="CaseUrl"> </item>']) {
      const r = parse(workItemXml({ entrance: null, contactData: data('loan-review', extra) }), OPTS);
      const error = expectInvalid(r, 'MISSING_FIELD');
      expect(error.path).toBe("/workItem/contactData/item[@key='CaseUrl']");
      expect(error.message).toContain('CaseUrl');
      // the rejection is counted under the default entrance
      expect(r).toMatchObject({ entrance: 'support', taskType: 'loan-review' });
    }
  });

  it('strict: an unlisted task type is UNKNOWN_TASK_TYPE at the task key', () => {
    const strict = withOpts({ taskTypes: TASK_TYPES, taskTypesStrict: true });
    const error = expectInvalid(parse(workItemXml({ contactData: data('unlisted') }), strict), 'UNKNOWN_TASK_TYPE');
    expect(error.path).toBe("/workItem/contactData/item[@key='WorkItemTask']");
    expect(error.message).toContain('"unlisted"');
    expect(expectItem(parse(workItemXml({ contactData: data('no-entrance') }), strict)).taskType).toBe('no-entrance');
    // not strict: any task type is welcome
    expect(expectItem(parse(workItemXml({ contactData: data('unlisted') }), OPTS)).taskType).toBe('unlisted');
    // a task type named like an Object property is just data
    expectInvalid(parse(workItemXml({ contactData: data('constructor') }), strict), 'UNKNOWN_TASK_TYPE');
  });

  it('a default entrance meets the social page check like a sent one', () => {
    const opts = withOpts({ taskTypes: { post: rule({ entrance: 'social' }) } });
    const xml = (entrance: string | null) =>
      workItemXml({ entrance, contactData: data('post', '') }, { extra: '<social platform="facebook" pageId="1234"/>' });
    expect(expectItem(parse(xml(null), opts)).social).toMatchObject({ pageId: '1234' });
    expectInvalid(parse(xml('loans'), opts), 'INVALID_FIELD');
  });
});
