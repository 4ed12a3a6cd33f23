import { AppConfig } from '../../config/config';
import {
  CONTACT_DATA_KEY_PATTERN,
  CancelRequest,
  Customer,
  HoldRequest,
  ParsedMessage,
  ResumeRequest,
  StatusQuery,
  UpdateRequest,
  WorkItem,
} from '../../domain/work-item';
import { holdReasonProblem } from '../../domain/hold';
import { NAME_PATTERN, NAME_SYNTAX } from '../../domain/names';
import { DEFAULT_PRIORITY, missingRequiredData, taskTypeRule, type TaskTypes } from '../../domain/task-types';
import { readAttachment } from './attachment';
import {
  checkEmail,
  checkMaxLength,
  checkNoControlChars,
  checkPhone,
  child,
  hasControlChars,
  optionalText,
  parseActivateAt,
  parseDueAt,
  parseHoldUntil,
  parseExpiresAt,
  parsePriority,
  parseRevision,
  requiredText,
} from './fields';
import { readSocial } from './social';
import { CANCEL_SPEC, GET_SPEC, HOLD_SPEC, RESUME_SPEC, UPDATE_SPEC, WORK_ITEM_SPEC, checkStructure } from './structure';
import { Echo, quote, reject } from './rejection';
import { attributePath, childPath } from './xml-path';
import { XmlNode } from './xml-node';

export interface MapOptions {
  taskKey: string;
  entrances: ReadonlySet<string>;
  social: AppConfig['social'];
  attachments: AppConfig['attachments'];
  /** `schedule.maxDays`: how far ahead activateAt may be (default 30). */
  schedule?: AppConfig['schedule'];
  /** The arrival time expiresAt and activateAt are checked against (default Date.now). */
  now?: () => number;
  /** Task types: default entrance and priority, required contact data (none: no defaults). */
  taskTypes?: TaskTypes;
  /** true: a task type not in taskTypes is rejected with UNKNOWN_TASK_TYPE. */
  taskTypesStrict?: boolean;
}

const DEFAULT_SCHEDULE_MAX_DAYS = 30;
const SUPPORTED_VERSION = '1';
const MAX_EXTERNAL_ID = 128;
const MAX_SUBJECT = 998;
const MAX_BODY = 65_536;
const MAX_CUSTOMER_NAME = 256;
const MAX_CONTACT_DATA_ITEMS = 50;
const MAX_CONTACT_DATA_VALUE = 1024;

/** Turns a parsed document into a work item or a cancel request; throws a Rejection for the first problem. */
export function mapMessage(root: XmlNode, opts: MapOptions): ParsedMessage {
  if (root.name === 'workItem') return { kind: 'workItem', item: mapWorkItem(root, opts) };
  if (root.name === 'cancelWorkItem') return { kind: 'cancel', cancel: mapCancel(root) };
  if (root.name === 'updateWorkItem') return { kind: 'update', update: mapUpdate(root, opts) };
  if (root.name === 'getWorkItem') return { kind: 'get', query: mapGet(root) };
  if (root.name === 'holdWorkItem') return { kind: 'hold', hold: mapHold(root, opts) };
  if (root.name === 'resumeWorkItem') return { kind: 'resume', resume: mapResume(root) };
  return reject(
    'UNKNOWN_ROOT',
    `unknown root element <${root.name}>; expected <workItem>, <cancelWorkItem>, <updateWorkItem>, <getWorkItem>, <holdWorkItem> or <resumeWorkItem>`,
    `/${root.name}`,
  );
}

/**
 * externalId and source as far as they can be read and are valid, so a rejection receipt can
 * echo them. Invalid values are not echoed: they would be as wrong in a receipt as in an event.
 */
export function readEcho(root: XmlNode, opts: Pick<MapOptions, 'entrances' | 'taskKey' | 'taskTypes'>): Echo {
  const externalId = echoValue(root, 'externalId', isValidExternalId);
  const source = echoValue(root, 'source', isValidSource);
  const taskType = echoTaskType(root, opts.taskKey);
  // No <entrance>: the task type's default entrance, as the item would have had.
  const entrance =
    optionalText(root, 'entrance') !== undefined || root.name !== 'workItem'
      ? echoValue(root, 'entrance', (v) => opts.entrances.has(v))
      : taskTypeRule(opts.taskTypes, peekTaskType(root, opts.taskKey))?.entrance;
  return {
    ...(externalId !== undefined && { externalId }),
    ...(source !== undefined && { source }),
    ...(entrance !== undefined && { entrance }),
    ...(taskType !== undefined && { taskType }),
  };
}

