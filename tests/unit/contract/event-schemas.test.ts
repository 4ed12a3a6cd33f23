import { readFileSync } from 'node:fs';
import path from 'node:path';
import { controlEventMessage } from '../../../src/adapters/rabbitmq/control-event-message';
import { CONTROL_ROUTING_KEYS } from '../../../src/adapters/rabbitmq/topology';
import { parseControlEvent } from '../../../src/application/handle-control-event';
import { toClosedEvent, toContactRecord, toCreatedEvent, toUpdatedEvent, type AttachmentRef } from '../../../src/domain/contact-event';
import { CONTROL_EVENT_DEFS, contactEventProblems, controlEventProblems } from '../../helpers/event-schemas';
import { examplesDir, expectItem, parse } from '../xml/xml-test-helpers';

const CONTACT_ID = 'wi-0b7e7c1e-4a3f-4c55-9d55-0a1b2c3d4e5f';
const EVENT_ID = '5f0c2a43-2f0e-4a57-9d7e-1b2c3d4e5f60';
const NOW = new Date('2026-12-02T10:00:00.000Z');

/** As it travels: JSON text parsed back. */
const wire = <T>(value: T): unknown => JSON.parse(JSON.stringify(value));

function createdFromExample(file: string, replayed = false): Record<string, unknown> {
  const item = expectItem(parse(readFileSync(path.join(examplesDir(), file))));
  const attachment: AttachmentRef | undefined = item.attachment && {
    fileName: item.attachment.fileName,
    contentType: item.attachment.contentType,
    size: item.attachment.data.length,
    sha256: item.attachment.sha256,
    url: `http://127.0.0.1:8080/attachments/${CONTACT_ID}/${encodeURIComponent(item.attachment.fileName)}?expires=1796032800&sig=abc_-DEF`,
  };
  const record = toContactRecord(item, CONTACT_ID, NOW.toISOString(), attachment);
  return wire(toCreatedEvent(record, EVENT_ID, replayed, NOW)) as Record<string, unknown>;
}

describe('schemas/contact-event.schema.json', () => {
  it.each(['loan-review.xml', 'voicemail-with-audio.xml', 'facebook-post.xml'])(
    'accepts the contact.created event of examples/%s',
    (file) => {
      expect(contactEventProblems(createdFromExample(file))).toBeNull();
      expect(contactEventProblems(createdFromExample(file, true))).toBeNull();
    },
  );

  it('accepts contact.withdrawn and contact.expired as the domain builds them', () => {
    const item = expectItem(parse(readFileSync(path.join(examplesDir(), 'loan-review.xml'))));
    const record = toContactRecord(item, CONTACT_ID, NOW.toISOString());
    expect(contactEventProblems(wire(toClosedEvent('contact.withdrawn', record, 'cancelled-by-sender', EVENT_ID, NOW)))).toBeNull();
    expect(contactEventProblems(wire(toClosedEvent('contact.expired', record, 'parked-too-long', EVENT_ID, NOW)))).toBeNull();
    expect(contactEventProblems(wire(toClosedEvent('contact.expired', record, 'expires-at', EVENT_ID, NOW)))).toBeNull();
  });

  it('accepts the 1.2 hold and resume events: contact.withdrawn with reason held, contact.created with resumed true', () => {
    const item = expectItem(parse(readFileSync(path.join(examplesDir(), 'loan-review.xml'))));
    const record = toContactRecord(item, CONTACT_ID, NOW.toISOString());
    const withdrawn = wire(toClosedEvent('contact.withdrawn', record, 'cancelled-by-sender', EVENT_ID, NOW)) as Record<string, unknown>;
    expect(contactEventProblems({ ...withdrawn, reason: 'held' })).toBeNull();
    expect(contactEventProblems({ ...withdrawn, reason: 'cancelled-by-operator' })).toBeNull();
    expect(contactEventProblems({ ...withdrawn, reason: 'paused' })).toMatch(/\/reason/);
    const created = createdFromExample('loan-review.xml');
    expect(contactEventProblems({ ...created, resumed: true })).toBeNull();
    expect(contactEventProblems({ ...created, resumed: false })).toBeNull();
    expect(contactEventProblems({ ...created, resumed: 'yes' })).toMatch(/\/resumed/);
  });

  it('accepts a contact.updated event of contract 1.1 (the whole contact plus changed and revision)', () => {
    const event = {
      ...createdFromExample('loan-review.xml'),
      type: 'contact.updated',
      changed: ['priority', 'contactData.CaseUrl'],
      revision: 3,
    };
    expect(contactEventProblems(event)).toBeNull();
    expect(contactEventProblems({ ...event, changed: [] })).toMatch(/changed/);
  });

  it('accepts the 1.2 escalation contact.updated (changed priority, reason escalation, no revision)', () => {
    const item = expectItem(parse(readFileSync(path.join(examplesDir(), 'loan-review.xml'))));
    const record = { ...toContactRecord(item, CONTACT_ID, NOW.toISOString()), priority: 9 };
    const event = wire(toUpdatedEvent(record, ['priority'], undefined, EVENT_ID, NOW, 'escalation')) as Record<string, unknown>;
    expect(event).toMatchObject({ changed: ['priority'], reason: 'escalation', priority: 9 });
    expect(event).not.toHaveProperty('revision');
    expect(contactEventProblems(event)).toBeNull();
    expect(contactEventProblems({ ...event, reason: 'manual' })).toMatch(/\/reason/);
  });

  it('is not vacuous: missing, extra and mistyped members are named', () => {
    const event = createdFromExample('loan-review.xml');
    const { contactId: _c, ...withoutId } = event;
    expect(contactEventProblems(withoutId)).toMatch(/contactId/);
    expect(contactEventProblems({ ...event, colour: 'blue' })).toMatch(/additional properties \(colour\)/);
    expect(contactEventProblems({ ...event, priority: 11 })).toMatch(/\/priority/);
    expect(contactEventProblems({ ...event, channel: 'chat' })).toMatch(/\/channel/);
    expect(contactEventProblems({ ...event, type: 'contact.deleted' })).toMatch(/\/type/);
    expect(contactEventProblems({ ...event, contactData: { 'bad key': 'x' } })).toMatch(/contactData/);
    expect(contactEventProblems({ ...event, receivedAt: 'yesterday' })).toMatch(/receivedAt/);
    expect(contactEventProblems({ type: 'contact.withdrawn', contactId: CONTACT_ID })).toMatch(/reason/);
  });
});

