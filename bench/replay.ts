import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { RedisStateStore } from '../src/adapters/redis/redis-state-store';
import { toContactRecord } from '../src/domain/contact-event';
import type { WorkItem } from '../src/domain/work-item';
import {
  brokerPid,
  CpuMeter,
  EventCollector,
  REPO_ROOT,
  connect,
  declareTopology,
  log,
  machine,
  numArg,
  parseBenchArgs,
  printJson,
  round,
  RssSampler,
  runBench,
  SOURCE,
} from './lib/common';
import { reportProfile } from './lib/cpu-profile';
import { startBenchService } from './lib/processes';

/**
 * Issue 5: how fast, and in how much memory, does the service re-publish its unfinished items at start?
 * Seeds N routed unfinished items straight into Redis with the service's own state store (RedisStateStore
 * .accept, the acceptItem script: exactly the layout the service writes), then starts the service and
 * times the start-up replay: the service's own 'replay of unfinished items done' log line (replayed, ms),
 * and the replayed events arriving on a queue bound to contact.created.#. Peak RSS sampled every 100 ms
 * from the spawn on. Goal: peak RSS < 250 MB.
 *
 * Options: --strict (exit 3 when the goal is missed) --quick (10 000 items) --n=100000 --concurrency=1000 (seeding) --prefetch=64 --cpu-prof [--cpu-prof-dir=<dir>]
 */

const args = parseBenchArgs({
  n: { type: 'string' },
  concurrency: { type: 'string' },
  'cpu-prof': { type: 'boolean' },
  'cpu-prof-dir': { type: 'string' },
});
const N = Math.round(numArg(args, 'n', 100_000, 10_000));
const CONCURRENCY = Math.round(numArg(args, 'concurrency', 1000, 1000));
const CPU_PROF = args.values['cpu-prof'] === true || typeof args.values['cpu-prof-dir'] === 'string';
const CPU_PROF_DIR = path.resolve(
  (args.values['cpu-prof-dir'] as string | undefined) ?? path.join(os.tmpdir(), `workitem-bench-cpuprof-${Date.now()}`),
);

/** The same item the other benches send as XML (smallItem), as the parser would hand it over. */
function item(externalId: string): WorkItem {
  const contactData: Record<string, string> = Object.create(null);
  contactData.WorkItemTask = 'test-task';
  contactData.CaseUrl = `https://bank.example/cases/${externalId}`;
  return {
    externalId,
    source: SOURCE,
    entrance: 'loans',
    priority: 5,
    subject: 'Loan application needs review',
    body: 'The customer asked for a review of the loan application. '.repeat(9),
    customer: { name: 'Jane Doe', email: 'jane.doe@example.com' },
    contactData,
    taskType: 'test-task',
  };
}

runBench('replay', async (env) => {
  log(`items ${N}, prefetch ${args.prefetch}${args.quick ? ' (quick)' : ''}${CPU_PROF ? `, CPU profile into ${CPU_PROF_DIR}` : ''}`);
  const redis = new Redis(env.redisUrl, { lazyConnect: true, enableAutoPipelining: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  env.defer('close Redis', () => redis.quit().catch(() => redis.disconnect()));
  const store = new RedisStateStore(redis, env.prefix, 7 * 24 * 3600);

  const t0 = Date.now();
  for (let start = 0; start < N; start += CONCURRENCY) {
    const batch: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(N, start + CONCURRENCY); i++) {
      const nowMs = Date.now();
      const record = toContactRecord(item(`R-${i}`), `wi-${randomUUID()}`, new Date(nowMs).toISOString());
      batch.push(
        store.accept({ record, maxParked: 10_000, nowMs }).then((r) => {
          if (r.outcome !== 'accepted') throw new Error(`seeding R-${i}: ${r.outcome}`);
        }),
      );
    }
    await Promise.all(batch);
  }
  const seedSeconds = (Date.now() - t0) / 1000;
  const unfinished = await store.countUnfinished();
  const redisMem = /used_memory:(\d+)/.exec(await redis.info('memory'))?.[1];
  log(
    `seeded ${unfinished} unfinished routed items in ${seedSeconds.toFixed(1)} s (${round(N / seedSeconds)} items/s; Redis used_memory ${round(Number(redisMem) / 2 ** 20)} MB)`,
  );
  if (unfinished !== N) throw new Error(`expected ${N} unfinished items, Redis has ${unfinished}`);

  const setup = await connect(env.amqpUrl, 'setup');
  env.defer('close setup connection', () => setup.close());
  await declareTopology(setup);
  const collector = await EventCollector.open(env.amqpUrl);
  env.defer('close collector', () => collector.close());

  const profDir = path.join(CPU_PROF_DIR, 'service');
  const svc = await startBenchService(env, { prefetch: args.prefetch, waitForReady: false, cpuProfDir: CPU_PROF ? profDir : undefined });
  const rss = new RssSampler(svc.pid);
  const cpu = new CpuMeter([svc.pid, brokerPid()]);
  const line = await svc.waitForLog(/replay of unfinished items done/, 15 * 60_000);
  const done = JSON.parse(line) as { replayed: number; scanned: number; ms: number };
  await collector.waitFor('R', N, 60_000);
  const [serviceCpu, brokerCpu] = cpu.stop();
  const g = collector.group('R');
  const eventsSeconds = (g.last - g.first) / 1000;
  const peak = rss.stop();
  const warnings = svc.logs.filter((l) => /"level":"(warn|error)"/.test(l) && !/Redis has no persistence/.test(l)).length;
  await svc.stop('SIGTERM', 30_000);

  const perSec = round(done.replayed / (done.ms / 1000));
  const ok = peak.peakMb < 250;
  if (CPU_PROF) reportProfile(profDir, REPO_ROOT, 25);
  log('');
  log('replay summary');
  log(`  replayed ${done.replayed} of ${done.scanned} scanned in ${(done.ms / 1000).toFixed(1)} s = ${perSec} items/s (service log)`);
  log(
    `  events received ${collector.count('R')} (replayed: true ${collector.replayed}); first→last event ${eventsSeconds.toFixed(1)} s = ${round((N - 1) / eventsSeconds)} events/s`,
  );
  log(`  CPU (start-up included): service ${serviceCpu} s, broker ${brokerCpu} s`);
  log(`  service peak RSS ${peak.peakMb} MB (kernel VmHWM ${peak.hwmMb} MB) (goal < 250 MB: ${ok ? 'met' : 'NOT met'})`);
  if (warnings > 0) log(`  the service logged ${warnings} warnings/errors (KEEP_LOGS=1 keeps its log)`);
  printJson({
    bench: 'replay',
    quick: args.quick,
    prefetch: args.prefetch,
    machine: machine(),
    cpuProfile: CPU_PROF,
    items: N,
    seed: { seconds: round(seedSeconds, 1), itemsPerSec: round(N / seedSeconds), redisUsedMb: round(Number(redisMem) / 2 ** 20) },
    replay: { replayed: done.replayed, scanned: done.scanned, ms: done.ms, itemsPerSec: perSec },
    events: {
      received: collector.count('R'),
      replayedFlag: collector.replayed,
      duplicates: collector.duplicates,
      seconds: round(eventsSeconds, 2),
    },
    cpuSeconds: { service: serviceCpu, broker: brokerCpu },
    peakRssMb: peak.peakMb,
    hwmMb: peak.hwmMb,
    goals: { peakRssMb: 250, met: ok },
    serviceWarnings: warnings,
  });
  return ok;
});
