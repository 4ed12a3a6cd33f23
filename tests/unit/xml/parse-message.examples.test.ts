import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { OPTS, expectCancel, expectInvalid, expectItem, parse, examplesDir, withOpts } from './xml-test-helpers';

const dir = examplesDir();
const example = (name: string): Buffer => readFileSync(path.join(dir, name));

describe(`sample messages (${dir})`, () => {
  it('loan-review.xml is a work item with every field mapped', () => {
    const item = expectItem(parse(example('loan-review.xml')));
    expect(item).toEqual({
      externalId: 'CASE-2026-000123',
      source: 'bank-support',
      entrance: 'loans',
      priority: 3,
      subject: 'Loan application needs review',
      body: expect.stringMatching(/^Customer 19800101-1234 applied .* customer's page\.$/),
      dueAt: '2026-11-24T12:00:00Z',
      customer: { name: 'Anna Svensson', email: 'anna@example.com', phone: '+46701234567' },
      contactData: expect.anything(),
      taskType: 'loan-review',
    });
    expect({ ...item.contactData }).toEqual({
      WorkItemTask: 'loan-review',
      CaseUrl: 'https://bank.example/cases/123',
      Segment: 'private',
    });
    expect(Object.getPrototypeOf(item.contactData)).toBeNull();
  });

  it('voicemail-with-audio.xml carries the decoded 44-byte WAV with its sha256', () => {
    const item = expectItem(parse(example('voicemail-with-audio.xml')));
    expect(item.entrance).toBe('support');
    expect(item.taskType).toBe('voicemail');
    const attachment = item.attachment!;
    expect(attachment.fileName).toBe('message.wav');
    expect(attachment.contentType).toBe('audio/wav');
    expect(attachment.data.length).toBe(44);
    expect(attachment.data.subarray(0, 4).toString('latin1')).toBe('RIFF');
    expect(attachment.sha256).toBe(createHash('sha256').update(attachment.data).digest('hex'));
  });

  it('facebook-post.xml is accepted when page 1234 is configured, with the page name', () => {
    const item = expectItem(parse(example('facebook-post.xml')));
    expect(item.entrance).toBe('social');
    expect(item.social).toEqual({
      platform: 'facebook',
      pageId: '1234',
      postId: '1234_987',
      author: 'Jane Doe',
      pageName: 'Bank on Facebook',
      platformName: 'Facebook',
    });
  });

  it('facebook-post.xml is SOCIAL_NOT_CONFIGURED without the page, echoing externalId and source', () => {
    const result = parse(example('facebook-post.xml'), withOpts({ social: {} }));
    expectInvalid(result, 'SOCIAL_NOT_CONFIGURED', '/workItem/social');
    expect(result).toMatchObject({ externalId: 'fb-1234_987', source: 'social-bridge' });
  });

  it('cancel.xml is a cancel request', () => {
    expect(expectCancel(parse(example('cancel.xml')))).toEqual({ externalId: 'CASE-2026-000123', source: 'bank-support' });
  });

  it('bad-missing-task-key.xml is NOT_A_WORKITEM, echoing externalId and source', () => {
    const result = parse(example('bad-missing-task-key.xml'));
    expectInvalid(result, 'NOT_A_WORKITEM', '/workItem/contactData');
    expect(result).toMatchObject({ externalId: 'CASE-2026-000124', source: 'bank-support' });
  });

  it('bad-doctype.xml is FORBIDDEN_XML', () => {
    expectInvalid(parse(example('bad-doctype.xml')), 'FORBIDDEN_XML');
  });

  it('uses the configured task key', () => {
    const result = parse(example('loan-review.xml'), { ...OPTS, taskKey: 'Segment' });
    expect(expectItem(result).taskType).toBe('private');
  });
});
