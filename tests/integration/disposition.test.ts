import type { ItemHistoryView } from '../../src/ports/item-history';
import { amqpUrl } from '../helpers/broker';
import { runCli } from '../helpers/cli';
import { Fixture } from '../helpers/fixture';
import { DEFAULT_REDIS_URL } from '../helpers/redis';
import { waitUntil } from '../helpers/wait';
import { newExternalId, workItemXml } from '../helpers/work-items';

/** Contract 1.2 "`contact.ended` with a disposition", against the real service, its /metrics and its CLI report. */

jest.setTimeout(120_000);
const WAIT_MS = 30_000;

const f = new Fixture();
beforeAll(() => f.setup(), 60_000);
afterAll(() => f.teardown());

async function accept(): Promise<string> {
  const externalId = newExternalId('DISPO');
  await f.client.publishWorkItem(workItemXml({ externalId, entrance: 'loans' }), { replyTo: true, correlationId: externalId });
  const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.properties.correlationId === externalId);
  expect(r.status).toBe('accepted');
  return r.contactId as string;
}

const history = (contactId: string) => f.api<ItemHistoryView>(`/api/items/${contactId}/history`);
const ended = async (contactId: string) => (await history(contactId)).steps.find((s) => s.step === 'ended');

it('contact.ended with a disposition: the history shows it, /metrics and the report count it by code', async () => {
  const withCode = await accept();
  const malformed = await accept();
  const text = 'Loan approved, customer informed';
  await f.client.publishControl('contact.ended', { contactId: withCode, disposition: { code: 'resolved', text } });
  await f.client.publishControl('contact.ended', { contactId: malformed, disposition: { code: 'not valid!' } });
  await waitUntil(async () => (await ended(withCode)) !== undefined && (await ended(malformed)) !== undefined, {
    timeoutMs: WAIT_MS,
    describe: 'both ended',
  });
  expect(await ended(withCode)).toMatchObject({ step: 'ended', code: 'resolved', reason: text });
  expect(await ended(malformed)).not.toHaveProperty('code');

  const metrics = await (await fetch(`${f.svc.baseUrl}/metrics`)).text();
  expect(metrics).toMatch(
    /workitem_items_total\{outcome="completed",entrance="loans",task_type="test-task",channel="email",code="resolved"\} 1/,
  );
  expect(metrics).toMatch(/workitem_items_total\{outcome="completed",entrance="loans",task_type="test-task",channel="email",code=""\} 1/);

  const env = {
    ...process.env,
    AMQP_URL: amqpUrl(f.vhost),
    REDIS_URL: DEFAULT_REDIS_URL,
    REDIS_KEY_PREFIX: f.prefix,
    WORKITEM_CONFIG: f.svc.configFile,
  };
  const json = await runCli(['report', '--since', '1h', '--json'], env);
  expect(json.code).toBe(0);
  const report = JSON.parse(json.stdout) as { total: { completed: number }; dispositions: Record<string, number> };
  expect(report.total.completed).toBe(2);
  expect(report.dispositions).toEqual({ resolved: 1 });
  const table = await runCli(['report', '--since', '1h'], env);
  expect(table.stdout).toMatch(/DISPOSITION\s+COMPLETED\n\s*resolved\s+1/);
});
