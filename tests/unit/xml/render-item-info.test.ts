import path from 'node:path';
import { parseItemInfo, renderItemInfo } from '../../../src/adapters/xml/render-item-info';
import type { ItemInfo } from '../../../src/domain/receipt';
import { validateWithXsd } from '../../helpers/xsd-validator';

const XSD = path.resolve(__dirname, '../../../schemas/workitem-v1.xsd');
const CID = 'wi-0b5f3c1e-2d4a-4c6b-9e8f-112233445566';

const routed: ItemInfo = {
  externalId: 'A&B <"x">',
  source: 'bank-support',
  contactId: CID,
  state: 'routed',
  entrance: 'loans',
  priority: 5,
  receivedAt: '2026-12-07T10:00:00.000Z',
  updatedAt: '2026-12-07T10:05:00.000Z',
  revision: 3,
  dueAt: '2026-12-24T12:00:00Z',
  expiresAt: '2026-12-31T00:00:00Z',
  steps: [
    { at: '2026-12-07T10:00:00.000Z', name: 'received' },
    { at: '2026-12-07T10:00:00.010Z', name: 'accepted' },
    { at: '2026-12-07T10:05:00.000Z', name: 'updated' },
  ],
};
const ended: ItemInfo = { externalId: 'CASE-1', source: 'bank-support', contactId: CID, state: 'ended', steps: [] };

describe('<workItemInfo> (status query reply)', () => {
  it('renders the contract attributes in order, escaped, and one <step> per history step', () => {
    const xml = renderItemInfo(routed).toString('utf8');
    expect(xml).toContain(
      `<workItemInfo externalId="A&amp;B &lt;&quot;x&quot;&gt;" source="bank-support" contactId="${CID}" state="routed" entrance="loans" priority="5"`,
    );
    expect(xml).toContain('<step at="2026-12-07T10:00:00.000Z" name="received"/>');
    expect(renderItemInfo(ended).toString('utf8')).toContain(
      `<workItemInfo externalId="CASE-1" source="bank-support" contactId="${CID}" state="ended"/>`,
    );
  });

  it('reads back what it renders', () => {
    expect(parseItemInfo(renderItemInfo(routed))).toEqual(routed);
    expect(parseItemInfo(renderItemInfo(ended))).toEqual(ended);
    expect(() => parseItemInfo(Buffer.from('<workItemReceipt status="accepted"/>'))).toThrow(/root element/);
  });

  it('is valid against schemas/workitem-v1.xsd', () => {
    const docs = [
      { name: 'routed', body: renderItemInfo(routed) },
      { name: 'ended', body: renderItemInfo(ended) },
      { name: 'buffered', body: renderItemInfo({ ...ended, state: 'buffered' }) },
      // Contract 1.2: a held item, with the time its hold ends by itself.
      { name: 'held', body: renderItemInfo({ ...routed, state: 'held', heldUntil: '2026-12-08T08:00:00Z' }) },
    ];
    const results = validateWithXsd(XSD, docs);
    for (const d of docs)
      expect({ name: d.name, valid: results.get(d.name)?.valid, errors: results.get(d.name)?.errors }).toEqual({
        name: d.name,
        valid: true,
        errors: [],
      });
  });
});
