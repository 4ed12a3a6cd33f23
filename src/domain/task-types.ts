import type { WorkItem } from './work-item';

/**
 * Task types (operator configuration `taskTypes`): per value of the task key, defaults for an item that leaves a field
 * out, contact data it must carry, and escalation rules. Pure: the config module builds these, the XML mapping applies
 * the entrance and priority defaults and the checks, the accept use case the times (relative to the stored receivedAt).
 */

/** An ISO-8601 duration as configured, and its length. */
export interface Duration {
  text: string;
  ms: number;
}

/**
 * A priority raise relative to the item's dueAt (`before` or `after` it). Validated and stored only: acting on it is a
 * later part of the task-types issue.
 */
export interface EscalationRule {
  /** Offset from dueAt: negative for `before`, positive (or zero) for `after`. */
  offsetMs: number;
  /** The configured `before`/`after` text, e.g. `before PT2H`. */
  text: string;
  priority: number;
}

export interface TaskTypeRule {
  /** Default entrance: with it `<entrance>` may be left out. A configured entrance (checked at start). */
  entrance?: string;
  /** Default priority when `<priority>` is absent (otherwise 5). */
  priority?: number;
  /** Default dueAt = receivedAt + dueIn. */
  dueIn?: Duration;
  /** Default expiresAt = receivedAt + expiresIn (more than 0, at most 365 days: the limits of a sent expiresAt). */
  expiresIn?: Duration;
  /** contactData keys the item must carry with a non-empty value, else MISSING_FIELD. */
  requiredContactData: readonly string[];
  escalation: readonly EscalationRule[];
}

export type TaskTypes = Readonly<Record<string, TaskTypeRule>>;

export const DEFAULT_PRIORITY = 5;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
export const DAY_MS = 24 * HOUR;
/** Longest duration accepted (about 10 years): keeps every receivedAt + duration a valid date. */
export const MAX_DURATION_DAYS = 3650;

const WEEKS = /^P(\d{1,6})W$/;
const DAY_TIME = /^P(?:(\d{1,6})D)?(?:T(?:(\d{1,9})H)?(?:(\d{1,9})M)?(?:(\d{1,9})(?:\.(\d{1,3}))?S)?)?$/;

export const DURATION_SYNTAX =
  'an ISO-8601 duration PnW or PnDTnHnMnS, e.g. P2D, PT4H, P1DT12H, PT0S (no years or months: their length varies; use days)';

/**
 * A strict ISO-8601 duration: `PnW`, or `PnDTnHnMnS` with at least one component (and at least one after a `T`).
 * Days are 24 hours and weeks 7 days: times are UTC instants, so no calendar is involved. Years and months are not
 * accepted (a month is 28 to 31 days). Only seconds may have a fraction (up to milliseconds). No sign, no commas.
 * Returns the length in ms, or undefined when the text is not such a duration or longer than MAX_DURATION_DAYS.
 */
export function parseIsoDuration(text: string): number | undefined {
  let ms: number;
  const w = WEEKS.exec(text);
  if (w) {
    ms = Number(w[1]) * 7 * DAY_MS;
  } else {
    const m = DAY_TIME.exec(text);
    if (!m || text === 'P' || text.endsWith('T')) return undefined;
    const [, d, h, min, s, frac] = m;
    ms =
      Number(d ?? 0) * DAY_MS +
      Number(h ?? 0) * HOUR +
      Number(min ?? 0) * MINUTE +
      Number(s ?? 0) * SECOND +
      (frac === undefined ? 0 : Number(frac.padEnd(3, '0')));
  }
  return ms <= MAX_DURATION_DAYS * DAY_MS ? ms : undefined;
}

/** The rule of a task type, if configured (own keys only: a task type such as `constructor` is plain data). */
export function taskTypeRule(taskTypes: TaskTypes | undefined, taskType: string): TaskTypeRule | undefined {
  return taskTypes !== undefined && Object.hasOwn(taskTypes, taskType) ? taskTypes[taskType] : undefined;
}

/** The first required contactData key the item lacks (absent or empty), if any. */
export function missingRequiredData(contactData: Readonly<Record<string, string>>, rule: TaskTypeRule | undefined): string | undefined {
  return rule?.requiredContactData.find((key) => !Object.hasOwn(contactData, key) || contactData[key] === '');
}

/**
 * The time defaults of a task type, at arrival: dueAt = receivedAt + dueIn and expiresAt = receivedAt + expiresIn, for
 * an item without its own. `receivedAtMs` is the receivedAt stored with the item, so the two always agree. Returns the
 * item itself when nothing is filled in.
 */
export function applyTaskTypeDefaults(item: WorkItem, rule: TaskTypeRule | undefined, receivedAtMs: number): WorkItem {
  if (!rule) return item;
  const dueAt = item.dueAt === undefined && rule.dueIn ? new Date(receivedAtMs + rule.dueIn.ms).toISOString() : undefined;
  const expiresAt = item.expiresAt === undefined && rule.expiresIn ? new Date(receivedAtMs + rule.expiresIn.ms).toISOString() : undefined;
  if (dueAt === undefined && expiresAt === undefined) return item;
  return { ...item, ...(dueAt !== undefined && { dueAt }), ...(expiresAt !== undefined && { expiresAt }) };
}

/** How many task types outside the configured ones keep their name as a metric label (per instance). */
export const MAX_UNCONFIGURED_TASK_TYPE_LABELS = 50;
export const OTHER_TASK_TYPE = 'other';

/**
 * The task type as a metric label: a configured one (`taskTypes`) keeps its name, and so do the first
 * MAX_UNCONFIGURED_TASK_TYPE_LABELS others seen; any later new one is `other`. Senders name task types freely (unless
 * taskTypesStrict), and each label value multiplies the series of every per-task-type metric (the time-to-end
 * histogram has 35 per task type and entrance), so the label set stays bounded whatever is sent. The report counters
 * in Redis keep every name.
 */
export class TaskTypeLabels {
  private readonly configured: ReadonlySet<string>;
  private readonly seen = new Set<string>();

  constructor(
    configured: Iterable<string> = [],
    private readonly max = MAX_UNCONFIGURED_TASK_TYPE_LABELS,
  ) {
    this.configured = new Set(configured);
  }

  label(taskType: string): string {
    if (taskType === '' || this.configured.has(taskType) || this.seen.has(taskType)) return taskType;
    if (this.seen.size >= this.max) return OTHER_TASK_TYPE;
    this.seen.add(taskType);
    return taskType;
  }
}