export function validEcho(echo: Echo): Echo {
  const { externalId, source, entrance, taskType } = echo;
  return {
    ...(externalId !== undefined && isValidExternalId(externalId) && { externalId }),
    ...(source !== undefined && isValidSource(source) && { source }),
    ...(entrance !== undefined && { entrance }),
    ...(taskType !== undefined && { taskType }),
  };
}

/** The task key's value, if exactly one contactData item carries it and it is a plausible value. */
function echoTaskType(root: XmlNode, taskKey: string): string | undefined {
  const data = root.children.get('contactData');
  if (data?.length !== 1) return undefined;
  const items = (data[0].children.get('item') ?? []).filter((i) => i.attributes.get('key') === taskKey);
  const value = items.length === 1 ? items[0].text : '';
  return value !== '' && value.length <= MAX_CONTACT_DATA_VALUE && !hasControlChars(value) ? value : undefined;
}

/** The task key's value as readContactData will read it (trimmed), before contactData is checked; '' if none. */
function peekTaskType(root: XmlNode, taskKey: string): string {
  const items = (child(root, 'contactData')?.children.get('item') ?? []).filter((i) => i.attributes.get('key') === taskKey);
  return items.length === 1 ? items[0].text.trim() : '';
}

function echoValue(root: XmlNode, name: string, isValid: (v: string) => boolean): string | undefined {
  const nodes = root.children.get(name);
  const value = nodes?.length === 1 ? nodes[0].text.trim() : undefined;
  return value !== undefined && isValid(value) ? value : undefined;
}

function isValidExternalId(value: string): boolean {
  return value !== '' && value.length <= MAX_EXTERNAL_ID && !hasControlChars(value);
}

function isValidSource(value: string): boolean {
  return NAME_PATTERN.test(value);
}

function checkVersion(root: XmlNode, required: boolean): void {
  const path = attributePath(`/${root.name}`, 'version');
  const version = root.attributes.get('version');
  if (version === undefined) {
    if (required) reject('MISSING_FIELD', `<${root.name}> needs version="${SUPPORTED_VERSION}"`, path);
    return;
  }
  if (version.trim() !== SUPPORTED_VERSION) {
    reject('UNKNOWN_ROOT', `unsupported version ${quote(version)}; this service accepts version "${SUPPORTED_VERSION}"`, path);
  }
}

function readIdentity(root: XmlNode): { externalId: string; source: string } {
  const base = `/${root.name}`;
  const externalId = requiredText(root, 'externalId', base);
  const idPath = childPath(base, 'externalId', 1);
  checkMaxLength(externalId, MAX_EXTERNAL_ID, 'externalId', idPath);
  checkNoControlChars(externalId, 'externalId', idPath);
  const source = requiredText(root, 'source', base);
  if (!isValidSource(source)) reject('INVALID_FIELD', `source must match ${NAME_SYNTAX}`, childPath(base, 'source', 1));
  return { externalId, source };
}

function mapCancel(root: XmlNode): CancelRequest {
  checkVersion(root, false);
  checkStructure(root, CANCEL_SPEC, '/cancelWorkItem');
  return readIdentity(root);
}

/** `<getWorkItem>`: checked like `<cancelWorkItem>` (version optional, only externalId and source). */
function mapGet(root: XmlNode): StatusQuery {
  checkVersion(root, false);
  checkStructure(root, GET_SPEC, '/getWorkItem');
  return readIdentity(root);
}

const HOLD_PATH = '/holdWorkItem';

/**
 * `<holdWorkItem>` (contract 1.2): checked like `<cancelWorkItem>` (version optional) plus `until` (the rules of
 * activateAt: RFC 3339 with a zone, at most schedule.maxDays ahead; now or past resumes it at once) and `reason`
 * (at most 256 characters, no control characters but tab and line breaks).
 */
