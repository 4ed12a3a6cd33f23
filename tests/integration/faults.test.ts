import { Fixture } from '../helpers/fixture';
import { startRedis, type RedisProcess } from '../helpers/redis-process';
import { testRedisClient } from '../helpers/redis';
import { newExternalId, workItemXml } from '../helpers/work-items';
import { sleep, waitUntil } from '../helpers/wait';
import type { TestClient } from '../helpers/amqp-client';

/** Checks every sent item against what the sender and contact center saw: one contactId, ≥ 1 event. */
function ledgerCheck(client: TestClient, ids: string[]) {
  const want = new Set(ids);
  const contactIds = new Map<string, Set<string>>();
  const add = (ext: string | undefined, cid: string | undefined) => {
    if (!ext || !cid || !want.has(ext)) return;
    contactIds.set(ext, (contactIds.get(ext) ?? new Set()).add(cid));
  };
  for (const r of client.receipts) add(r.externalId, r.contactId);
  const withEvent = new Set<string>();
  for (const e of client.events) {
    if (e.event.type !== 'contact.created' || !want.has(e.event.externalId)) continue;
    add(e.event.externalId, e.event.contactId);
    withEvent.add(e.event.externalId);
  }
  const doubleIds = [...contactIds.values()].filter((s) => s.size > 1).length;
  const lost = ids.filter((x) => !withEvent.has(x)).length;
  const noReceipt = ids.filter((x) => !client.receipts.some((r) => r.externalId === x)).length;
  return { lost, doubleIds, noReceipt, contactIds };
}

describe('faults', () => {
  describe('Redis stopped and restarted mid-run', () => {
    let redis: RedisProcess;
    const f = new Fixture();
    beforeAll(async () => {
      redis = await startRedis({ appendonly: true });
      f.serviceOpts = { redisUrl: redis.url };
      await f.setup();
    }, 60_000);
    afterAll(async () => {
      await f.teardown();
      await redis?.stop();
    });

    it('loses nothing: the service pauses while Redis is away and goes on after', async () => {
      const ids: string[] = [];
      const sender = (async () => {
        for (let i = 0; i < 600; i++) {
          const ext = newExternalId(`RO${i}`);
          ids.push(ext);
          await f.client.publishWorkItem(workItemXml({ externalId: ext }), { replyTo: true });
          if (i % 50 === 0) await sleep(20);
        }
      })();
      await sleep(300);
      await redis.kill9();
      await waitUntil(async () => (await fetch(`${f.svc.baseUrl}/readyz`)).status === 503, { timeoutMs: 10_000 });
      await sleep(1500);
      await redis.restart();
      await sender;
      await waitUntil(() => ledgerCheck(f.client, ids).noReceipt === 0 && ledgerCheck(f.client, ids).lost === 0, {
        timeoutMs: 90_000,
        intervalMs: 500,
        describe: () => {
          const c = ledgerCheck(f.client, ids);
          return `lost=${c.lost} double_ids=${c.doubleIds} missing_receipts=${c.noReceipt}; log ${f.svc.logFile}`;
        },
      });
      const r = ledgerCheck(f.client, ids);
      expect({ lost: r.lost, doubleIds: r.doubleIds, noReceipt: r.noReceipt }).toEqual({ lost: 0, doubleIds: 0, noReceipt: 0 });
      expect(f.client.errors).toHaveLength(0);
      await waitUntil(async () => (await fetch(`${f.svc.baseUrl}/readyz`)).status === 200, { timeoutMs: 10_000 });
    }, 120_000);
  });

  describe('kill -9 of the service at random points', () => {
    const f = new Fixture();
    beforeAll(() => f.setup(), 60_000);
    afterAll(() => f.teardown());

    it('5 000 items, three crashes: each item exactly one contactId, unfinished in Redis, none missing', async () => {
      const N = 5000;
      const ids: string[] = [];
      let sending = true;
      const sender = (async () => {
        for (let i = 0; i < N; i++) {
          const ext = newExternalId(`K${i}`);
          ids.push(ext);
          await f.client.publishWorkItem(workItemXml({ externalId: ext }), { replyTo: true });
        }
        sending = false;
      })();
      for (let k = 0; k < 3; k++) {
        await sleep(300 + Math.random() * 1200);
        await f.svc.kill9();
        await sleep(200);
        f.svc = await f.start({ httpPort: f.svc.port });
      }
      await sender;
      expect(sending).toBe(false);
      await waitUntil(() => ledgerCheck(f.client, ids).noReceipt === 0 && ledgerCheck(f.client, ids).lost === 0, {
        timeoutMs: 180_000,
        intervalMs: 1000,
        describe: () => {
          const c = ledgerCheck(f.client, ids);
          const sample = ids.filter((x) => !f.client.receipts.some((r) => r.externalId === x)).slice(0, 5);
          return `lost=${c.lost} double_ids=${c.doubleIds} missing_receipts=${c.noReceipt} e.g. ${sample.join(',')}; log ${f.svc.logFile}`;
        },
      });
      const r = ledgerCheck(f.client, ids);
      expect({ lost: r.lost, doubleIds: r.doubleIds }).toEqual({ lost: 0, doubleIds: 0 });
      // Redis holds each item as unfinished, with the contactId the sender was told.
      const redis = testRedisClient();
      try {
        const index = await redis.hgetall(`${f.prefix}ext`);
        const missing = ids.filter((ext) => index[`bank-support|${ext}`] !== [...(r.contactIds.get(ext) ?? [])][0]);
        expect(missing).toHaveLength(0);
        expect(await redis.zcard(`${f.prefix}unfinished`)).toBe(N);
      } finally {
        await redis.quit();
      }
      expect(f.client.errors).toHaveLength(0);
    }, 240_000);
  });
});
