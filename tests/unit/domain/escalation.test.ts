import { describeRules, dueSteps, escalateOnArrival, escalationPlan, raiseTo } from '../../../src/domain/escalation';
import type { EscalationRule } from '../../../src/domain/task-types';

const H = 3_600_000;
const rules: EscalationRule[] = [
  { offsetMs: -2 * H, text: 'before PT2H', priority: 7 },
  { offsetMs: 0, text: 'after PT0S', priority: 9 },
  { offsetMs: H, text: 'after PT1H', priority: 10 },
];
const DUE = Date.parse('2026-12-01T12:00:00.000Z');

describe('escalation plan', () => {
  it("puts the task type's rules at their instants relative to dueAt", () => {
    expect(escalationPlan(rules, DUE)).toEqual([
      { atMs: DUE - 2 * H, priority: 7, rule: 'before PT2H' },
      { atMs: DUE, priority: 9, rule: 'after PT0S' },
      { atMs: DUE + H, priority: 10, rule: 'after PT1H' },
    ]);
  });

  it('is empty without a dueAt or without rules', () => {
    expect(escalationPlan(rules, undefined)).toEqual([]);
    expect(escalationPlan(rules, Number.NaN)).toEqual([]);
    expect(escalationPlan([], DUE)).toEqual([]);
  });

  it('due steps: from the first not fired, those whose time has come', () => {
    const plan = escalationPlan(rules, DUE);
    expect(dueSteps(plan, 0, DUE - 3 * H)).toEqual([]);
    expect(dueSteps(plan, 0, DUE).map((s) => s.rule)).toEqual(['before PT2H', 'after PT0S']);
    expect(dueSteps(plan, 1, DUE + 2 * H).map((s) => s.rule)).toEqual(['after PT0S', 'after PT1H']);
    expect(dueSteps(plan, 3, DUE + 2 * H)).toEqual([]);
  });

  it('several due rules are one raise to the highest; a priority not lower is not raised', () => {
    const plan = escalationPlan(rules, DUE);
    expect(raiseTo(5, plan)).toBe(10);
    expect(raiseTo(9, plan.slice(0, 2))).toBeUndefined();
    expect(raiseTo(8, plan.slice(0, 2))).toBe(9);
    expect(raiseTo(5, [])).toBeUndefined();
  });

  it('on arrival, rules whose time passed are folded into the priority; the rest wait', () => {
    const plan = escalationPlan(rules, DUE);
    expect(escalateOnArrival(plan, 5, DUE - 3 * H)).toEqual({ done: 0, fired: [], priority: 5 });
    expect(escalateOnArrival(plan, 5, DUE - H)).toMatchObject({ done: 1, priority: 7 });
    // Fired, even when they raise nothing: a sender's priority 10 stays.
    expect(escalateOnArrival(plan, 10, DUE)).toMatchObject({ done: 2, priority: 10 });
    expect(describeRules(escalateOnArrival(plan, 5, DUE).fired)).toBe('before PT2H, after PT0S');
  });
});