function mapHold(root: XmlNode, opts: MapOptions): HoldRequest {
  checkVersion(root, false);
  checkStructure(root, HOLD_SPEC, HOLD_PATH);
  const { externalId, source } = readIdentity(root);
  const untilText = optionalText(root, 'until');
  const maxDays = opts.schedule?.maxDays ?? DEFAULT_SCHEDULE_MAX_DAYS;
  const until = untilText === undefined ? undefined : parseHoldUntil(untilText, `${HOLD_PATH}/until`, (opts.now ?? Date.now)(), maxDays);
  const reason = optionalText(root, 'reason');
  const problem = reason === undefined ? undefined : holdReasonProblem(reason);
  if (problem !== undefined) reject('INVALID_FIELD', problem, `${HOLD_PATH}/reason`);
  return { externalId, source, ...(until !== undefined && { until }), ...(reason !== undefined && { reason }) };
}

/** `<resumeWorkItem>` (contract 1.2): only externalId and source, version optional, as a cancel. */
function mapResume(root: XmlNode): ResumeRequest {
  checkVersion(root, false);
  checkStructure(root, RESUME_SPEC, '/resumeWorkItem');
  return readIdentity(root);
}

function mapWorkItem(root: XmlNode, opts: MapOptions): WorkItem {
  checkVersion(root, true);
  checkStructure(root, WORK_ITEM_SPEC, '/workItem');
  const { externalId, source } = readIdentity(root);
  // Without <entrance>, the task type's default entrance (checked once the task type is read); none: MISSING_FIELD here.
  const sentEntrance = optionalText(root, 'entrance');
  if (sentEntrance === undefined && taskTypeRule(opts.taskTypes, peekTaskType(root, opts.taskKey))?.entrance === undefined) {
    requiredText(root, 'entrance', '/workItem');
  }
  if (sentEntrance !== undefined) checkEntrance(sentEntrance, opts.entrances);
  const priorityText = optionalText(root, 'priority');
  const sentPriority = priorityText === undefined ? undefined : parsePriority(priorityText, '/workItem/priority');
  const subject = requiredText(root, 'subject', '/workItem');
  checkMaxLength(subject, MAX_SUBJECT, 'subject', '/workItem/subject');
  const body = optionalText(root, 'body');
  if (body !== undefined) checkMaxLength(body, MAX_BODY, 'body', '/workItem/body');
  const dueAtText = optionalText(root, 'dueAt');
  const dueAt = dueAtText === undefined ? undefined : parseDueAt(dueAtText, '/workItem/dueAt');
  const nowMs = (opts.now ?? Date.now)();
  const expiresAtText = optionalText(root, 'expiresAt');
  const expiresAt = expiresAtText === undefined ? undefined : parseExpiresAt(expiresAtText, '/workItem/expiresAt', nowMs);
  const activateAtText = optionalText(root, 'activateAt');
  const maxDays = opts.schedule?.maxDays ?? DEFAULT_SCHEDULE_MAX_DAYS;
  const activateAt = activateAtText === undefined ? undefined : parseActivateAt(activateAtText, '/workItem/activateAt', nowMs, maxDays);
  const customer = readCustomer(child(root, 'customer'));
  const contactData = readContactData(child(root, 'contactData'), '/workItem');
  const taskType = readTaskType(contactData, opts.taskKey);
  const rule = taskTypeRule(opts.taskTypes, taskType);
  if (!rule && opts.taskTypesStrict) {
    reject('UNKNOWN_TASK_TYPE', `task type ${quote(taskType)} is not configured (taskTypesStrict)`, taskKeyPath(opts.taskKey));
  }
  const missing = missingRequiredData(contactData, rule);
  if (missing !== undefined) {
    reject('MISSING_FIELD', `task type ${quote(taskType)} needs contactData "${missing}" with a value`, taskKeyPath(missing));
  }
  const entrance = sentEntrance ?? rule?.entrance ?? requiredText(root, 'entrance', '/workItem');
  const priority = sentPriority ?? rule?.priority ?? DEFAULT_PRIORITY;
  const attachmentNode = child(root, 'attachment');
  const attachment = attachmentNode && readAttachment(attachmentNode, opts.attachments);
  const socialNode = child(root, 'social');
  const social = socialNode && readSocial(socialNode, entrance, opts.social);
  const restart = readRestart(root);
  return {
    externalId,
    source,
    entrance,
    priority,
    subject,
    ...(body !== undefined && { body }),
    ...(dueAt !== undefined && { dueAt }),
    ...(customer !== undefined && { customer }),
    contactData,
    taskType,
    ...(attachment !== undefined && { attachment }),
    ...(social !== undefined && { social }),
    ...(expiresAt !== undefined && { expiresAt }),
    ...(activateAt !== undefined && { activateAt }),
    ...(restart && { restart }),
  };
}

