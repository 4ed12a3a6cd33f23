import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { httpRequest } from '../helpers/http';
import { startRabbitCluster, waitForNodeRunning, type RabbitCluster, type RabbitClusterNode } from '../helpers/rabbit-cluster';
import { randomPrefix, testRedisClient } from '../helpers/redis';
import { startSentinelSet, type SentinelSet } from '../helpers/redis-sentinel';
import { LOG_DIR, startService, type ServiceHandle } from '../helpers/service';
import { sleep, waitUntil } from '../helpers/wait';
import { workItemXml } from '../helpers/work-items';
import { CC_EVENTS_QUEUE, ContactCenter, declareTestQueues, ledger, LedgerSender, type SeenEvent } from './cluster-clients';

/**
 * Issue 9: the service scaled out. A real 3-node RabbitMQ cluster and Redis master + replica + 3 Sentinels
 * (local processes), two service instances, 10 000 work items; while they flow, kill -9 the broker node
 * the services are connected to, then the Redis master. The sender's ledger must show 0 lost and 0 items
 * with two contactIds. Prints (and writes to LOG_DIR/cluster-summary-*.json) the recovery times.
 *
 * Knobs: CLUSTER_ITEMS (default 10000); CLUSTER_RATE (items/s the sender offers, default 200: slow enough
 * that both faults hit a flowing stream); CLUSTER_TEST_QUEUES_LEADER (first | other, see below);
 * CLUSTER_SERVICE_ENTRY (another build's main.js).
 */

const N = Number(process.env.CLUSTER_ITEMS ?? 10_000);
const RATE = Number(process.env.CLUSTER_RATE ?? 200);
/**
 * Where the contact center's and the sender's queues get their Raft leader: `first` = node 1, the node the
 * services connect to first and so the one killed (the worst case: a third of all queues in a real
 * cluster lead there), `other` = node 2.
 */
const TEST_QUEUES_LEADER = process.env.CLUSTER_TEST_QUEUES_LEADER ?? 'first';
const BROKER_FAULT_AT = 0.2;
const REDIS_FAULT_AT = 0.6;
const RECOVERY_TIMEOUT_MS = 120_000;

interface ReadySample {
  atMs: number;
  ready: boolean[];
}

interface FaultReport {
  fault: string;
  target: string;
  atItems: number;
  killedAt: string;
  /** kill → all Sentinels name the new master (Redis only). */
  failoverMs?: number;
  /** kill → first contact.created event created for an item accepted after the kill. */
  eventsFlowAgainMs: number;
  /** Longest gap between consecutive events created around the fault (whoever published them). */
  longestEventGapMs: number;
  /** kill → every instance's /readyz answered 200 again (after having dropped), if it dropped. */
  readyAgainMs?: number;
  /** The lost node brought back: kill → it runs in the cluster again / is a replica again. */
  restoredMs?: number;
  /** Items (first contact.created per item) created per second in the 10 s before the kill … */
  itemsPerSecBefore?: number;
  /** … and from the kill until the lost node was back. */
  itemsPerSecUntilRestored?: number;
}

function log(msg: string, extra?: unknown): void {
  process.stdout.write(
    `[cluster] ${new Date().toISOString().slice(11, 23)} ${msg}${extra === undefined ? '' : ` ${JSON.stringify(extra)}`}\n`,
  );
}

/** First event created for an item whose Redis state was written after `t` (so: after the fault). */
function eventsFlowAgain(events: SeenEvent[], t: number): number | undefined {
  let best: number | undefined;
  for (const e of events) {
    if (e.type !== 'contact.created' || !(e.receivedAtMs > t)) continue;
    if (best === undefined || e.createdAtMs < best) best = e.createdAtMs;
  }
  return best === undefined ? undefined : best - t;
}

function longestGap(events: SeenEvent[], from: number, to: number): number {
  const times = events
    .filter((e) => e.type === 'contact.created' && e.createdAtMs >= from && e.createdAtMs <= to)
    .map((e) => e.createdAtMs)
    .sort((a, b) => a - b);
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
  return gap;
}

/** Items whose first contact.created event was created in [from, to), per second. */
function rate(events: SeenEvent[], from: number, to: number): number {
  const first = new Map<string, number>();
  for (const e of events) {
    if (e.type !== 'contact.created') continue;
    const t = first.get(e.externalId);
    if (t === undefined || e.createdAtMs < t) first.set(e.externalId, e.createdAtMs);
  }
  let n = 0;
  for (const t of first.values()) if (t >= from && t < to) n++;
  return Math.round((n / Math.max(1, to - from)) * 1000 * 10) / 10;
}