describe('schemas/control-event.schema.json against parseControlEvent', () => {
  const ID = CONTACT_ID;
  /** [routing key, body, what the service does]. Bodies the schema allows must be accepted; bodies the service refuses must fail the schema. */
  const CASES: [string, unknown, 'accepts' | 'rejects'][] = [
    ['entrance.closed', { entrance: 'loans' }, 'accepts'],
    ['entrance.closed', { entrance: 'loans', by: 'cli:anna' }, 'accepts'],
    ['entrance.opened', { entrance: 'loans', extra: 1 }, 'accepts'],
    ['entrance.opened', { entrance: 'e'.repeat(256) }, 'accepts'],
    ['entrance.opened', {}, 'rejects'],
    ['entrance.opened', { entrance: '' }, 'rejects'],
    ['entrance.opened', { entrance: 5 }, 'rejects'],
    ['entrance.opened', { entrance: 'e'.repeat(257) }, 'rejects'],
    ['entrance.closed', ['loans'], 'rejects'],
    ['entrance.closed', 'loans', 'rejects'],
    ['entrance.closed', null, 'rejects'],
    ['contact.ended', { contactId: ID }, 'accepts'],
    ['contact.ended', { contactId: 'wi-1' }, 'rejects'],
    ['contact.ended', { contactId: ID.toUpperCase() }, 'rejects'],
    ['contact.ended', {}, 'rejects'],
    ['contact.ended', { contactId: ID, disposition: { code: 'resolved', text: 'Loan approved' } }, 'accepts'],
    ['contact.ended', { contactId: ID, disposition: { code: 'x'.repeat(64), text: 't'.repeat(1024) } }, 'accepts'],
    ['contact.rejected', { contactId: ID, reason: 'entrance-closed' }, 'accepts'],
    ['contact.rejected', { contactId: ID }, 'accepts'],
    ['contact.rejected', { reason: 'entrance-closed' }, 'rejects'],
    ['server.started', {}, 'accepts'],
    ['server.started', { at: 'now' }, 'accepts'],
    ['server.started', [], 'rejects'],
  ];

  /** Where the service is more tolerant than the schema: a member of the wrong type is ignored (its default is used). */
  const SERVICE_TOLERATES: [string, unknown][] = [
    ['entrance.closed', { entrance: 'loans', by: 7 }],
    ['entrance.closed', { entrance: 'loans', by: 'b'.repeat(257) }],
    ['contact.rejected', { contactId: ID, reason: false }],
    // A malformed disposition is ignored (logged); the item still ends.
    ['contact.ended', { contactId: ID, disposition: { code: 'has space' } }],
    ['contact.ended', { contactId: ID, disposition: { code: 'ok', text: 't'.repeat(1025) } }],
    ['contact.ended', { contactId: ID, disposition: 'resolved' }],
  ];

  const serviceAccepts = (routingKey: string, body: unknown): boolean =>
    typeof parseControlEvent(routingKey, Buffer.from(JSON.stringify(body))) !== 'string';

  it('has a body schema for every routing key the service binds', () => {
    expect(Object.keys(CONTROL_EVENT_DEFS).sort()).toEqual([...CONTROL_ROUTING_KEYS].sort());
  });

  const label = (body: unknown): string => {
    const text = JSON.stringify(body);
    return text.length > 60 ? `${text.slice(0, 40)}…(${text.length} chars)` : text;
  };

  it.each(CASES.map(([k, b, s]) => [k, label(b), s, b] as const))(
    '%s %s: the service %s, and the schema agrees',
    (routingKey, _label, service, body) => {
      expect(serviceAccepts(routingKey, body)).toBe(service === 'accepts');
      const problems = controlEventProblems(routingKey, body);
      if (service === 'accepts') expect(problems).toBeNull();
      else expect(problems).not.toBeNull();
    },
  );

  it.each(SERVICE_TOLERATES.map(([k, b]) => [k, label(b), b] as const))(
    '%s %s: tolerated by the service, refused by the schema (listed)',
    (routingKey, _label, body) => {
      expect(serviceAccepts(routingKey, body)).toBe(true);
      expect(controlEventProblems(routingKey, body)).not.toBeNull();
    },
  );

  it('accepts an empty server.started body, as the service does', () => {
    expect(typeof parseControlEvent('server.started', Buffer.alloc(0))).not.toBe('string');
  });

  it('accepts the bodies the CLI and the dashboard publish', () => {
    const bodies: [string, object][] = [
      ['entrance.closed', { entrance: 'loans', by: 'cli' }],
      ['entrance.opened', { entrance: 'loans', by: 'dashboard:admin' }],
      ['contact.ended', { contactId: ID }],
    ];
    for (const [routingKey, body] of bodies) {
      const { content, options } = controlEventMessage(routingKey, body, 'workitem-cli');
      expect(options.contentType).toBe('application/json');
      expect(controlEventProblems(routingKey, JSON.parse(content.toString('utf8')))).toBeNull();
    }
  });
});
