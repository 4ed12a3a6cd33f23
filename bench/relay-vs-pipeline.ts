import os from 'node:os';
import path from 'node:path';
import {
  brokerPid,
  type BenchEnv,
  CpuMeter,
  cpuTimes,
  EventCollector,
  Sender,
  connect,
  ioSyscalls,
  declareTopology,
  fmtStats,
  ids,
  log,
  machine,
  now,
  numArg,
  parseBenchArgs,
  printJson,
  redisPid,
  REPO_ROOT,
  ReplyQueue,
  round,
  RssSampler,
  runBench,
  smallItem,
  stats,
  type Stats,
} from './lib/common';
import { analyzeProfile, formatSummary, mainThreadProfiles, type ProfileSummary } from './lib/cpu-profile';
import { processingTimes, startBenchService, startNaive, startRelay } from './lib/processes';

/**
 * Issues 8 and 17: how does the real pipeline (parse with the hardened xml2js, validate, Redis state, event,
 * receipts) compare with (a) a naive consumer, what a developer would write in an afternoon with the same
 * packages (bench/naive-consumer.ts), and (b) a bare relay that only does what the delivery guarantees require
 * (bench/bare-relay.ts)? Same broker, Redis, prefetch and ~1 KB items (carrying a `reply_to`, so the naive
 * consumer and the service both publish three messages per item), one worker after the other, each in a fresh
 * vhost and Redis prefix:
 *   drain: N items pre-loaded into the inbound quorum queue, then the worker starts; msgs/s from its first
 *          event to its N-th;
 *   paced: items published at a steady rate for a while; publish→event latency p50/p99.
 * CPU of each worker process (utime+stime of /proc/<pid>/stat: all its threads), of the broker (beam.smp on the
 * AMQP port), of Redis (redis-server on its port) and of this process while draining, per item; the worker's read and
 * write system calls per item (/proc/<pid>/io); peak RSS of each worker sampled every 100 ms.
 * Goals (issue 17): pipeline ≥ 1.0× naive, ≥ 0.7× relay, service CPU per item ≤ 1.5× the naive consumer's.
 * `--cpu-prof` runs the workers under `node --cpu-prof` and prints the service's top self-time functions
 * (lib/cpu-profile.ts); the profiler slows the light workers relatively more, so ratios of such a run are not
 * the real ones.
 *
 * Options: --strict (exit 3 when a goal is missed) --quick (3 000 items, 3 s paced) --n=20000 --rate=500 --seconds=10
 *          --prefetch=64 (or env PREFETCH) --workers=naive,relay,pipeline (which, in this order)
 *          --cpu-prof [--cpu-prof-dir=<dir>]
 */

const args = parseBenchArgs({
  n: { type: 'string' },
  rate: { type: 'string' },
  seconds: { type: 'string' },
  workers: { type: 'string' },
  'cpu-prof': { type: 'boolean' },
  'cpu-prof-dir': { type: 'string' },
});
const N = Math.round(numArg(args, 'n', 20_000, 3_000));
const RATE = numArg(args, 'rate', 500, 500);
const SECONDS = numArg(args, 'seconds', 10, 3);
const CPU_PROF = args.values['cpu-prof'] === true || typeof args.values['cpu-prof-dir'] === 'string';
const CPU_PROF_DIR = path.resolve(
  (args.values['cpu-prof-dir'] as string | undefined) ?? path.join(os.tmpdir(), `workitem-bench-cpuprof-${Date.now()}`),
);
const KINDS = ['naive', 'relay', 'pipeline'] as const;
type Kind = (typeof KINDS)[number];
const WORKERS = ((args.values.workers as string | undefined) ?? KINDS.join(',')).split(',').map((w) => w.trim()) as Kind[];
for (const w of WORKERS) if (!KINDS.includes(w)) throw new Error(`--workers: unknown worker "${w}" (naive, relay, pipeline)`);

const GOALS = { pipelineNaive: 1.0, pipelineRelay: 0.7, cpuPipelineNaive: 1.5 };

interface WorkerResult {
  drain: {
    items: number;
    seconds: number;
    msgsPerSec: number;
    preloadSeconds: number;
    cpuMsPerItem: { worker: number; workerSystem: number; broker: number; redis: number; bench: number };
    /** read- and write-type system calls of the worker per item (/proc/<pid>/io syscr, syscw). */
    syscallsPerItem: { reads: number; writes: number };
    loadavg1m: number;
    /** CPU of the worker's main thread (the event loop; its tid is the pid) over the drain's wall time. */
    mainThreadBusy: number;
    /** CPU ms of the worker's main thread per item (the rest of `cpuMsPerItem.worker` is GC and other threads). */
    mainThreadMsPerItem: number;
  };
  paced: { rate: number; seconds: number; published: number; latencyMs: Stats };
  peakRssMb: number;
  duplicates: number;
  /** Receipts that reached the items' reply_to queue (drain + paced). */
  replies: number;
}