/** Contract 1.2: `restart="true"` asks for a new contact after the item finished; "false" (or none) is the default. */
function readRestart(root: XmlNode): boolean {
  const value = root.attributes.get('restart');
  if (value === undefined) return false;
  const v = value.trim();
  if (v !== 'true' && v !== 'false') {
    reject('INVALID_FIELD', `restart must be "true" or "false", not ${quote(value)}`, attributePath('/workItem', 'restart'));
  }
  return v === 'true';
}

const UPDATE_PATH = '/updateWorkItem';
/** What an update cannot change, and what to do instead. */
const IMMUTABLE: Record<string, string> = {
  entrance: 'entrance cannot change with <updateWorkItem>: cancel the item and send it again for the other entrance',
  attachment: 'the attachment cannot change with <updateWorkItem>: cancel the item and send it again',
  social: 'social cannot change with <updateWorkItem>: cancel the item and send it again',
  activateAt: 'activateAt cannot change with <updateWorkItem>: cancel the item and send it again with the new time',
};
const UPDATE_FIELDS = ['priority', 'subject', 'body', 'dueAt', 'expiresAt', 'customer', 'contactData'];

/** `<updateWorkItem>` (contract 1.1): the fields given, each checked like in `<workItem>`. */
function mapUpdate(root: XmlNode, opts: MapOptions): UpdateRequest {
  checkVersion(root, true);
  for (const name of root.children.keys()) {
    if (Object.hasOwn(IMMUTABLE, name)) reject('INVALID_FIELD', IMMUTABLE[name], childPath(UPDATE_PATH, name, 1));
  }
  checkStructure(root, UPDATE_SPEC, UPDATE_PATH);
  const { externalId, source } = readIdentity(root);
  const revisionText = root.attributes.get('revision');
  const revision = revisionText === undefined ? undefined : parseRevision(revisionText, attributePath(UPDATE_PATH, 'revision'));
  const priorityText = optionalText(root, 'priority');
  const priority = priorityText === undefined ? undefined : parsePriority(priorityText, `${UPDATE_PATH}/priority`);
  const subject = optionalText(root, 'subject');
  if (subject !== undefined) checkMaxLength(subject, MAX_SUBJECT, 'subject', `${UPDATE_PATH}/subject`);
  const body = optionalText(root, 'body');
  if (body !== undefined) checkMaxLength(body, MAX_BODY, 'body', `${UPDATE_PATH}/body`);
  const dueAtText = optionalText(root, 'dueAt');
  const dueAt = dueAtText === undefined ? undefined : parseDueAt(dueAtText, `${UPDATE_PATH}/dueAt`);
  const expiresAtText = optionalText(root, 'expiresAt');
  const expiresAt =
    expiresAtText === undefined ? undefined : parseExpiresAt(expiresAtText, `${UPDATE_PATH}/expiresAt`, (opts.now ?? Date.now)());
  const customer = readCustomerUpdate(child(root, 'customer'));
  const dataNode = child(root, 'contactData');
  const contactData = dataNode && readContactData(dataNode, UPDATE_PATH);
  if (contactData && Object.hasOwn(contactData, opts.taskKey) && contactData[opts.taskKey] === '') {
    reject('NOT_A_WORKITEM', `an update cannot empty or remove the work-item task key "${opts.taskKey}"`, `${UPDATE_PATH}/contactData`);
  }
  const update: UpdateRequest = {
    externalId,
    source,
    ...(revision !== undefined && { revision }),
    ...(priority !== undefined && { priority }),
    ...(subject !== undefined && { subject }),
    ...(body !== undefined && { body }),
    ...(dueAt !== undefined && { dueAt }),
    ...(expiresAt !== undefined && { expiresAt }),
    ...(customer !== undefined && { customer }),
    ...(contactData !== undefined && Object.keys(contactData).length > 0 && { contactData }),
  };
  if (!UPDATE_FIELDS.some((name) => Object.hasOwn(update, name))) {
    reject(
      'MISSING_FIELD',
      `<updateWorkItem> needs at least one of ${UPDATE_FIELDS.map((n) => `<${n}>`).join(', ')} with a value`,
      UPDATE_PATH,
    );
  }
  return update;
}

