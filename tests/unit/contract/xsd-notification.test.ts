import path from 'node:path';
import { renderNotification } from '../../../src/adapters/xml/render-notification';
import { NOTIFICATION_EVENTS, type Notification } from '../../../src/domain/notification';
import { validateWithXsd } from '../../helpers/xsd-validator';

/**
 * The `<workItemNotification>` of contract 1.2 (published by the service on workitem.notifications) as
 * schemas/workitem-v1.xsd describes it: which documents a sender's generated classes or validator must take, and
 * which not. The service writes these documents, so its attributes are exact (no padding, no unknown ones).
 */
const XSD = path.resolve(__dirname, '../../../schemas/workitem-v1.xsd');
const CONTACT_ID = 'wi-0b7e7c1e-4a3f-4c55-9d55-0a1b2c3d4e5f';
const EVENTS = ['routed', 'buffered', 'held', 'resumed', 'ended', 'cancelled', 'expired', 'overdue'];

interface Attributes {
  [name: string]: string | undefined;
}

const BASE: Attributes = {
  event: 'ended',
  externalId: 'CASE-2026-000123',
  source: 'bank-support',
  contactId: CONTACT_ID,
  entrance: 'loans',
  at: '2026-12-07T10:00:00.000Z',
};

function notification(overrides: Attributes = {}, inner = ''): string {
  const attributes = Object.entries({ ...BASE, ...overrides })
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}="${v}"`)
    .join(' ');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<workItemNotification ${attributes}${inner ? `>${inner}</workItemNotification>` : '/>'}\n`;
}

const VALID: [string, string][] = [
  ...EVENTS.map((event): [string, string] => [`event ${event}`, notification({ event })]),
  ['ended with a disposition', notification({}, '<disposition code="resolved">Loan approved, customer informed</disposition>')],
  ['ended with a disposition code only', notification({}, '<disposition code="resolved"/>')],
  ['disposition code of 64 characters', notification({}, `<disposition code="${'c'.repeat(64)}">x</disposition>`)],
  ['disposition code with . _ -', notification({}, '<disposition code="Loan.approved_v2-final">x</disposition>')],
  ['disposition text of 1024 characters', notification({}, `<disposition code="ok">${'t'.repeat(1024)}</disposition>`)],
  ['disposition text escaped', notification({}, '<disposition code="ok">A &amp; B &lt;done&gt;</disposition>')],
  ['held with a reason', notification({ event: 'held', reason: 'waiting for documents' })],
  ['buffered with a reason', notification({ event: 'buffered', reason: 'entrance-closed' })],
  ['at with an offset', notification({ at: '2026-12-07T11:00:00+01:00' })],
  // What the service itself renders, each event with every attribute it can carry.
  ...NOTIFICATION_EVENTS.map((event): [string, string] => {
    const n: Notification = {
      id: `${CONTACT_ID}.1.${event}`,
      event,
      contactId: CONTACT_ID,
      source: 'bank-support',
      externalId: 'CASE-2026-000123 & <co>',
      entrance: 'loans',
      atMs: Date.UTC(2026, 11, 7, 10),
      correlationId: 'c-1',
      ...(event === 'buffered' && { reason: 'rejected' }),
      ...(event === 'expired' && { reason: 'expires-at' }),
      ...(event === 'held' && { reason: 'waiting for "documents"', until: '2026-12-08T08:00:00Z' }),
      ...(event === 'overdue' && { dueMs: Date.UTC(2026, 11, 7, 9) }),
      ...(event === 'ended' && { disposition: { code: 'resolved', text: 'Loan approved & <informed>' } }),
    };
    return [`rendered by the service: ${event}`, renderNotification(n).toString('utf8')];
  }),
];

const INVALID: [string, string][] = [
  ['event unknown', notification({ event: 'deleted' })],
  ['event missing', notification({ event: undefined })],
  ['externalId missing', notification({ externalId: undefined })],
  ['externalId of 129 characters', notification({ externalId: 'x'.repeat(129) })],
  ['source missing', notification({ source: undefined })],
  ['source with capitals', notification({ source: 'Bank-Support' })],
  ['contactId missing', notification({ contactId: undefined })],
  ['contactId not a wi- id', notification({ contactId: 'CASE-1' })],
  ['entrance missing', notification({ entrance: undefined })],
  ['at missing', notification({ at: undefined })],
  ['at not a date-time', notification({ at: 'yesterday' })],
  ['unknown attribute', notification({ priority: '5' })],
  ['reason empty', notification({ event: 'held', reason: '' })],
  ['reason of 257 characters', notification({ event: 'held', reason: 'r'.repeat(257) })],
  ['disposition without code', notification({}, '<disposition>x</disposition>')],
  ['disposition code with a space', notification({}, '<disposition code="not valid">x</disposition>')],
  ['disposition code of 65 characters', notification({}, `<disposition code="${'c'.repeat(65)}">x</disposition>`)],
  ['disposition code empty', notification({}, '<disposition code="">x</disposition>')],
  ['disposition text of 1025 characters', notification({}, `<disposition code="ok">${'t'.repeat(1025)}</disposition>`)],
  ['two dispositions', notification({}, '<disposition code="a">x</disposition><disposition code="b">y</disposition>')],
  ['unknown child', notification({}, '<step at="2026-12-07T10:00:00.000Z" name="ended"/>')],
  ['namespaced', notification({ xmlns: 'urn:workitem' })],
];

describe('<workItemNotification> in schemas/workitem-v1.xsd', () => {
  const docs = [...VALID, ...INVALID].map(([name, xml]) => ({ name, body: Buffer.from(xml, 'utf8') }));
  let results: ReturnType<typeof validateWithXsd>;

  beforeAll(() => {
    results = validateWithXsd(XSD, docs);
  });

  it.each(VALID.map(([name]) => name))('takes: %s', (name) => {
    const r = results.get(name)!;
    expect({ valid: r.valid, root: r.root, errors: r.errors }).toEqual({ valid: true, root: 'workItemNotification', errors: [] });
  });

  it.each(INVALID.map(([name]) => name))('refuses: %s', (name) => {
    const r = results.get(name)!;
    expect({ wellFormed: r.wellFormed, valid: r.valid }).toEqual({ wellFormed: true, valid: false });
  });
});
