import type { ItemHistoryView } from '../../src/ports/item-history';
import { Fixture } from '../helpers/fixture';
import { waitUntil } from '../helpers/wait';
import { newExternalId, workItemXml } from '../helpers/work-items';

/** Task types part 3: an unfinished item's dueAt passing, against the real service: history, /metrics counter and gauge. */

jest.setTimeout(60_000);
const WAIT_MS = 20_000;

const f = new Fixture();
beforeAll(() => f.setup(), 60_000);
afterAll(() => f.teardown());

const history = (contactId: string) => f.api<ItemHistoryView>(`/api/items/${contactId}/history`);
const metrics = async () => (await fetch(`${f.svc.baseUrl}/metrics`)).text();

it('an item whose dueAt passes is overdue within seconds: history step, workitem_overdue_total, the gauge until its End', async () => {
  const externalId = newExternalId('OVERDUE');
  const dueAt = new Date(Date.now() + 2_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  await f.client.publishWorkItem(workItemXml({ externalId, entrance: 'loans', dueAt }), { replyTo: true, correlationId: externalId });
  const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.properties.correlationId === externalId);
  expect(r.status).toBe('accepted');
  const contactId = r.contactId as string;
  expect(await metrics()).toMatch(/^workitem_overdue\{entrance="loans"\} 0$/m);

  const start = Date.now();
  await waitUntil(async () => (await history(contactId)).steps.some((s) => s.step === 'overdue'), {
    timeoutMs: WAIT_MS,
    describe: 'the overdue step',
  });
  // Due in at most 2 s, seen within the poller's wake-up (its own nudge: on time).
  expect(Date.now() - start).toBeLessThan(5_000);
  const step = (await history(contactId)).steps.find((s) => s.step === 'overdue');
  expect(step).toMatchObject({ reason: `dueAt ${dueAt} passed` });
  expect(Date.parse(step!.at)).toBeGreaterThanOrEqual(Date.parse(dueAt));
  const text = await metrics();
  expect(text).toMatch(/^workitem_overdue_total\{task_type="test-task",entrance="loans"\} 1$/m);
  expect(text).toMatch(/^workitem_overdue\{entrance="loans"\} 1$/m);

  await f.client.publishControl('contact.ended', { contactId });
  await waitUntil(async () => /^workitem_overdue\{entrance="loans"\} 0$/m.test(await metrics()), {
    timeoutMs: WAIT_MS,
    describe: 'the gauge back to 0 after End',
  });
  expect(await metrics()).toMatch(/^workitem_overdue_total\{task_type="test-task",entrance="loans"\} 1$/m);
});