function readyAgain(samples: ReadySample[], t: number): number | undefined {
  const after = samples.filter((s) => s.atMs >= t);
  const lastDown = [...after].reverse().find((s) => s.ready.some((r) => !r));
  if (!lastDown) return undefined;
  const up = after.find((s) => s.atMs > lastDown.atMs && s.ready.every(Boolean));
  return up ? up.atMs - t : undefined;
}

describe('scale-out: 3-node RabbitMQ cluster, Redis Sentinel, 2 service instances', () => {
  let cluster: RabbitCluster | undefined;
  let redis: SentinelSet | undefined;
  const services: ServiceHandle[] = [];
  let cc: ContactCenter | undefined;
  let sender: LedgerSender | undefined;
  let polling = false;
  const samples: ReadySample[] = [];
  const prefix = randomPrefix();

  afterAll(async () => {
    polling = false;
    await sender?.stop().catch(() => undefined);
    await cc?.stop().catch(() => undefined);
    await Promise.all(services.map((s) => s.stop('SIGTERM', 15_000).catch(() => undefined)));
    await redis?.stop().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
  }, 120_000);

  it(`flows ${N} items through a broker-node loss and a Redis failover: 0 lost, 0 items with two contactIds`, async () => {
    const t0 = Date.now();
    // Started side by side; whichever starts is kept for afterAll even if the other fails.
    const started = await Promise.allSettled([
      startRabbitCluster({ size: 3 }).then((c) => (cluster = c)),
      startSentinelSet({ replicas: 1, sentinels: 3, quorum: 2 }).then((r) => (redis = r)),
    ]);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    if (!cluster || !redis) throw new Error('cluster or sentinel set missing');
    await redis.waitUntilHealthy(1);
    log('cluster and sentinel set up', {
      ms: Date.now() - t0,
      nodes: cluster.nodes.map((n) => `${n.name}:${n.port}`),
      redisMaster: (await redis.master()).port,
      sentinels: redis.sentinelList,
    });

    // Queues are declared only now that all three nodes have joined, so each gets three replicas.
    await declareTestQueues(cluster.urls[TEST_QUEUES_LEADER === 'first' ? 0 : 1]);
    const env = {
      AMQP_URL: cluster.amqpUrl,
      REDIS_SENTINELS: redis.sentinelList,
      REDIS_MASTER_NAME: redis.masterName,
      REDIS_WAIT_REPLICAS: '1',
      REQUIRE_DURABLE_REDIS: 'true',
    };
    for (let i = 0; i < 2; i++) {
      // REDIS_URL points nowhere on purpose: in Sentinel mode it only supplies credentials.
      services.push(
        await startService({
          vhost: `cluster-${i + 1}`, // only names the log file: AMQP_URL below replaces the helper's URL
          prefix,
          redisUrl: 'redis://127.0.0.1:1',
          env,
          readyTimeoutMs: 60_000,
          entry: process.env.CLUSTER_SERVICE_ENTRY,
        }),
      );
    }
    const members = await cluster.quorumMembers('workitem.inbound');
    log('services ready; workitem.inbound replicas', members);
    log(`${CC_EVENTS_QUEUE} replicas`, await cluster.quorumMembers(CC_EVENTS_QUEUE));
    expect(members).toHaveLength(3);

    polling = true;
    void (async () => {
      while (polling) {
        const ready = await Promise.all(
          services.map((s) =>
            httpRequest(`${s.baseUrl}/readyz`, { timeoutMs: 1_000 })
              .then((r) => r.status === 200)
              .catch(() => false),
          ),
        );
        samples.push({ atMs: Date.now(), ready });
        await sleep(200);
      }
    })();

    cc = new ContactCenter(cluster.urls, 1);
    await cc.start();
    const items = new Map<string, string>();
    for (let i = 0; i < N; i++) {
      const ext = `SCALE-${prefix.slice(1, 7)}-${String(i).padStart(5, '0')}`;
      items.set(ext, workItemXml({ externalId: ext, entrance: ['loans', 'support'][i % 2] }));
    }
    const ids = [...items.keys()];
    // The sender starts on node 1 like the services, so the broker fault hits it too.
    sender = new LedgerSender(cluster.urls, items, RATE, 500, 0);
    const flowStart = Date.now();
    sender.start();
    const progress = setInterval(() => {
      log('progress', { confirmed: sender!.confirmed.size, itemsWithEvent: cc!.itemsWithEvent, resent: sender!.resent });
    }, 5_000);
    const faults: FaultReport[] = [];

    const assertStillFlowing = (fault: string): void => {
      if (cc!.itemsWithEvent >= N) {
        throw new Error(`every item was through before the ${fault} fault, which would hit no flow: lower CLUSTER_RATE (${RATE})`);
      }
    };
    let failure: unknown;
    try {
      // ---- Fault 1: kill -9 the broker node the services are connected to -------------------------------
      await waitUntil(() => cc!.itemsWithEvent >= N * BROKER_FAULT_AT, {
        timeoutMs: 300_000,
        intervalMs: 50,
        describe: `${BROKER_FAULT_AT * 100} % of items through`,
      });
      const conns = await cluster.connections();
      const perNode = new Map<string, number>();
      for (const c of conns) {
        if (c.connectionName?.startsWith('workitem-server')) perNode.set(c.node, (perNode.get(c.node) ?? 0) + 1);
      }
      log('service connections per node', Object.fromEntries(perNode));
      assertStillFlowing('broker');
      const victimName = [...perNode.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? cluster.nodes[0].name;
      const victim: RabbitClusterNode = cluster.node(victimName);
      const atItems1 = cc.itemsWithEvent;
      const kill1 = Date.now();
      await victim.kill9();
      log(`FAULT 1: kill -9 broker node ${victim.name}`, { atItems: atItems1 });
      await waitUntil(() => eventsFlowAgain(cc!.events, kill1) !== undefined, {
        timeoutMs: RECOVERY_TIMEOUT_MS,
        intervalMs: 50,
        describe: 'events to flow again after the broker node loss',
      });
      const flow1 = eventsFlowAgain(cc.events, kill1)!;
      log('events flow again after broker node loss', { ms: flow1 });
      // Bring the node back, as an orchestrator's restart policy would; it rejoins with its data.
      await victim.start();
      await waitForNodeRunning(cluster, victim);
      const restored1 = Date.now() - kill1;
      log(`${victim.name} restarted and rejoined`, { msAfterKill: restored1 });
      faults.push({
        fault: 'broker node kill -9',
        target: victim.name,
        atItems: atItems1,
        killedAt: new Date(kill1).toISOString(),
        eventsFlowAgainMs: flow1,
        longestEventGapMs: longestGap(cc.events, kill1 - 2_000, kill1 + 30_000),
        readyAgainMs: readyAgain(samples, kill1),
        restoredMs: restored1,
        itemsPerSecBefore: rate(cc.events, kill1 - 10_000, kill1),
        itemsPerSecUntilRestored: rate(cc.events, kill1, kill1 + restored1),
      });

      // ---- Fault 2: kill -9 the Redis master; Sentinel fails over to the replica ---------------------------
      await waitUntil(() => cc!.itemsWithEvent >= N * REDIS_FAULT_AT, {
        timeoutMs: 300_000,
        intervalMs: 50,
        describe: `${REDIS_FAULT_AT * 100} % of items through`,
      });
      assertStillFlowing('Redis');
      const oldMaster = await redis.masterProcess();
      const oldPort = oldMaster.port;
      const atItems2 = cc.itemsWithEvent;
      const kill2 = Date.now();
      await oldMaster.kill9();
      log(`FAULT 2: kill -9 Redis master :${oldPort}`, { atItems: atItems2 });
      const newMaster = await redis.waitForFailover(oldPort, 60_000);
      const failoverMs = Date.now() - kill2;
      log('sentinels switched master', { to: newMaster.port, ms: failoverMs });
      // The old master comes back at once (restart policy); Sentinel turns it into a replica of the new one.
      // Until then the new master has no replica, and every WAIT runs into REDIS_WAIT_TIMEOUT_MS.
      const oldBack = (async () => {
        await oldMaster.restart();
        await redis!.waitUntilHealthy(1, 90_000);
        return Date.now() - kill2;
      })();
      oldBack.catch(() => undefined);
      await waitUntil(() => eventsFlowAgain(cc!.events, kill2) !== undefined, {
        timeoutMs: RECOVERY_TIMEOUT_MS,
        intervalMs: 50,
        describe: 'events to flow again after the Redis failover',
      });
      const flow2 = eventsFlowAgain(cc.events, kill2)!;
      log('events flow again after Redis failover', { ms: flow2 });
      const restored2 = await oldBack;
      log(`old master :${oldPort} back, as a replica`, { msAfterKill: restored2 });
      faults.push({
        fault: 'Redis master kill -9 (Sentinel failover)',
        target: `127.0.0.1:${oldPort} -> 127.0.0.1:${newMaster.port}`,
        atItems: atItems2,
        killedAt: new Date(kill2).toISOString(),
        failoverMs,
        eventsFlowAgainMs: flow2,
        longestEventGapMs: longestGap(cc.events, kill2 - 2_000, kill2 + 30_000),
        readyAgainMs: readyAgain(samples, kill2),
        restoredMs: restored2,
        itemsPerSecBefore: rate(cc.events, kill2 - 10_000, kill2),
        itemsPerSecUntilRestored: rate(cc.events, kill2, kill2 + restored2),
      });

      // ---- Drain and check the ledger ----------------------------------------------------------------------
      await sender.finished();
      log('sender: every item confirmed', { ...sender.stats, connects: sender.connects.length });
      await waitUntil(
        () => {
          const l = ledger(ids, cc!);
          return l.lost === 0 && l.noReceipt === 0;
        },
        { timeoutMs: 300_000, intervalMs: 500, describe: 'every item with an event and a receipt' },
      ).catch(() => undefined); // the assertions below say what is missing
      await sleep(2_000); // late duplicates, if any, would show now
    } catch (err) {
      failure = err;
      log(`FAILED: ${(err as Error).message}`);
    } finally {
      clearInterval(progress);
      polling = false;
    }

    const result = ledger(ids, cc);
    // Redis (the master now) holds every item as unfinished, with the contactId its event carried.
    let redisMissing = -1;
    let unfinished = -1;
    const redisCheck = testRedisClient(`redis://127.0.0.1:${(await redis.master().catch(() => ({ port: 1 }))).port}`);
    try {
      await redisCheck.connect();
      const index = await redisCheck.hgetall(`${prefix}ext`);
      const byExt = new Map(cc.events.filter((e) => e.type === 'contact.created').map((e) => [e.externalId, e.contactId]));
      redisMissing = ids.filter((ext) => index[`bank-support|${ext}`] !== byExt.get(ext)).length;
      unfinished = await redisCheck.zcard(`${prefix}unfinished`);
    } catch (err) {
      log(`cannot check Redis: ${(err as Error).message}`);
    } finally {
      redisCheck.disconnect();
    }
    const countLogs = (text: string): number[] => services.map((s) => s.logs.filter((l) => l.includes(text)).length);
    const shortfalls = countLogs('fewer Redis replicas confirmed');
    const nackRequeues = countLogs('nacked or channel closed');
    const summary = {
      items: N,
      offeredRatePerSec: RATE,
      testQueuesLeader: TEST_QUEUES_LEADER,
      flowSeconds: Math.round((Date.now() - flowStart) / 100) / 10,
      faultsInjected: faults.length,
      faults,
      lost: result.lost,
      doubleIds: result.doubleIds,
      noReceipt: result.noReceipt,
      receiptsByStatus: result.receiptsByStatus,
      extraEventsSameContactId: result.extraEvents,
      errorQueue: cc.errors.length,
      errorQueueByReason: cc.errors.reduce<Record<string, number>>((acc, e) => {
        const k = e.code ?? `${e.routingKey}${e.deathReason ? ` (${e.deathReason})` : ''}`;
        acc[k] = (acc[k] ?? 0) + 1;
        return acc;
      }, {}),
      redisStateMissingOrDifferent: redisMissing,
      redisUnfinished: unfinished,
      waitReplicaShortfallWarnings: shortfalls,
      nackedPublishRequeues: nackRequeues,
      sender: { ...sender.stats, connects: sender.connects.length },
      contactCenterReconnects: cc.connects.length - 1,
      serviceLogs: services.map((s) => s.logFile),
      lostSample: result.lostIds,
      doubleIdSample: result.doubleIdSamples,
    };
    mkdirSync(LOG_DIR, { recursive: true });
    const summaryFile = path.join(LOG_DIR, `cluster-summary-${Date.now()}.json`);
    writeFileSync(summaryFile, JSON.stringify(summary, null, 2));
    log(`SUMMARY (${summaryFile})\n${JSON.stringify(summary, null, 2)}`);

    if (failure) throw failure;
    expect(faults).toHaveLength(2);
    expect({ lost: result.lost, doubleIds: result.doubleIds, noReceipt: result.noReceipt }).toEqual({
      lost: 0,
      doubleIds: 0,
      noReceipt: 0,
    });
    expect(cc.errors).toHaveLength(0);
    expect(sender.returned).toBe(0);
    expect(redisMissing).toBe(0);
    expect(unfinished).toBe(N);
  });
});
