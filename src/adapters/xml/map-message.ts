import { AppConfig } from '../../config/config';
import {
  CONTACT_DATA_KEY_PATTERN,
  CancelRequest,
  Customer,
  ParsedMessage,
  SOURCE_PATTERN,
  WorkItem,
} from '../../domain/work-item';
import { readAttachment } from './attachment';
import {
  checkEmail,
  checkMaxLength,
  checkNoControlChars,
  checkPhone,
  child,
  hasControlChars,
  optionalText,
  parseDueAt,
  parsePriority,
  requiredText,
} from './fields';
import { readSocial } from './social';
import { CANCEL_SPEC, WORK_ITEM_SPEC, checkStructure } from './structure';
import { Echo, quote, reject } from './rejection';
import { attributePath, childPath } from './xml-path';
import { XmlNode } from './xml-node';

export interface MapOptions {
  taskKey: string;
  entrances: ReadonlySet<string>;
  social: AppConfig['social'];
  attachments: AppConfig['attachments'];
}

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
  return reject('UNKNOWN_ROOT', `unknown root element <${root.name}>; expected <workItem> or <cancelWorkItem>`, `/${root.name}`);
}

/**
 * externalId and source as far as they can be read and are valid, so a rejection receipt can
 * echo them. Invalid values are not echoed: they would be as wrong in a receipt as in an event.
 */
export function readEcho(root: XmlNode, opts: Pick<MapOptions, 'entrances' | 'taskKey'>): Echo {
  const externalId = echoValue(root, 'externalId', isValidExternalId);
  const source = echoValue(root, 'source', isValidSource);
  const entrance = echoValue(root, 'entrance', (v) => opts.entrances.has(v));
  const taskType = echoTaskType(root, opts.taskKey);
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

function echoValue(root: XmlNode, name: string, isValid: (v: string) => boolean): string | undefined {
  const nodes = root.children.get(name);
  const value = nodes?.length === 1 ? nodes[0].text.trim() : undefined;
  return value !== undefined && isValid(value) ? value : undefined;
}

function isValidExternalId(value: string): boolean {
  return value !== '' && value.length <= MAX_EXTERNAL_ID && !hasControlChars(value);
}

function isValidSource(value: string): boolean {
  return SOURCE_PATTERN.test(value);
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
  if (!isValidSource(source)) reject('INVALID_FIELD', 'source must match [a-z0-9._-]{1,64}', childPath(base, 'source', 1));
  return { externalId, source };
}

function mapCancel(root: XmlNode): CancelRequest {
  checkVersion(root, false);
  checkStructure(root, CANCEL_SPEC, '/cancelWorkItem');
  return readIdentity(root);
}

function mapWorkItem(root: XmlNode, opts: MapOptions): WorkItem {
  checkVersion(root, true);
  checkStructure(root, WORK_ITEM_SPEC, '/workItem');
  const { externalId, source } = readIdentity(root);
  const entrance = readEntrance(root, opts.entrances);
  const priorityText = optionalText(root, 'priority');
  const priority = priorityText === undefined ? 5 : parsePriority(priorityText, '/workItem/priority');
  const subject = requiredText(root, 'subject', '/workItem');
  checkMaxLength(subject, MAX_SUBJECT, 'subject', '/workItem/subject');
  const body = optionalText(root, 'body');
  if (body !== undefined) checkMaxLength(body, MAX_BODY, 'body', '/workItem/body');
  const dueAtText = optionalText(root, 'dueAt');
  const dueAt = dueAtText === undefined ? undefined : parseDueAt(dueAtText, '/workItem/dueAt');
  const customer = readCustomer(child(root, 'customer'));
  const contactData = readContactData(child(root, 'contactData'));
  const taskType = readTaskType(contactData, opts.taskKey);
  const attachmentNode = child(root, 'attachment');
  const attachment = attachmentNode && readAttachment(attachmentNode, opts.attachments);
  const socialNode = child(root, 'social');
  const social = socialNode && readSocial(socialNode, entrance, opts.social);
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
  };
}

function readEntrance(root: XmlNode, entrances: ReadonlySet<string>): string {
  const entrance = requiredText(root, 'entrance', '/workItem');
  if (!entrances.has(entrance)) reject('UNKNOWN_ENTRANCE', `entrance ${quote(entrance)} is not configured`, '/workItem/entrance');
  return entrance;
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
function readContactData(node: XmlNode | undefined): Record<string, string> {
  const data = Object.create(null) as Record<string, string>;
  const items = node?.children.get('item') ?? [];
  if (items.length > MAX_CONTACT_DATA_ITEMS) {
    reject('INVALID_FIELD', `contactData may hold at most ${MAX_CONTACT_DATA_ITEMS} items`, '/workItem/contactData');
  }
  items.forEach((item, i) => {
    const itemPath = childPath('/workItem/contactData', 'item', i + 1);
    const keyPath = attributePath(itemPath, 'key');
    const key = item.attributes.get('key');
    if (key === undefined || key === '') reject('MISSING_FIELD', 'contactData item needs a key attribute', keyPath);
    if (!CONTACT_DATA_KEY_PATTERN.test(key)) reject('INVALID_FIELD', 'contactData key must match [A-Za-z0-9_.-]{1,100}', keyPath);
    if (Object.hasOwn(data, key)) reject('INVALID_FIELD', `duplicate contactData key "${key}"`, keyPath);
    const value = item.text.trim();
    checkMaxLength(value, MAX_CONTACT_DATA_VALUE, 'contactData value', itemPath);
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
