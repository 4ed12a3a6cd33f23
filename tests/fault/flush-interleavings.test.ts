import { FLUSH_FAULT_STEPS, type FaultStep } from '../../src/application/deps';
import { TestClient } from '../helpers/amqp-client';
import { amqpUrl, createVhost, deleteVhost } from '../helpers/broker';
import { httpRequest } from '../helpers/http';
import { processState } from '../helpers/process-state';
import { DEFAULT_REDIS_URL, deleteByPrefix, randomPrefix } from '../helpers/redis';
import { startService, type ServiceHandle } from '../helpers/service';
import { sleep, waitUntil } from '../helpers/wait';
import { newExternalId, workItemXml } from '../helpers/work-items';

/**
 * Issue 22 part 2: no item stranded by a lost flush. Two instances; instance A takes the `entrance.opened` of an
 * entrance with parked items and stops itself (FAULT_STOP_AT, SIGSTOP) at each step of its flush in turn; the test
 * then kills it (SIGKILL) or keeps it frozen past its lease before waking it (SIGCONT), while instance B runs on.
 * Every parked item must reach the contact center (a contact.created with its one contactId), the entrance must end
 * with nothing parked, and nothing may go to the error queue. Duplicate events (same contactId, e.g. from a frozen
 * flusher that wakes up and publishes what another already did) are allowed by the contract and reported.
 * Each item's sender must also hear `routed` (issue 24: written with the routing, published once its event is confirmed
 * or, when the flusher died before that, once the lease ran out): at least once, one notification id per item.
 */
jest.setTimeout(120_000);

const ITEMS = 40;
const LEASE_SECONDS = 3;
const RETRY_SECONDS = 2;
/** Park retry + lease + the parked watch's look (10 s) + slack: every item must be through within this. */
const BOUND_MS = 40_000;

const config = { park: { retrySeconds: RETRY_SECONDS, flushLeaseSeconds: LEASE_SECONDS } };

describe('a reopen flush lost at any step', () => {
  const cases: [FaultStep, 'kill' | 'freeze'][] = FLUSH_FAULT_STEPS.flatMap((s) => [
    [s, 'kill'] as [FaultStep, 'kill'],
    [s, 'freeze'] as [FaultStep, 'freeze'],
  ]);
  const summary: string[] = [];
  afterAll(() => {
    // One line per case for the closing note and docs/reliability.md.
    console.log(`flush interleavings (${ITEMS} parked items each):\n${summary.join('\n')}`);
  });

  it.each(cases)('stopped at %s, then %s: every parked item reaches the contact center', async (step, action) => {
    const vhost = await createVhost();
    const prefix = randomPrefix();
    const client = await TestClient.connect(amqpUrl(vhost));
    const services: ServiceHandle[] = [];
    try {
      await client.bindEvents('contact.created.#');
      await client.bindNotifications('#');
      await client.bindErrors();
      await client.replyQueue();
      const a = await startService({ vhost, prefix, config, env: { FAULT_STOP_AT: step } });
      services.push(a);
      await client.publishControl('entrance.closed', { entrance: 'loans' });
      await waitUntil(async () => (await entrance(a)).state === 'closed', { timeoutMs: 10_000, describe: 'loans closed' });
      const ids: string[] = [];
      for (let i = 0; i < ITEMS; i++) {
        const ext = newExternalId(`FLUSH${i}`);
        ids.push(ext);
        await client.publishWorkItem(workItemXml({ externalId: ext, entrance: 'loans' }), { replyTo: true });
      }
      const receipts = await client.waitForReceipts(ITEMS, 20_000, (r) => ids.includes(r.externalId ?? ''));
      expect(receipts.every((r) => r.status === 'buffered')).toBe(true);
      const contactIds = new Map(receipts.map((r) => [r.externalId ?? '', r.contactId ?? '']));

      await client.publishControl('entrance.opened', { entrance: 'loans' });
      await waitUntil(() => processState(a.pid) === 'T', { timeoutMs: 15_000, describe: `instance A stopped at ${step}` });
      const b = await startService({ vhost, prefix, config });
      services.push(b);
      const t0 = Date.now();
      // kill: gone for good. freeze: A stays stopped until every item is through, so B must go on without it (past
      // A's lease); it wakes up only afterwards, and what it then does (publish again, find its lease lost) must harm
      // nothing.
      if (action === 'kill') await a.kill9();
      const delivered = () => new Set(client.events.filter((e) => ids.includes(e.event.externalId)).map((e) => e.event.externalId));
      await waitUntil(() => delivered().size === ITEMS, {
        timeoutMs: BOUND_MS,
        describe: `all ${ITEMS} items delivered (${delivered().size} so far)`,
      });
      const allMs = Date.now() - t0;
      if (action === 'freeze') {
        process.kill(a.pid, 'SIGCONT');
        await sleep(3000);
      }
      await waitUntil(async () => (await entrance(b)).parked === 0, { timeoutMs: 15_000, describe: 'nothing parked' });
      await sleep(1000);
      const events = client.events.filter((e) => ids.includes(e.event.externalId));
      // One contactId per item, the one its receipt named.
      for (const e of events) expect(e.event.contactId).toBe(contactIds.get(e.event.externalId));
      expect(client.errors).toHaveLength(0);
      const cids = [...contactIds.values()];
      const routedNotes = () => client.notifications.filter((n) => n.event === 'routed' && cids.includes(n.contactId));
      const notified = () => new Set(routedNotes().map((n) => n.contactId));
      await waitUntil(() => notified().size === ITEMS, {
        timeoutMs: LEASE_SECONDS * 1000 + 10_000,
        describe: `every item's routed notification (${notified().size} so far)`,
      });
      await sleep(2500);
      const notes = routedNotes();
      // An item the frozen flusher put back when it woke (its publish failed) was routed again: its sender heard
      // `buffered` in between and then a second `routed` (a new id). Otherwise one id per item, however many copies.
      let again = 0;
      for (const c of cids) {
        const ids = new Set(notes.filter((n) => n.contactId === c).map((n) => n.messageId)).size;
        const buffered = client.notifications.filter((n) => n.event === 'buffered' && n.contactId === c).length;
        expect({ contactId: c, routedIds: ids }).toEqual({ contactId: c, routedIds: buffered + 1 });
        again += buffered;
      }
      summary.push(
        `  ${step} + ${action}: all ${ITEMS} delivered ${allMs} ms after the fault; ${events.length - ITEMS} duplicate event(s); ` +
          `routed notified ${ITEMS}/${ITEMS} (${again} sent back and routed again), ${notes.length - ITEMS - again} duplicate(s) (same id)`,
      );
    } finally {
      for (const s of services) await s.stop('SIGKILL').catch(() => undefined);
      await client.close().catch(() => undefined);
      await deleteVhost(vhost);
      await deleteByPrefix(DEFAULT_REDIS_URL, prefix);
    }
  });
});

async function entrance(s: ServiceHandle): Promise<{ state: string; parked: number }> {
  const r = await httpRequest(`${s.baseUrl}/api/entrances`);
  const { entrances } = JSON.parse(r.body.toString()) as { entrances: { name: string; state: string; parked: number }[] };
  const e = entrances.find((x) => x.name === 'loans');
  if (!e) throw new Error('no entrance loans');
  return e;
}
