import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Builders for work-item XML as senders produce it (INTERFACE.md), and the shared sample messages. */

export interface AttachmentFields {
  fileName?: string;
  contentType?: string;
  encoding?: string;
  /** Bytes (base64-encoded here) or an already-encoded string, sent as is. */
  data: Buffer | string;
}

export interface SocialFields {
  platform?: string;
  pageId?: string;
  postId?: string;
  author?: string;
}

/** Required elements accept null to leave them out (for negative tests). */
export interface WorkItemFields {
  externalId: string | null;
  source: string | null;
  entrance: string | null;
  subject: string | null;
  body: string;
  priority: number | string;
  dueAt: string;
  /** Contract 1.1. */
  expiresAt: string;
  activateAt: string;
  customer: { name?: string; email?: string; phone?: string };
  /** Value of the task key; '' sends it empty, null leaves the item out. */
  taskType: string | null;
  /** Name of the task key, default `WorkItemTask`. */
  taskKey: string;
  /** Extra contact data, after the task key item. */
  contactData: Record<string, string>;
  attachment: AttachmentFields;
  social: SocialFields;
  /** Root `version` attribute; null leaves it out. */
  version: string | null;
}

export interface BuiltWorkItem {
  xml: string;
  externalId: string;
  source: string;
  entrance: string;
}

/** Escapes text and attribute values (quotes included, so the result is safe in both). */
export function escapeXml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

export function newExternalId(prefix = 'CASE'): string {
  return `${prefix}-${Date.now()}-${randomBytes(4).toString('hex')}`;
}

function element(name: string, value: string | number | null | undefined): string {
  return value === null || value === undefined ? '' : `  <${name}>${escapeXml(value)}</${name}>\n`;
}

function attributes(attrs: Record<string, string | undefined>): string {
  return Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(v!)}"`)
    .join('');
}

/** A valid work item by default (random externalId, bank-support → loans, task `test-task`), fields override. */
export function workItem(fields: Partial<WorkItemFields> = {}): BuiltWorkItem {
  const f = {
    externalId: newExternalId(),
    source: 'bank-support',
    entrance: 'loans',
    subject: 'Test work item',
    taskType: 'test-task',
    taskKey: 'WorkItemTask',
    version: '1',
    ...fields,
  };
  let xml = `<?xml version="1.0" encoding="UTF-8"?>\n<workItem${attributes({ version: f.version ?? undefined })}>\n`;
  xml += element('externalId', f.externalId);
  xml += element('source', f.source);
  xml += element('entrance', f.entrance);
  xml += element('priority', f.priority);
  xml += element('subject', f.subject);
  xml += element('body', f.body);
  xml += element('dueAt', f.dueAt);
  xml += element('expiresAt', f.expiresAt);
  xml += element('activateAt', f.activateAt);
  if (f.customer) {
    const c = f.customer;
    xml += `  <customer>${[
      ['name', c.name],
      ['email', c.email],
      ['phone', c.phone],
    ]
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `<${k}>${escapeXml(v!)}</${k}>`)
      .join('')}</customer>\n`;
  }
  const items: [string, string][] = [];
  if (f.taskType !== null) items.push([f.taskKey, f.taskType]);
  items.push(...Object.entries(f.contactData ?? {}));
  if (items.length > 0) {
    xml += '  <contactData>\n';
    for (const [key, value] of items) xml += `    <item key="${escapeXml(key)}">${escapeXml(value)}</item>\n`;
    xml += '  </contactData>\n';
  }
  if (f.attachment) {
    const a = f.attachment;
    const data = Buffer.isBuffer(a.data) ? a.data.toString('base64') : a.data;
    xml += `  <attachment${attributes({
      fileName: a.fileName ?? 'attachment.bin',
      contentType: a.contentType ?? 'application/pdf',
      encoding: a.encoding ?? 'base64',
    })}>${escapeXml(data)}</attachment>\n`;
  }
  if (f.social) {
    const s = f.social;
    xml += `  <social${attributes({ platform: s.platform ?? 'facebook', pageId: s.pageId ?? '1234', postId: s.postId, author: s.author })}/>\n`;
  }
  xml += '</workItem>\n';
  return { xml, externalId: f.externalId ?? '', source: f.source ?? '', entrance: f.entrance ?? '' };
}

/** The XML string of workItem(fields). */
export function workItemXml(fields: Partial<WorkItemFields> = {}): string {
  return workItem(fields).xml;
}

/** A `<cancelWorkItem>` for (source, externalId). */
export function cancelXml(fields: { externalId: string; source?: string }): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n<cancelWorkItem version="1">\n' +
    element('externalId', fields.externalId) +
    element('source', fields.source ?? 'bank-support') +
    '</cancelWorkItem>\n'
  );
}

/** A status query `<getWorkItem>` (answered to reply_to only). */
export function getXml(fields: { externalId: string; source?: string }): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n<getWorkItem version="1">\n' +
    element('externalId', fields.externalId) +
    element('source', fields.source ?? 'bank-support') +
    '</getWorkItem>\n'
  );
}

/** Contract 1.2: `<holdWorkItem>` (until and reason optional). */
export function holdXml(fields: { externalId: string; source?: string; until?: string; reason?: string }): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n<holdWorkItem version="1">\n' +
    element('externalId', fields.externalId) +
    element('source', fields.source ?? 'bank-support') +
    element('until', fields.until) +
    element('reason', fields.reason) +
    '</holdWorkItem>\n'
  );
}

/** Contract 1.2: `<resumeWorkItem>`. */
export function resumeXml(fields: { externalId: string; source?: string }): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n<resumeWorkItem version="1">\n' +
    element('externalId', fields.externalId) +
    element('source', fields.source ?? 'bank-support') +
    '</resumeWorkItem>\n'
  );
}

/** The project's own sample messages (`examples/`), the ones the README and the contract document use. */
export function examplesDir(): string {
  return path.resolve(__dirname, '../../examples');
}

/** A sample message from `examples/` (e.g. `loan-review.xml`), as a UTF-8 string. */
export function example(name: string): string {
  return readFileSync(path.join(examplesDir(), name), 'utf8');
}

/** An `<updateWorkItem>` (contract 1.1): raw inner XML after externalId and source; revision and version as given. */
export function updateXml(fields: {
  externalId: string;
  source?: string;
  revision?: number | string;
  version?: string | null;
  inner: string;
}): string {
  const version = fields.version === undefined ? '1' : fields.version;
  const attrs = attributes({
    version: version ?? undefined,
    revision: fields.revision === undefined ? undefined : String(fields.revision),
  });
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<updateWorkItem${attrs}>\n` +
    element('externalId', fields.externalId) +
    element('source', fields.source ?? 'bank-support') +
    `  ${fields.inner}\n</updateWorkItem>\n`
  );
}