interface Worker {
  pid: number;
  stop(): Promise<unknown>;
  /** A line about the worker's own view of the drain (the service: time per message from its metrics). */
  afterDrain?(): Promise<string | undefined>;
}

/** One worker in a fresh vhost and Redis prefix: pre-load, start, drain, paced phase, stop, clean up. */
async function measure(label: Kind, root: BenchEnv, start: (env: BenchEnv) => Promise<Worker>): Promise<WorkerResult> {
  const env = await root.fork();
  const setup = await connect(env.amqpUrl, 'setup');
  env.defer('close setup connection', () => setup.close());
  await declareTopology(setup);
  const collector = await EventCollector.open(env.amqpUrl);
  env.defer('close collector', () => collector.close());
  const replies = await ReplyQueue.open(env.amqpUrl);
  env.defer('close reply queue', () => replies.close());
  const sender = await Sender.open(env.amqpUrl, 'sender');
  env.defer('close sender', () => sender.close());
  sender.replyTo = replies.queue;

  const drainTag = 'D';
  const drainIds = ids(drainTag, N);
  const t0 = Date.now();
  await sender.burst(drainIds, (id) => smallItem(id));
  const preloadSeconds = (Date.now() - t0) / 1000;
  log(
    `[${label}] vhost ${env.vhost}: pre-loaded ${N} items (${smallItem(drainIds[0]).length} B each, reply_to ${replies.queue}) in ${preloadSeconds.toFixed(1)} s; starting the worker`,
  );

  const worker = await start(env);
  const rss = new RssSampler(worker.pid);
  const dupBefore = collector.duplicates;
  await collector.waitFor(drainTag, 1, 60_000);
  // CPU of the worker (all threads), the broker and this process while draining (start-up excluded)
  const cpu = new CpuMeter([worker.pid, brokerPid(), redisPid(), process.pid]);
  const io0 = ioSyscalls(worker.pid);
  const main0 = cpuTimes(worker.pid, worker.pid);
  const wall0 = now();
  const counted = collector.count(drainTag);
  await collector.waitFor(drainTag, N, 60_000, (c) => log(`[${label}]   drained ${c}/${N}`));
  const perItem = cpu.stop().map((s) => round((s * 1000) / (N - counted), 3));
  const io1 = ioSyscalls(worker.pid);
  const main1 = cpuTimes(worker.pid, worker.pid);
  const mainCpu = main1.user + main1.system - main0.user - main0.system;
  const mainThreadBusy = round(mainCpu / ((now() - wall0) / 1000), 2);
  const mainThreadMsPerItem = round((mainCpu * 1000) / (N - counted), 3);
  const syscallsPerItem = {
    reads: round((io1.reads - io0.reads) / (N - counted), 2),
    writes: round((io1.writes - io0.writes) / (N - counted), 2),
  };
  const workerSystem = round((cpu.system[0] * 1000) / (N - counted), 3);
  const cpuMsPerItem = { worker: perItem[0], workerSystem, broker: perItem[1], redis: perItem[2], bench: perItem[3] };
  const loadavg1m = round(os.loadavg()[0], 2);
  const g = collector.group(drainTag);
  const drainSeconds = (g.last - g.first) / 1000;
  const msgsPerSec = round((N - 1) / drainSeconds);
  log(
    `[${label}] drain: ${N} items in ${drainSeconds.toFixed(2)} s = ${msgsPerSec} msgs/s; ` +
      `CPU ms/item: worker ${cpuMsPerItem.worker} (system ${workerSystem}), broker ${cpuMsPerItem.broker}, Redis ${cpuMsPerItem.redis}, bench ${cpuMsPerItem.bench}; ` +
      `worker syscalls/item: ${syscallsPerItem.reads} reads, ${syscallsPerItem.writes} writes; ` +
      `main thread ${mainThreadMsPerItem} ms/item, busy ${Math.round(mainThreadBusy * 100)}%; load ${loadavg1m}`,
  );

  const extra = await worker.afterDrain?.();
  if (extra) log(`[${label}] ${extra}`);

  const pacedIds = ids('P', Math.round(RATE * SECONDS));
  log(`[${label}] paced: ${pacedIds.length} items at ${RATE}/s`);
  const published = await sender.paced(pacedIds, RATE, (id) => smallItem(id));
  await collector.waitFor('P', published, 30_000);
  const latencyMs = stats(collector.latencies(sender.sentAt, pacedIds));
  const peak = rss.stop();
  log(`[${label}] paced latency publish→event: ${fmtStats(latencyMs)}; peak RSS ${peak.peakMb} MB`);
  await worker.stop();
  const result: WorkerResult = {
    drain: {
      items: N,
      seconds: round(drainSeconds, 2),
      msgsPerSec,
      preloadSeconds: round(preloadSeconds, 1),
      cpuMsPerItem,
      syscallsPerItem,
      loadavg1m,
      mainThreadBusy,
      mainThreadMsPerItem,
    },
    paced: { rate: RATE, seconds: SECONDS, published, latencyMs },
    peakRssMb: peak.peakMb,
    duplicates: collector.duplicates - dupBefore,
    replies: replies.received,
  };
  await env.cleanup();
  return result;
}

