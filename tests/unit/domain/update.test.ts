import { buildPreview, toContactRecord, toUpdatedEvent, type ContactRecord } from '../../../src/domain/contact-event';
import { mergeUpdate } from '../../../src/domain/update';
import type { UpdateRequest, WorkItem } from '../../../src/domain/work-item';

function data(entries: Record<string, string>): Record<string, string> {
  const d: Record<string, string> = Object.create(null);
  Object.assign(d, entries);
  return d;
}

function record(over: Partial<WorkItem> = {}): ContactRecord {
  const item: WorkItem = {
    externalId: 'CASE-1',
    source: 'bank-support',
    entrance: 'loans',
    priority: 5,
    subject: 'Loan review',
    body: 'Please check the income statement.',
    contactData: data({ WorkItemTask: 'loan-review', CaseUrl: 'https://bank.example/cases/1', Obsolete: 'x' }),
    taskType: 'loan-review',
    customer: { name: 'Jane', email: 'jane@example.com' },
    ...over,
  };
  return toContactRecord(item, 'wi-00000000-0000-0000-0000-000000000001', '2026-12-01T10:00:00.000Z');
}

const upd = (u: Partial<UpdateRequest>): UpdateRequest => ({ externalId: 'CASE-1', source: 'bank-support', ...u });
const opts = { taskKey: 'WorkItemTask' };

describe('mergeUpdate', () => {
  it('changes what the update gives, lists it in a fixed order, and leaves the rest alone', () => {
    const base = record();
    const r = mergeUpdate(
      { record: base },
      upd({
        contactData: data({ CaseUrl: 'https://bank.example/cases/1/v2', Obsolete: '', New: 'n' }),
        priority: 8,
        customer: { email: null, phone: '+46 8 123' },
        dueAt: '2026-12-24T12:00:00Z',
      }),
      opts,
    );
    if (!r.ok) throw new Error(r.error.message);
    expect(r.changed).toEqual([
      'priority',
      'dueAt',
      'customer.email',
      'customer.phone',
      'contactData.CaseUrl',
      'contactData.Obsolete',
      'contactData.New',
    ]);
    expect(r.record.priority).toBe(8);
    expect(r.record.customer).toEqual({ name: 'Jane', phone: '+46 8 123' });
    expect({ ...r.record.contactData }).toEqual({ WorkItemTask: 'loan-review', CaseUrl: 'https://bank.example/cases/1/v2', New: 'n' });
    expect(Object.getPrototypeOf(r.record.contactData)).toBeNull();
    expect(r.record.subject).toBe(base.subject);
    expect(r.record.presentation.preview).toBe(base.presentation.preview);
    // the stored record is not touched
    expect(base.priority).toBe(5);
    expect(base.contactData.Obsolete).toBe('x');
  });

  it('a value sent again unchanged, or a removal of what is not there, is no change', () => {
    const r = mergeUpdate(
      { record: record() },
      upd({ priority: 5, contactData: data({ Missing: '', CaseUrl: 'https://bank.example/cases/1' }), customer: { phone: null } }),
      opts,
    );
    expect(r).toMatchObject({ ok: true, changed: [] });
  });

  it('body: compared by hash (only the preview is stored); the preview is rebuilt', () => {
    const r1 = mergeUpdate({ record: record(), bodySha: 'aaa' }, upd({ body: 'New   text\n here' }), { ...opts, bodySha: 'bbb' });
    expect(r1).toMatchObject({ ok: true, changed: ['body'], bodySha: 'bbb' });
    if (r1.ok) expect(r1.record.presentation.preview).toBe('New text here');
    const r2 = mergeUpdate({ record: record(), bodySha: 'aaa' }, upd({ body: 'same' }), { ...opts, bodySha: 'aaa' });
    expect(r2).toMatchObject({ ok: true, changed: [] });
    // an item stored without a body hash: a given body counts as a change
    expect(mergeUpdate({ record: record() }, upd({ body: 'x' }), { ...opts, bodySha: 'ccc' })).toMatchObject({ changed: ['body'] });
  });

  it('a social item without a body shows its subject in the preview: a new subject updates it', () => {
    const social = { platform: 'facebook', pageId: '1234', pageName: 'Bank on Facebook', platformName: 'Facebook' };
    const base = record({ body: undefined, entrance: 'social', social });
    expect(base.presentation.preview).toBe(buildPreview({ subject: 'Loan review', social }));
    const r = mergeUpdate({ record: base }, upd({ subject: 'Angry comment' }), {
      ...opts,
      socialNames: { pageName: 'Bank on Facebook', platformName: 'Facebook' },
    });
    if (!r.ok) throw new Error(r.error.message);
    expect(r.record.presentation.preview).toBe('Facebook post on Bank on Facebook: Angry comment');
  });

  it('the task key keeps a value (NOT_A_WORKITEM); a new value changes the task type', () => {
    const r = mergeUpdate({ record: record() }, upd({ contactData: data({ WorkItemTask: 'fraud-check' }) }), opts);
    expect(r).toMatchObject({ ok: true, changed: ['contactData.WorkItemTask'] });
    if (r.ok) expect(r.record.taskType).toBe('fraud-check');
    const gone = mergeUpdate({ record: record() }, upd({ contactData: data({ WorkItemTask: '' }) }), opts);
    expect(gone).toMatchObject({ ok: false, error: { code: 'NOT_A_WORKITEM', path: '/updateWorkItem/contactData' } });
  });

  it('at most 50 contact-data items after the merge', () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 48; i++) many[`k${i}`] = 'v';
    const r = mergeUpdate({ record: record() }, upd({ contactData: data(many) }), opts);
    expect(r).toMatchObject({ ok: false, error: { code: 'INVALID_FIELD', path: '/updateWorkItem/contactData' } });
    expect(r.ok === false && r.error.message).toMatch(/51 items/);
    delete many.k0;
    expect(mergeUpdate({ record: record() }, upd({ contactData: data(many) }), opts).ok).toBe(true);
  });

  it('a customer whose every field is removed is no customer', () => {
    const r = mergeUpdate({ record: record() }, upd({ customer: { name: null, email: null } }), opts);
    expect(r.ok && r.record.customer).toBeUndefined();
    expect(r.ok && !('customer' in r.record)).toBe(true);
  });

  it('contact.updated is the whole record plus changed and revision', () => {
    const rec = record();
    const e = toUpdatedEvent(rec, ['priority'], 3, 'ev-1', new Date('2026-12-02T00:00:00Z'));
    expect(e).toMatchObject({
      type: 'contact.updated',
      eventId: 'ev-1',
      contactId: rec.contactId,
      replayed: false,
      changed: ['priority'],
      revision: 3,
    });
    expect(e.subject).toBe(rec.subject);
    expect('revision' in toUpdatedEvent(rec, ['priority'], undefined, 'ev-2', new Date())).toBe(false);
  });
});
