import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../../src/config/config';

function withFile(content: unknown): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wi-tt-'));
  const file = path.join(dir, 'c.json');
  writeFileSync(file, JSON.stringify(content));
  return file;
}

const load = (taskTypes: unknown, extra: Record<string, unknown> = {}) =>
  loadConfig({ WORKITEM_CONFIG: withFile({ entrances: { loans: {}, support: {} }, taskTypes, ...extra }) });

const SAMPLE = path.resolve(__dirname, '../../../examples/task-types.sample.json');

describe('config: taskTypes', () => {
  it('is empty and not strict by default', () => {
    const cfg = loadConfig({});
    expect(cfg.taskTypes).toEqual({});
    expect(cfg.taskTypesStrict).toBe(false);
  });

  it('reads the shipped example, durations in ms and escalation offsets relative to dueAt', () => {
    const cfg = loadConfig({ WORKITEM_CONFIG: SAMPLE });
    expect(cfg.taskTypesStrict).toBe(false);
    expect(cfg.taskTypes['loan-review']).toEqual({
      entrance: 'loans',
      priority: 5,
      dueIn: { text: 'P2D', ms: 2 * 86_400_000 },
      expiresIn: { text: 'P30D', ms: 30 * 86_400_000 },
      requiredContactData: ['CaseUrl'],
      escalation: [
        { offsetMs: -2 * 3_600_000, text: 'before PT2H', priority: 8 },
        { offsetMs: 0, text: 'after PT0S', priority: 10 },
      ],
    });
    expect(cfg.taskTypes.voicemail).toEqual({
      entrance: 'support',
      priority: 6,
      dueIn: { text: 'PT4H', ms: 4 * 3_600_000 },
      requiredContactData: [],
      escalation: [],
    });
  });

  it('reads taskTypesStrict', () => {
    expect(load({}, { taskTypesStrict: true }).taskTypesStrict).toBe(true);
  });

  it.each<[string, unknown, RegExp]>([
    ['an unknown entrance', { t: { entrance: 'mortgages' } }, /taskTypes\.t\.entrance: "mortgages" is not a configured entrance/],
    ['a priority above 10', { t: { priority: 11 } }, /taskTypes\.t\.priority/],
    ['a priority below 1', { t: { priority: 0 } }, /taskTypes\.t\.priority/],
    ['a fractional priority', { t: { priority: 5.5 } }, /taskTypes\.t\.priority/],
    ['a bad dueIn', { t: { dueIn: '2 days' } }, /taskTypes\.t\.dueIn: must be an ISO-8601 duration/],
    ['months in expiresIn', { t: { expiresIn: 'P1M' } }, /taskTypes\.t\.expiresIn: .*no years or months/],
    ['expiresIn of 0', { t: { expiresIn: 'PT0S' } }, /taskTypes\.t\.expiresIn: must be more than 0/],
    ['expiresIn over 365 days', { t: { expiresIn: 'P366D' } }, /taskTypes\.t\.expiresIn: .*365 days/],
    ['dueIn after expiresIn', { t: { dueIn: 'P3D', expiresIn: 'P2D' } }, /taskTypes\.t\.dueIn: P3D is after expiresIn P2D/],
    ['a bad required key', { t: { requiredContactData: ['bad key'] } }, /taskTypes\.t\.requiredContactData\.0/],
    ['an unknown field', { t: { dueAt: 'P1D' } }, /taskTypes\.t: .*dueAt/],
    ['a task type with padding', { ' t': {} }, /taskTypes\. t: .*white space/],
    [
      'a rule with both before and after',
      { t: { escalation: [{ before: 'PT1H', after: 'PT1H', priority: 6 }] } },
      /taskTypes\.t\.escalation\.0: needs exactly one/,
    ],
    ['a rule with neither', { t: { escalation: [{ priority: 6 }] } }, /taskTypes\.t\.escalation\.0: needs exactly one/],
    ['a rule with a bad duration', { t: { escalation: [{ after: 'P1Y', priority: 6 }] } }, /taskTypes\.t\.escalation\.0\.after/],
    ['a rule priority of 11', { t: { escalation: [{ after: 'PT1H', priority: 11 }] } }, /taskTypes\.t\.escalation\.0\.priority/],
    [
      'rules out of time order',
      {
        t: {
          escalation: [
            { after: 'PT1H', priority: 6 },
            { before: 'PT1H', priority: 7 },
          ],
        },
      },
      /taskTypes\.t\.escalation\.1: "before PT1H" must come later than the rule before it \("after PT1H"\)/,
    ],
    [
      'priorities that do not rise',
      {
        t: {
          escalation: [
            { before: 'PT1H', priority: 8 },
            { after: 'PT0S', priority: 8 },
          ],
        },
      },
      /taskTypes\.t\.escalation\.1\.priority: 8 must be higher/,
    ],
    [
      'a rule after the expiry',
      {
        t: {
          dueIn: 'P2D',
          expiresIn: 'P3D',
          escalation: [
            { before: 'PT2H', priority: 8 },
            { after: 'P1DT1S', priority: 9 },
          ],
        },
      },
      /taskTypes\.t\.escalation\.1: "after P1DT1S" .*after the expiry \(expiresIn P3D\)/,
    ],
  ])('rejects %s, naming the key', (_what, taskTypes, re) => {
    let error: unknown;
    try {
      load(taskTypes);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(re);
    // exit 2 names the config file's variable (main.ts: every ConfigError)
    expect((error as ConfigError).setting).toBe('WORKITEM_CONFIG');
  });

  it('accepts a rule exactly at the expiry, and rules without dueIn/expiresIn (an item may bring its own dueAt)', () => {
    expect(() => load({ t: { dueIn: 'P2D', expiresIn: 'P3D', escalation: [{ after: 'P1D', priority: 9 }] } })).not.toThrow();
    expect(() =>
      load({
        t: {
          escalation: [
            { before: 'P1D', priority: 6 },
            { after: 'P10D', priority: 7 },
          ],
        },
      }),
    ).not.toThrow();
  });

  it('rejects taskTypesStrict that is not a boolean', () => {
    expect(() => load({}, { taskTypesStrict: 'yes' })).toThrow(/taskTypesStrict/);
  });
});
