import { copyContactData } from './contact-data';
import { buildPreview, type ContactRecord } from './contact-event';
import { workItemError, type WorkItemError } from './error-codes';
import type { Customer, SocialRef, UpdateRequest } from './work-item';

/** The most contact-data items an item may hold, after an update's merge as in a new item. */
export const MAX_CONTACT_DATA_ITEMS = 50;

/** What an update is applied to: the stored record and the item's stored facts that are not part of the event. */
export interface UpdateBase {
  record: ContactRecord;
  expiresAt?: string;
  /** sha256 (hex) of the item's body as last received; unknown for items stored before 1.1. */
  bodySha?: string;
}

export interface UpdateOptions {
  taskKey: string;
  /** The configured display names of the item's social page, for the preview (as a new item gets them). */
  socialNames?: Pick<SocialRef, 'pageName' | 'platformName'>;
  /** sha256 (hex) of `update.body`, when given (hashing is not the domain's business). */
  bodySha?: string;
}

export type UpdateMerge =
  { ok: true; record: ContactRecord; changed: string[]; expiresAt?: string; bodySha?: string } | { ok: false; error: WorkItemError };

const PATH = '/updateWorkItem';
const CUSTOMER_FIELDS = ['name', 'email', 'phone'] as const;

/**
 * Pure: the record after `update`, and what changed (`priority`, `subject`, `body`, `dueAt`, `expiresAt`,
 * `customer.<field>`, `contactData.<key>`, in that order; a field sent with its current value is not a change).
 * contactData is merged (an empty value removes the key), customer fields likewise (an empty element removes the
 * field). The limits of a new item apply to the result: at most 50 contact-data items, and the task key keeps a value.
 */
export function mergeUpdate(base: UpdateBase, update: UpdateRequest, opts: UpdateOptions): UpdateMerge {
  const old = base.record;
  const changed: string[] = [];
  const record: ContactRecord = { ...old, presentation: { ...old.presentation } };

  if (update.priority !== undefined && update.priority !== old.priority) {
    record.priority = update.priority;
    changed.push('priority');
  }
  const subjectChanged = update.subject !== undefined && update.subject !== old.subject;
  if (subjectChanged) {
    record.subject = update.subject as string;
    changed.push('subject');
  }
  let bodySha = base.bodySha;
  if (update.body !== undefined) {
    const same = opts.bodySha !== undefined && opts.bodySha === base.bodySha;
    if (!same) changed.push('body');
    bodySha = opts.bodySha;
  }
  if (update.dueAt !== undefined && update.dueAt !== old.dueAt) {
    record.dueAt = update.dueAt;
    changed.push('dueAt');
  }
  let expiresAt = base.expiresAt;
  if (update.expiresAt !== undefined && update.expiresAt !== base.expiresAt) {
    expiresAt = update.expiresAt;
    changed.push('expiresAt');
  }

  if (update.customer) {
    const customer: Customer = { ...old.customer };
    for (const field of CUSTOMER_FIELDS) {
      const value = update.customer[field];
      if (value === undefined || (value ?? undefined) === customer[field]) continue;
      if (value === null) delete customer[field];
      else customer[field] = value;
      changed.push(`customer.${field}`);
    }
    if (Object.keys(customer).length > 0) record.customer = customer;
    else delete record.customer;
  }

  const data = copyContactData(old.contactData);
  if (update.contactData) {
    for (const [key, value] of Object.entries(update.contactData)) {
      const had = Object.hasOwn(data, key);
      if (value === '') {
        if (!had) continue;
        delete data[key];
      } else {
        if (had && data[key] === value) continue;
        data[key] = value;
      }
      changed.push(`contactData.${key}`);
    }
  }
  record.contactData = data;
  const count = Object.keys(data).length;
  if (count > MAX_CONTACT_DATA_ITEMS) {
    return fail(
      'INVALID_FIELD',
      `contactData would hold ${count} items after the update; at most ${MAX_CONTACT_DATA_ITEMS} are allowed`,
      `${PATH}/contactData`,
    );
  }
  const taskType = Object.hasOwn(data, opts.taskKey) ? data[opts.taskKey] : '';
  if (taskType === '') {
    return fail('NOT_A_WORKITEM', `the update would leave no value for the work-item task key "${opts.taskKey}"`, `${PATH}/contactData`);
  }
  record.taskType = taskType;

  // The preview is built from the body (the service keeps only its hash) and, for social items, the subject when
  // there is no body: rebuilt from a new body, or from the new subject when the stored preview is the body-less one.
  const social: SocialRef | undefined = old.social && { ...old.social, ...opts.socialNames };
  if (update.body !== undefined) {
    record.presentation.preview = buildPreview({ body: update.body, subject: record.subject, social });
  } else if (social && subjectChanged && old.presentation.preview === buildPreview({ subject: old.subject, social })) {
    record.presentation.preview = buildPreview({ subject: record.subject, social });
  }

  return {
    ok: true,
    record,
    changed,
    ...(expiresAt !== undefined && { expiresAt }),
    ...(bodySha !== undefined && { bodySha }),
  };
}

function fail(code: WorkItemError['code'], message: string, path: string): UpdateMerge {
  return { ok: false, error: workItemError(code, message, path) };
}