/** In an update, an empty customer field removes it (null); an absent one stays as it is. */
function readCustomerUpdate(node: XmlNode | undefined): UpdateRequest['customer'] {
  if (!node) return undefined;
  const base = `${UPDATE_PATH}/customer`;
  const out: NonNullable<UpdateRequest['customer']> = {};
  const field = (name: 'name' | 'email' | 'phone', check: (value: string, path: string) => void): void => {
    if (!node.children.has(name)) return;
    const value = optionalText(node, name);
    if (value !== undefined) check(value, `${base}/${name}`);
    out[name] = value ?? null;
  };
  field('name', (v, p) => checkMaxLength(v, MAX_CUSTOMER_NAME, 'name', p));
  field('email', checkEmail);
  field('phone', checkPhone);
  return Object.keys(out).length > 0 ? out : undefined;
}

function checkEntrance(entrance: string, entrances: ReadonlySet<string>): void {
  if (!entrances.has(entrance)) reject('UNKNOWN_ENTRANCE', `entrance ${quote(entrance)} is not configured`, '/workItem/entrance');
}

/** The contactData item of a key, e.g. `/workItem/contactData/item[@key='CaseUrl']` (keys never hold a quote). */
function taskKeyPath(key: string): string {
  return `/workItem/contactData/item[@key='${key}']`;
}

function readCustomer(node: XmlNode | undefined): Customer | undefined {
  if (!node) return undefined;
  const customer: Customer = {};
  const name = optionalText(node, 'name');
  if (name !== undefined) {
    checkMaxLength(name, MAX_CUSTOMER_NAME, 'name', '/workItem/customer/name');
    customer.name = name;
  }
  const email = optionalText(node, 'email');
  if (email !== undefined) {
    checkEmail(email, '/workItem/customer/email');
    customer.email = email;
  }
  const phone = optionalText(node, 'phone');
  if (phone !== undefined) {
    checkPhone(phone, '/workItem/customer/phone');
    customer.phone = phone;
  }
  // `<customer/>` or only empty fields: nothing worth carrying
  return Object.keys(customer).length > 0 ? customer : undefined;
}

/**
 * Null-prototype record: keys are sender data, and a key like `__proto__` must stay a plain
 * entry instead of replacing the object's prototype. Values are trimmed like other fields.
 */
function readContactData(node: XmlNode | undefined, rootPath: string): Record<string, string> {
  const data = Object.create(null) as Record<string, string>;
  const items = node?.children.get('item') ?? [];
  if (items.length > MAX_CONTACT_DATA_ITEMS) {
    reject('INVALID_FIELD', `contactData may hold at most ${MAX_CONTACT_DATA_ITEMS} items`, `${rootPath}/contactData`);
  }
  items.forEach((item, i) => {
    // Paths are built only for an error (this runs for every item of every message).
    const itemPath = () => childPath(`${rootPath}/contactData`, 'item', i + 1);
    const keyPath = () => attributePath(itemPath(), 'key');
    const key = item.attributes.get('key');
    if (key === undefined || key === '') reject('MISSING_FIELD', 'contactData item needs a key attribute', keyPath());
    if (!CONTACT_DATA_KEY_PATTERN.test(key)) reject('INVALID_FIELD', 'contactData key must match [A-Za-z0-9_.-]{1,100}', keyPath());
    if (Object.hasOwn(data, key)) reject('INVALID_FIELD', `duplicate contactData key "${key}"`, keyPath());
    const value = item.text.trim();
    if (value.length > MAX_CONTACT_DATA_VALUE) checkMaxLength(value, MAX_CONTACT_DATA_VALUE, 'contactData value', itemPath());
    data[key] = value;
  });
  return data;
}

function readTaskType(contactData: Record<string, string>, taskKey: string): string {
  const taskType = Object.hasOwn(contactData, taskKey) ? contactData[taskKey] : '';
  if (taskType === '') {
    reject('NOT_A_WORKITEM', `contactData has no value for the work-item task key "${taskKey}"`, '/workItem/contactData');
  }
  return taskType;
}
