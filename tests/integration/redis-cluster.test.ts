import type { Cluster } from 'ioredis';
import { Fixture } from '../helpers/fixture';
import { startRedisCluster, testClusterClient, type RedisClusterHandle } from '../helpers/redis-cluster';
import type { ServiceHandle } from '../helpers/service';
import { holdXml, newExternalId, resumeXml, workItemXml } from '../helpers/work-items';
import { sleep, waitUntil } from '../helpers/wait';

/**
 * The whole pipeline on a Redis Cluster of 3 masters + 3 replicas that the test starts (REDIS_CLUSTER_NODES):
 * accept, duplicate, park and flush, End, replay after a restart, leases with two instances, and a kill -9 of the
 * master that serves the deployment's slot while items flow: its replica takes over, and every item is still
 * accepted once, with one contactId, and kept in Redis (REDIS_WAIT_REPLICAS=1 makes each write reach the replica
 * before its event is published).
 */

const WAIT_MS = 30_000;

describe('the pipeline on a Redis Cluster (3 masters + 3 replicas)', () => {
  let cluster: RedisClusterHandle;
  let redis: Cluster;
  const f = new Fixture();
  let second: ServiceHandle | undefined;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 2000 });
    redis = testClusterClient(cluster.seeds);
    await redis.connect();
    f.serviceOpts = {
      env: { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '500' },
      config: { park: { retrySeconds: 2 }, taskTypes: { 'cl-esc': { escalation: [{ after: 'PT0S', priority: 9 }] } } },
    };
    await f.setup();
  }, 60_000);

  afterAll(async () => {
    await second?.stop().catch(() => undefined);
    await f.teardown();
    redis?.disconnect();
    await cluster?.stop();
  }, 60_000);

  const tag = () => `{${f.prefix}}`;

  /** Sends items and returns externalId → contactId from their receipts (each status as given). */
  async function send(exts: string[], entrance = 'loans', status = 'accepted'): Promise<Map<string, string>> {
    for (const ext of exts) await f.client.publishWorkItem(workItemXml({ externalId: ext, entrance }), { replyTo: true });
    const set = new Set(exts);
    const receipts = await f.client.waitForReceipts(exts.length, WAIT_MS, (r) => set.has(r.externalId ?? '') && r.status === status);
    return new Map(receipts.map((r) => [r.externalId!, r.contactId!]));
  }

  const created = (contactId: string) =>
    f.client.events.filter((e) => e.event.type === 'contact.created' && e.event.contactId === contactId && !e.event.replayed);

  it('accepts, answers a duplicate, and keeps every key of the deployment in one slot', async () => {
    const exts = Array.from({ length: 10 }, (_, i) => newExternalId(`CL${i}`));
    const ids = await send(exts);
    await f.client.waitForEvents(10, WAIT_MS, (e) => [...ids.values()].includes(e.event.contactId));
    await f.client.publishWorkItem(workItemXml({ externalId: exts[0] }), { replyTo: true, correlationId: 'dup' });
    const [dup] = await f.client.waitForReceipts(1, WAIT_MS, (r) => r.properties.correlationId === 'dup');
    expect(dup.status).toBe('duplicate');
    expect(dup.contactId).toBe(ids.get(exts[0]));

    // Every key carries the prefix as hash tag, on the one master that serves its slot.
    const { master } = await cluster.ownerOf(tag());
    const perNode = await Promise.all(
      cluster.nodes.map(async (n) => {
        const node = redis.nodes('master').find((m) => m.options.port === n.port);
        return node ? ((await node.keys(`*${f.prefix}*`)) as string[]) : [];
      }),
    );
    const all = perNode.flat();
    expect(all.length).toBeGreaterThan(10);
    expect(all.every((k) => k.startsWith(tag()))).toBe(true);
    expect(perNode[cluster.nodes.indexOf(master)]).toHaveLength(all.length);
    expect(await redis.exists(`${tag()}item:${ids.get(exts[1])}`)).toBe(1);
  }, 60_000);

  it('parks at a closed entrance and flushes in order when it opens; End removes an item', async () => {
    await f.setEntrance('support', false);
    const exts = Array.from({ length: 5 }, (_, i) => newExternalId(`CLP${i}`));
    const ids = await send(exts, 'support', 'buffered');
    await waitUntil(async () => (await f.entrance('support')).parked === 5, { timeoutMs: WAIT_MS, describe: 'support parked 5' });
    await f.setEntrance('support', true);
    const events = await f.client.waitForEvents(5, WAIT_MS, (e) => e.event.type === 'contact.created' && exts.includes(e.event.externalId));
    expect(events.map((e) => e.event.externalId)).toEqual(exts);
    expect(events.map((e) => e.event.contactId)).toEqual(exts.map((x) => ids.get(x)));

    const cid = ids.get(exts[0])!;
    await f.client.publishControl('contact.ended', { contactId: cid });
    await waitUntil(async () => (await redis.exists(`${tag()}item:${cid}`)) === 0, { timeoutMs: WAIT_MS, describe: 'ended item gone' });
    expect(await redis.get(`${tag()}tomb:${cid}`)).toBe('ended');
  }, 60_000);

  it('replays the unfinished items after a restart', async () => {
    const unfinished = await redis.zcard(`${tag()}unfinished`);
    expect(unfinished).toBeGreaterThan(10);
    // A replay that finished moments ago (this instance's own, at its start) makes a start skip its replay.
    await waitUntil(async () => (await redis.exists(`${tag()}marker:replay-done`)) === 0, {
      timeoutMs: WAIT_MS,
      describe: 'replay marker gone',
    });
    const before = f.client.events.filter((e) => e.event.replayed).length;
    await f.restart();
    await waitUntil(() => f.client.events.filter((e) => e.event.replayed).length - before >= unfinished, {
      timeoutMs: WAIT_MS,
      describe: `${unfinished} replayed events`,
    });
  }, 60_000);

  it('holds and resumes (contract 1.2): contact.withdrawn held, contact.created resumed; an until resumes on time', async () => {
    const [a, b] = [newExternalId('CLH'), newExternalId('CLH')];
    const ids = await send([a, b]);
    const until = new Date(Date.now() + 2_000).toISOString();
    for (const [ext, extra] of [
      [a, {}],
      [b, { until }],
    ] as const) {
      await f.client.publishWorkItem(holdXml({ externalId: ext, ...extra }), { replyTo: true, correlationId: `hold-${ext}` });
      const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.properties.correlationId === `hold-${ext}`);
      expect(r).toMatchObject({ status: 'held', contactId: ids.get(ext) });
    }
    await f.client.waitForEvents(2, WAIT_MS, (e) => e.event.reason === 'held' && [...ids.values()].includes(e.event.contactId));
    expect(await redis.hget(`${tag()}item:${ids.get(a)}`, 'state')).toBe('held');
    expect(await redis.zscore(`${tag()}due:resume`, ids.get(b)!)).toBe(String(Date.parse(until)));
    await f.client.publishWorkItem(resumeXml({ externalId: a }), { replyTo: true });
    const resumed = await f.client.waitForEvents(
      2,
      WAIT_MS,
      (e) => e.event.resumed === true && [...ids.values()].includes(e.event.contactId),
    );
    expect(resumed.map((e) => e.event.contactId).sort()).toEqual([...ids.values()].sort());
    const late = Date.parse(String(resumed.find((e) => e.event.contactId === ids.get(b))?.event.createdAt)) - Date.parse(until);
    expect(late).toBeLessThan(5_000);
    expect(await redis.zcard(`${tag()}due:resume`)).toBe(0);
  }, 60_000);

  it('escalates (contract 1.2): contact.updated reason escalation at the rule time; due:escalate emptied', async () => {
    const ext = newExternalId('CLE');
    const dueAt = new Date(Date.now() + 4_000).toISOString();
    await f.client.publishWorkItem(workItemXml({ externalId: ext, taskType: 'cl-esc', priority: 5, dueAt }), { replyTo: true });
    const [r] = await f.client.waitForReceipts(1, WAIT_MS, (x) => x.externalId === ext);
    expect(await redis.zscore(`${tag()}due:escalate`, r.contactId!)).toBe(String(Date.parse(dueAt)));
    const [e] = await f.client.waitForEvents(1, WAIT_MS, (x) => x.event.contactId === r.contactId && x.event.reason === 'escalation');
    expect(e.event).toMatchObject({ type: 'contact.updated', priority: 9, changed: ['priority'] });
    expect(Date.parse(String(e.event.createdAt)) - Date.parse(dueAt)).toBeLessThan(5_000);
    expect(await redis.zcard(`${tag()}due:escalate`)).toBe(0);
    await waitUntil(async () => (await redis.zcard(`${tag()}due:escalate:claimed`)) === 0, {
      timeoutMs: WAIT_MS,
      describe: 'claim finished',
    });
  }, 60_000);

  it('two instances: one flush per reopen (its lease), each parked item routed once', async () => {
    second = await f.start();
    await f.setEntrance('social', false);
    const exts = Array.from({ length: 6 }, (_, i) => newExternalId(`CL2${i}`));
    const ids = await send(exts, 'social', 'buffered');
    await f.setEntrance('social', true);
    await f.client.waitForEvents(6, WAIT_MS, (e) => e.event.type === 'contact.created' && exts.includes(e.event.externalId));
    await sleep(1_000); // a second flush, had the lease not held it off, would publish by now
    for (const cid of ids.values()) expect(created(cid)).toHaveLength(1);
    expect(await redis.get(`${tag()}fence:flush:social`)).not.toBeNull();
  }, 60_000);

  it('a kill -9 of the master serving the slot mid-run: its replica takes over, no item lost or accepted twice', async () => {
    const { master, replicas } = await cluster.ownerOf(tag());
    expect(replicas).toHaveLength(1);
    const exts = Array.from({ length: 60 }, (_, i) => newExternalId(`CLF${i}`));
    let sent = 0;
    const sending = (async () => {
      for (const ext of exts) {
        await f.client.publishWorkItem(workItemXml({ externalId: ext }), { replyTo: true });
        sent++;
        await sleep(50);
      }
    })();
    await waitUntil(() => sent >= 15, { timeoutMs: WAIT_MS, describe: '15 items sent' });
    const killedAt = Date.now();
    await master.kill9();
    await cluster.waitHealthy(tag(), WAIT_MS);
    const promoted = await cluster.ownerOf(tag());
    expect(promoted.master.port).toBe(replicas[0].port);
    console.log(`replica took over ${Date.now() - killedAt} ms after the kill`);
    // The old master comes back as a replica of the new one (until then WAIT has no replica to wait for).
    await master.restart();
    await sending;
    const t0 = Date.now();

    const set = new Set(exts);
    await f.client.waitForReceipts(exts.length, 60_000, (r) => set.has(r.externalId ?? '') && r.status === 'accepted');
    await f.client.waitForEvents(exts.length, 60_000, (e) => e.event.type === 'contact.created' && set.has(e.event.externalId));
    console.log(`all ${exts.length} accepted and routed ${Date.now() - t0} ms after the last was sent`);

    const contactIds = new Map<string, Set<string>>();
    for (const r of f.client.receipts.filter((x) => set.has(x.externalId ?? ''))) {
      if (!contactIds.has(r.externalId!)) contactIds.set(r.externalId!, new Set());
      contactIds.get(r.externalId!)!.add(r.contactId!);
    }
    for (const e of f.client.events.filter((x) => x.event.type === 'contact.created' && set.has(x.event.externalId))) {
      contactIds.get(e.event.externalId)!.add(e.event.contactId);
    }
    expect([...contactIds.values()].map((s) => s.size)).toEqual(exts.map(() => 1));
    const stored = await Promise.all(exts.map((x) => redis.hget(`${tag()}ext`, `bank-support|${x}`)));
    expect(stored).toEqual(exts.map((x) => [...contactIds.get(x)!][0]));
    const items = await Promise.all(stored.map((cid) => redis.hget(`${tag()}item:${cid}`, 'state')));
    expect(items).toEqual(exts.map(() => 'routed'));
    expect(f.svc.logs.some((l) => /"level":"error"/.test(l) && /lost|unhandled/i.test(l))).toBe(false);
  }, 120_000);
});
