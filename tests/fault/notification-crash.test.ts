import { NOTIFY_FAULT_STEPS, type FaultStep } from '../../src/application/deps';
import { TestClient } from '../helpers/amqp-client';
import { amqpUrl, createVhost, deleteVhost } from '../helpers/broker';
import { processState } from '../helpers/process-state';
import { DEFAULT_REDIS_URL, deleteByPrefix, randomPrefix } from '../helpers/redis';
import { startService, type ServiceHandle } from '../helpers/service';
import { sleep, waitUntil } from '../helpers/wait';
import { newExternalId, workItemXml } from '../helpers/work-items';

/**
 * Issue 24 part 1: a notification is never lost. Instance A ends items (their `ended` notifications written with the
 * end, in the outbox) and stops itself (FAULT_STOP_AT, SIGSTOP) at a step of its relay round: right after taking them
 * from the outbox, or after the broker confirmed them and before removing them. The test kills it (SIGKILL); instance
 * B must publish every one of them, each with the id A wrote (a copy A had already published has the same id).
 * The transitions themselves write their notification in the same Lua script as the state change, so a kill before
 * or inside one leaves either both or neither; the relay's steps are the only windows left, and this covers them.
 */
jest.setTimeout(120_000);

const ITEMS = 20;
const LEASE_SECONDS = 2;
const config = { notifications: { leaseSeconds: LEASE_SECONDS } };

describe('a notification relay killed at any step', () => {
  const summary: string[] = [];
  afterAll(() => console.log(`notification relay kill -9 (${ITEMS} ended items each):\n${summary.join('\n')}`));

  it.each(NOTIFY_FAULT_STEPS.map((s) => [s]))(
    'killed at %s: every ended item is notified, with the id written at the end',
    async (step: FaultStep) => {
      const vhost = await createVhost();
      const prefix = randomPrefix();
      const client = await TestClient.connect(amqpUrl(vhost));
      const services: ServiceHandle[] = [];
      try {
        await client.bindEvents('contact.created.#');
        await client.bindNotifications('#');
        await client.replyQueue();
        const a = await startService({ vhost, prefix, config, env: { FAULT_STOP_AT: step } });
        services.push(a);
        const ids: string[] = [];
        for (let i = 0; i < ITEMS; i++) {
          const ext = newExternalId(`NOTE${i}`);
          ids.push(ext);
          await client.publishWorkItem(workItemXml({ externalId: ext, entrance: 'loans' }), { replyTo: true });
        }
        const receipts = await client.waitForReceipts(ITEMS, 20_000, (r) => ids.includes(r.externalId ?? ''));
        const contactIds = receipts.map((r) => r.contactId as string);
        // Ended in one go, so A's relay takes them together (its first round with anything to take stops it).
        for (const contactId of contactIds) await client.publishControl('contact.ended', { contactId });
        await waitUntil(() => processState(a.pid) === 'T', { timeoutMs: 15_000, describe: `instance A stopped at ${step}` });
        const before = client.notifications.length;
        await a.kill9();
        const t0 = Date.now();
        const b = await startService({ vhost, prefix, config });
        services.push(b);
        const ended = () => new Set(client.notifications.filter((n) => n.event === 'ended').map((n) => n.contactId));
        await waitUntil(() => contactIds.every((c) => ended().has(c)), {
          timeoutMs: 30_000,
          describe: `every item's ended notification (${ended().size} of ${ITEMS} so far)`,
        });
        const allMs = Date.now() - t0;
        await sleep(LEASE_SECONDS * 1000 + 2500);
        const mine = client.notifications.filter((n) => n.event === 'ended' && contactIds.includes(n.contactId));
        // One id per item, however many copies.
        for (const c of contactIds) {
          const copies = mine.filter((n) => n.contactId === c);
          expect(new Set(copies.map((n) => n.messageId)).size).toBe(1);
          expect(copies[0].messageId).toMatch(new RegExp(`^${c}\\.\\d+\\.ended$`));
        }
        summary.push(
          `  ${step} + kill: ${ITEMS}/${ITEMS} ended notifications ${allMs} ms after the kill; ${before} published by A before it; ` +
            `${mine.length - ITEMS} duplicate(s), same ids`,
        );
      } finally {
        for (const s of services) await s.stop('SIGKILL').catch(() => undefined);
        await client.close().catch(() => undefined);
        await deleteVhost(vhost);
        await deleteByPrefix(DEFAULT_REDIS_URL, prefix);
      }
    },
  );
});