runBench('relay-vs-pipeline', async (env) => {
  log(
    `items ${N}, prefetch ${args.prefetch}, paced ${RATE}/s for ${SECONDS} s, workers ${WORKERS.join(', ')}${args.quick ? ' (quick)' : ''}` +
      `${CPU_PROF ? `, CPU profile into ${CPU_PROF_DIR}` : ''}; load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  const profDir = (k: Kind) => (CPU_PROF ? path.join(CPU_PROF_DIR, k === 'pipeline' ? 'service' : k) : undefined);
  const results: Partial<Record<Kind, WorkerResult>> = {};
  let warnings = 0;
  for (const kind of WORKERS) {
    if (kind === 'naive') results.naive = await measure('naive', env, (e) => startNaive(e, args.prefetch, profDir('naive')));
    if (kind === 'relay') results.relay = await measure('relay', env, (e) => startRelay(e, args.prefetch, profDir('relay')));
    if (kind === 'pipeline')
      results.pipeline = await measure('pipeline', env, async (e) => {
        const svc = await startBenchService(e, { prefetch: args.prefetch, cpuProfDir: profDir('pipeline') });
        return {
          pid: svc.pid,
          afterDrain: async () => {
            const t = await processingTimes(svc);
            if (!t) return undefined;
            const shown = t.buckets.slice(0, t.buckets.findIndex((b) => b.share >= 0.999) + 1 || undefined);
            const within = shown.map((b) => `≤${b.leMs} ms ${Math.round(b.share * 100)}%`).join(', ');
            return `delivery → confirmed outcome in the service (its metrics, ${t.count} messages): mean ${t.meanMs.toFixed(1)} ms; ${within}`;
          },
          stop: async () => {
            warnings = svc.logs.filter(
              (l) => /"level":"(warn|error)"/.test(l) && !/Redis has no persistence|ATTACHMENT_URL_SECRET is not set/.test(l),
            ).length;
            await svc.stop('SIGTERM', 30_000);
          },
        };
      });
  }
  const { naive, relay, pipeline } = results;

  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? round(a / b, 2) : undefined);
  const ratios = {
    pipelineNaive: ratio(pipeline?.drain.msgsPerSec, naive?.drain.msgsPerSec),
    pipelineRelay: ratio(pipeline?.drain.msgsPerSec, relay?.drain.msgsPerSec),
    cpuPipelineNaive: ratio(pipeline?.drain.cpuMsPerItem.worker, naive?.drain.cpuMsPerItem.worker),
  };
  const goals = {
    pipelineNaive: ratios.pipelineNaive === undefined ? undefined : ratios.pipelineNaive >= GOALS.pipelineNaive,
    pipelineRelay: ratios.pipelineRelay === undefined ? undefined : ratios.pipelineRelay >= GOALS.pipelineRelay,
    cpuPipelineNaive: ratios.cpuPipelineNaive === undefined ? undefined : ratios.cpuPipelineNaive <= GOALS.cpuPipelineNaive,
  };

  const profiles: Partial<Record<Kind, ProfileSummary>> = {};
  const cpuPerItem: Partial<Record<Kind, number>> = {};
  if (CPU_PROF) {
    for (const kind of WORKERS) {
      const dir = profDir(kind)!;
      const files = mainThreadProfiles(dir);
      if (files.length === 0) log(`no main-thread .cpuprofile found in ${dir}`);
      else profiles[kind] = analyzeProfile(files[files.length - 1], REPO_ROOT, 25);
      const p = profiles[kind];
      const r = results[kind];
      // Busy CPU of the main thread per item handled (drain + paced; start-up included, so an upper bound).
      if (p && r) cpuPerItem[kind] = round(p.busyMs / (r.drain.items + r.paced.published), 3);
    }
    if (profiles.pipeline) log(formatSummary(profiles.pipeline));
    for (const kind of ['naive', 'relay'] as const) {
      const p = profiles[kind];
      if (!p) continue;
      log(`${kind} profile ${p.file}: busy ${p.busyMs} ms; by area:`);
      for (const a of p.byArea.slice(0, 8)) log(`       ${a.ms.toFixed(0).padStart(7)} ms ${a.pct.toFixed(1).padStart(5)}%  ${a.area}`);
    }
    log(`main-thread CPU per item (start-up included): ${WORKERS.map((k) => `${k} ${cpuPerItem[k]} ms`).join(', ')}`);
  }

  const col = (k: Kind, f: (r: WorkerResult) => string | number) => {
    const r = results[k];
    return `${k} ${r ? f(r) : '–'}`;
  };
  const row = (f: (r: WorkerResult) => string | number) =>
    KINDS.filter((k) => WORKERS.includes(k))
      .map((k) => col(k, f))
      .join('   ');
  const verdict = (met: boolean | undefined) => (met === undefined ? 'not measured' : met ? 'met' : 'NOT met');
  log('');
  log(
    `relay-vs-pipeline summary (prefetch ${args.prefetch}, ${N} items with reply_to; load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')})`,
  );
  log(`  drain throughput  ${row((r) => `${r.drain.msgsPerSec} msgs/s`)}`);
  log(`  ratio pipeline/naive ${ratios.pipelineNaive ?? '–'} (goal ≥ ${GOALS.pipelineNaive}: ${verdict(goals.pipelineNaive)})`);
  log(`  ratio pipeline/relay ${ratios.pipelineRelay ?? '–'} (goal ≥ ${GOALS.pipelineRelay}: ${verdict(goals.pipelineRelay)})`);
  log(`  CPU ms per item   ${row((r) => `${r.drain.cpuMsPerItem.worker} (system ${r.drain.cpuMsPerItem.workerSystem})`)}`);
  log(`  CPU pipeline/naive ${ratios.cpuPipelineNaive ?? '–'} (goal ≤ ${GOALS.cpuPipelineNaive}: ${verdict(goals.cpuPipelineNaive)})`);
  log(`  broker CPU ms/item ${row((r) => r.drain.cpuMsPerItem.broker)}`);
  log(`  Redis CPU ms/item ${row((r) => r.drain.cpuMsPerItem.redis)}`);
  log(`  main thread       ${row((r) => `${r.drain.mainThreadMsPerItem} ms/item, busy ${Math.round(r.drain.mainThreadBusy * 100)}%`)}`);
  log(`  syscalls per item ${row((r) => `${r.drain.syscallsPerItem.reads}r/${r.drain.syscallsPerItem.writes}w`)}`);
  for (const k of WORKERS) log(`  latency @${RATE}/s  ${k.padStart(8)} ${fmtStats(results[k]!.paced.latencyMs)}`);
  log(`  peak RSS          ${row((r) => `${r.peakRssMb} MB`)}`);
  log(`  load (1 min) at the end of each drain: ${row((r) => r.drain.loadavg1m)}`);
  log(`  receipts to reply_to (of ${N} + paced): ${row((r) => r.replies)}`);
  if (warnings > 0) log(`  the service logged ${warnings} warnings/errors (see KEEP_LOGS=1)`);
  if (CPU_PROF) log('  (CPU profiling was on: throughput figures include the profiler overhead)');
  const goalsMet = Object.values(goals).every((g) => g !== false);
  printJson({
    bench: 'relay-vs-pipeline',
    quick: args.quick,
    prefetch: args.prefetch,
    machine: machine(),
    cpuProfile: CPU_PROF,
    naive,
    relay,
    pipeline,
    /** pipeline/relay, as before issue 17 */
    ratio: ratios.pipelineRelay,
    ratios,
    goals: { ...GOALS, met: goals },
    serviceWarnings: warnings,
    cpuPerItemMs: CPU_PROF ? cpuPerItem : undefined,
    profile: profiles.pipeline && {
      file: profiles.pipeline.file,
      busyMs: profiles.pipeline.busyMs,
      gcMs: profiles.pipeline.gcMs,
      topSelf: profiles.pipeline.topSelf,
      byArea: profiles.pipeline.byArea,
      nativeByCaller: profiles.pipeline.nativeByCaller,
    },
  });
  return goalsMet;
});
