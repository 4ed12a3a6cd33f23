import type { EscalationRule } from './task-types';

/**
 * Escalation (contract 1.2 "Task types"): an item's task-type rules made absolute against its dueAt. Pure: the accept
 * and update use cases make the plan, the state store keeps it with the item and its due timer applies it.
 */

/** One rule of an item's plan: at `atMs` (dueAt ± the rule's offset) its priority rises to `priority` if lower. */
export interface EscalationStep {
  atMs: number;
  priority: number;
  /** The rule as configured, e.g. `before PT2H` (history, logs). */
  rule: string;
}

/**
 * The item's plan: its task type's rules (already in time order with rising priorities, checked at start) at their
 * instants. Empty without a dueAt or without rules.
 */
export function escalationPlan(rules: readonly EscalationRule[], dueAtMs: number | undefined): EscalationStep[] {
  if (dueAtMs === undefined || Number.isNaN(dueAtMs)) return [];
  return rules.map((r) => ({ atMs: dueAtMs + r.offsetMs, priority: r.priority, rule: r.text }));
}

/** The rules of a plan that are due at `nowMs`, from the `done`-th on (the ones before it fired already). */
export function dueSteps(plan: readonly EscalationStep[], done: number, nowMs: number): EscalationStep[] {
  const due: EscalationStep[] = [];
  for (let i = done; i < plan.length && plan[i].atMs <= nowMs; i++) due.push(plan[i]);
  return due;
}

/**
 * What the due rules do to a priority: several due at once (an arrival after some rule times, a downtime) collapse into
 * one raise to the highest of them. Priority only rises by rule: `to` is undefined when none is higher.
 */
export function raiseTo(priority: number, due: readonly EscalationStep[]): number | undefined {
  const top = Math.max(...due.map((s) => s.priority));
  return due.length > 0 && top > priority ? top : undefined;
}

/**
 * An arriving item's plan: the rules whose time already passed apply at once, folded into the priority it is stored
 * with (its contact.created carries it; no contact.updated follows the arrival); the rest wait for their time.
 */
export function escalateOnArrival(
  plan: readonly EscalationStep[],
  priority: number,
  nowMs: number,
): { done: number; fired: EscalationStep[]; priority: number } {
  const fired = dueSteps(plan, 0, nowMs);
  return { done: fired.length, fired, priority: raiseTo(priority, fired) ?? priority };
}

/** `before PT2H, after PT0S`: the rules that fired, for a history step or a log line. */
export function describeRules(steps: readonly Pick<EscalationStep, 'rule'>[]): string {
  return steps.map((s) => s.rule).join(', ');
}
