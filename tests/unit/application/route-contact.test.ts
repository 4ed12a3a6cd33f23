import { routeContact } from '../../../src/application/route-contact';
import type { Deps } from '../../../src/application/deps';
import { AttachmentUrlSigner } from '../../../src/adapters/http/attachment-links';
import type { ContactCreatedEvent, ContactRecord } from '../../../src/domain/contact-event';

const CID = 'wi-00000000-0000-4000-8000-000000000009';
const SECRET = 'route-contact-test-secret-0123456789ab';

function record(): ContactRecord {
  return {
    contactId: CID,
    externalId: 'CASE-1',
    source: 'voicemail',
    entrance: 'support',
    channel: 'email',
    workItem: true,
    taskType: 'voicemail',
    priority: 5,
    subject: 's',
    contactData: { WorkItemTask: 'voicemail' },
    presentation: { icon: 'workitem', preview: '', reply: false, didNotArrive: false },
    attachment: {
      fileName: 'call 1.wav',
      contentType: 'audio/wav',
      size: 4,
      sha256: 'ab'.repeat(32),
      url: `http://svc/attachments/${CID}/call%201.wav`,
    },
    receivedAt: '2026-12-01T10:00:00.000Z',
  };
}

describe('routeContact signs the attachment link at every publish', () => {
  it('first publish, replay and a later re-publish each carry a fresh, valid link; the stored record keeps the plain URL', async () => {
    let now = Date.parse('2026-12-01T10:00:00Z');
    const links = new AttachmentUrlSigner(SECRET, 600, 'http://svc', () => now);
    const events: ContactCreatedEvent[] = [];
    const d = {
      attachmentLinks: links,
      messaging: { publishEvent: async (e: ContactCreatedEvent) => (events.push(e), 'confirmed') },
      newId: () => 'e',
      now: () => now,
    } as unknown as Deps;
    const r = record();
    await routeContact(d, r, { replayed: false });
    now += 3_600_000; // an hour later: the first link has expired
    await routeContact(d, r, { replayed: true });
    expect(events).toHaveLength(2);
    const [first, second] = events.map((e) => new URL(e.attachment!.url));
    expect(first.pathname).toBe(`/attachments/${CID}/call%201.wav`);
    expect(Number(second.searchParams.get('expires')) - Number(first.searchParams.get('expires'))).toBe(3600);
    const check = (u: URL) => links.check(CID, 'call 1.wav', u.searchParams.get('expires'), u.searchParams.get('sig'));
    expect(check(first)).toBe('expired');
    expect(check(second)).toBe('valid');
    expect(r.attachment!.url).toBe(`http://svc/attachments/${CID}/call%201.wav`);
    expect(events[1]).toMatchObject({ replayed: true, attachment: { fileName: 'call 1.wav', size: 4, sha256: 'ab'.repeat(32) } });
  });
});
