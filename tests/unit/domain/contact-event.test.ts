import { buildPreview, toClosedEvent, toContactRecord, toCreatedEvent } from '../../../src/domain/contact-event';
import type { WorkItem } from '../../../src/domain/work-item';

function item(over: Partial<WorkItem> = {}): WorkItem {
  const contactData: Record<string, string> = Object.create(null);
  contactData.WorkItemTask = 'loan-review';
  contactData.CaseUrl = 'https://bank.example/cases/1';
  return {
    externalId: 'CASE-1',
    source: 'bank-support',
    entrance: 'loans',
    priority: 5,
    subject: 'Review',
    body: 'Body text',
    contactData,
    taskType: 'loan-review',
    ...over,
  };
}

describe('contact event transform', () => {
  it('maps a work item to an email contact told apart by its task type', () => {
    const rec = toContactRecord(item({ dueAt: '2026-11-24T12:00:00Z', customer: { name: 'Anna' } }), 'wi-1', '2026-11-23T10:00:00.000Z');
    expect(rec).toMatchObject({
      contactId: 'wi-1',
      channel: 'email',
      workItem: true,
      taskType: 'loan-review',
      entrance: 'loans',
      dueAt: '2026-11-24T12:00:00Z',
      customer: { name: 'Anna' },
      presentation: { icon: 'workitem', preview: 'Body text', reply: false, didNotArrive: false },
      receivedAt: '2026-11-23T10:00:00.000Z',
    });
    expect(rec).not.toHaveProperty('attachment');
    expect(rec).not.toHaveProperty('social');
  });

  it('keeps a __proto__ contact-data key as plain data', () => {
    const i = item();
    Object.defineProperty(i.contactData, '__proto__', { value: 'x', enumerable: true, writable: true, configurable: true });
    const rec = toContactRecord(i, 'wi-1', 'now');
    const json = JSON.parse(JSON.stringify(rec)) as { contactData: Record<string, string> };
    expect(Object.prototype.hasOwnProperty.call(json.contactData, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('previews at most 200 characters of the body, whitespace folded', () => {
    const p = buildPreview({ subject: 's', body: `${'a  \n b '.repeat(100)}` });
    expect(p.length).toBe(200);
    expect(p).not.toMatch(/\s\s/);
  });

  it('previews exactly what folding the whole body and cutting 200 code points would give', () => {
    const pieces = ['a', 'é', '😀', ' ', '  ', '\n', '\t', '\u00a0', '\u2003', '\u3000', 'word', 'x'.repeat(150)];
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 500; i++) {
      let body = '';
      const n = Math.floor(rnd() * 80);
      for (let j = 0; j < n; j++) body += pieces[Math.floor(rnd() * pieces.length)];
      const expected = Array.from(body.replace(/\s+/g, ' ').trim()).slice(0, 200).join('');
      expect(buildPreview({ subject: 's', body })).toBe(expected);
    }
  });

  it('says a social item is a Facebook post or comment', () => {
    expect(
      buildPreview({
        subject: 's',
        body: 'Why?',
        social: { platform: 'facebook', pageId: '1', postId: '1_2', author: 'Jane', pageName: 'Bank' },
      }),
    ).toBe('Facebook comment on Bank by Jane: Why?');
    expect(buildPreview({ subject: 'Subj', social: { platform: 'facebook', pageId: '1', postId: '12' } })).toBe('Facebook post: Subj');
  });

  it('calls the platform by its configured display name (social.<platform>.displayName)', () => {
    const social = { platform: 'fb', pageId: '1', postId: '12', platformName: 'Facebook Business' };
    expect(buildPreview({ subject: 'Subj', social })).toBe('Facebook Business post: Subj');
    const rec = toContactRecord(
      {
        externalId: 'e',
        source: 's',
        entrance: 'social',
        priority: 5,
        subject: 'Subj',
        taskType: 't',
        contactData: { WorkItemTask: 't' },
        social,
      },
      'wi-1',
      '2026-01-01T00:00:00.000Z',
    );
    expect(rec.social).toEqual({ platform: 'fb', pageId: '1', postId: '12' });
  });

  it('drops the page display name from the event and carries the attachment reference only', () => {
    const rec = toContactRecord(item({ social: { platform: 'facebook', pageId: '1', pageName: 'Bank' } }), 'wi-1', 'now', {
      fileName: 'a.wav',
      contentType: 'audio/wav',
      size: 3,
      sha256: 'abc',
      url: 'http://x/attachments/wi-1/a.wav',
    });
    expect(rec.social).toEqual({ platform: 'facebook', pageId: '1' });
    expect(rec.attachment?.url).toBe('http://x/attachments/wi-1/a.wav');
  });

  it('builds created, withdrawn and expired events', () => {
    const rec = toContactRecord(item(), 'wi-1', 'now');
    const created = toCreatedEvent(rec, 'ev-1', true, new Date(0));
    expect(created).toMatchObject({
      type: 'contact.created',
      eventId: 'ev-1',
      contactId: 'wi-1',
      replayed: true,
      createdAt: '1970-01-01T00:00:00.000Z',
    });
    const w = toClosedEvent('contact.withdrawn', rec, 'cancelled-by-sender', 'ev-2', new Date(0));
    expect(w).toEqual({
      type: 'contact.withdrawn',
      eventId: 'ev-2',
      contactId: 'wi-1',
      externalId: 'CASE-1',
      source: 'bank-support',
      entrance: 'loans',
      channel: 'email',
      workItem: true,
      taskType: 'loan-review',
      reason: 'cancelled-by-sender',
      createdAt: '1970-01-01T00:00:00.000Z',
    });
  });
});
