import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { validateWithXsd } from '../../helpers/xsd-validator';

/**
 * Every sample in examples/ that is meant to be good is valid against schemas/workitem-v1.xsd, with the root its
 * name promises: the messages a sender publishes and the notification the service publishes. (The differential test
 * compares the service's parser with the XSD on the inbound ones; a notification is not inbound, so it is checked
 * here.) The bad-* samples are bad on purpose.
 */
const ROOT = path.resolve(__dirname, '../../..');
const XSD = path.join(ROOT, 'schemas/workitem-v1.xsd');
const EXAMPLES = path.join(ROOT, 'examples');

const EXPECTED_ROOTS: Record<string, string> = {
  'loan-review.xml': 'workItem',
  'voicemail-with-audio.xml': 'workItem',
  'facebook-post.xml': 'workItem',
  'cancel.xml': 'cancelWorkItem',
  'get.xml': 'getWorkItem',
  'hold.xml': 'holdWorkItem',
  'resume.xml': 'resumeWorkItem',
  'notification-ended.xml': 'workItemNotification',
};

describe('examples/*.xml against schemas/workitem-v1.xsd', () => {
  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.xml'));
  const good = files.filter((f) => !f.startsWith('bad-')).sort();

  it('names the root of every good sample (a new sample is added here)', () => {
    expect(good).toEqual(Object.keys(EXPECTED_ROOTS).sort());
  });

  it('finds every good sample valid, with the root its name promises', () => {
    const results = validateWithXsd(
      XSD,
      good.map((f) => ({ name: f, body: readFileSync(path.join(EXAMPLES, f)) })),
    );
    const verdicts = good.map((f) => {
      const r = results.get(f)!;
      return { file: f, valid: r.valid, root: r.root, errors: r.errors };
    });
    expect(verdicts).toEqual(good.map((f) => ({ file: f, valid: true, root: EXPECTED_ROOTS[f], errors: [] })));
  });
});
