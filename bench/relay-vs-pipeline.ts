import os from 'node:os';
import path from 'node:path';
import {
  brokerPid,
  CpuMeter,
  EventCollector,
  Sender,
  connect,
  declareTopology,
  fmtStats,
  ids,
  log,
  machine,
  numArg,
  parseBenchArgs,
  printJson,
  REPO_ROOT,
  round,
  RssSampler,
  runBench,
  smallItem,
  stats,
  type Stats,
} from './lib/common';
import { analyzeProfile, formatSummary, mainThreadProfiles, type ProfileSummary } from './lib/cpu-profile';
import { startBenchService, startRelay } from './lib/processes';

/**
 * Issue 8: how close does the real pipeline (parse, validate, Redis state, event, receipt) come to a
 * bare relay that only does what the delivery guarantees require (consume, confirmed publish of an event
 * and a receipt copy, ack)? Same broker, same prefetch, same ~1 KB items, one after the other:
 *   drain: N items pre-loaded into the inbound quorum queue, then the worker starts; msgs/s from its first
 *          event to its N-th;
 *   paced: items published at a steady rate for a while; publish→event latency p50/p99.
 * Peak RSS of each worker process is sampled every 100 ms; CPU seconds of the worker (all threads), the
 * broker (beam.smp on the AMQP port) and this process are read from /proc while draining, per item.
 * `--cpu-prof` runs both workers under `node --cpu-prof` and prints the service's top self-time functions
 * (lib/cpu-profile.ts); the profiler slows the light relay relatively more, so the ratio of such a run is
 * not the real one.
 *
 * Options: --strict (exit 3 when the ratio goal is missed) --quick (3 000 items, 3 s paced) --n=20000 --rate=500 --seconds=10 --prefetch=64 (or env PREFETCH)
 *          --cpu-prof [--cpu-prof-dir=<dir>]
 */

const args = parseBenchArgs({
  n: { type: 'string' },
  rate: { type: 'string' },
  seconds: { type: 'string' },
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

interface WorkerResult {
  drain: {
    items: number;
    seconds: number;
    msgsPerSec: number;
    preloadSeconds: number;
    cpuMsPerItem: { worker: number; broker: number; bench: number };
  };
  paced: { rate: number; seconds: number; published: number; latencyMs: Stats };
  peakRssMb: number;
  duplicates: number;
}

interface Worker {
  pid: number;
  stop(): Promise<unknown>;
}

async function measure(
  label: 'relay' | 'pipeline',
  collector: EventCollector,
  sender: Sender,
  start: () => Promise<Worker>,
): Promise<WorkerResult> {
  const drainTag = `D${label}`;
  const drainIds = ids(drainTag, N);
  const t0 = Date.now();
  await sender.burst(drainIds, (id) => smallItem(id));
  const preloadSeconds = (Date.now() - t0) / 1000;
  log(`[${label}] pre-loaded ${N} items (${smallItem(drainIds[0]).length} B each) in ${preloadSeconds.toFixed(1)} s; starting the worker`);

  const worker = await start();
  const rss = new RssSampler(worker.pid);
  const dupBefore = collector.duplicates;
  await collector.waitFor(drainTag, 1, 60_000);
  // CPU of the worker (all threads), the broker and this process while draining (start-up excluded)
  const cpu = new CpuMeter([worker.pid, brokerPid(), process.pid]);
  const counted = collector.count(drainTag);
  await collector.waitFor(drainTag, N, 60_000, (c) => log(`[${label}]   drained ${c}/${N}`));
  const perItem = cpu.stop().map((s) => round((s * 1000) / (N - counted), 3));
  const cpuMsPerItem = { worker: perItem[0], broker: perItem[1], bench: perItem[2] };
  const g = collector.group(drainTag);
  const drainSeconds = (g.last - g.first) / 1000;
  const msgsPerSec = round((N - 1) / drainSeconds);
  log(
    `[${label}] drain: ${N} items in ${drainSeconds.toFixed(2)} s = ${msgsPerSec} msgs/s; ` +
      `CPU ms/item: worker ${cpuMsPerItem.worker}, broker ${cpuMsPerItem.broker}, bench ${cpuMsPerItem.bench}`,
  );

  const pacedIds = ids(`P${label}`, Math.round(RATE * SECONDS));
  log(`[${label}] paced: ${pacedIds.length} items at ${RATE}/s`);
  const published = await sender.paced(pacedIds, RATE, (id) => smallItem(id));
  await collector.waitFor(`P${label}`, published, 30_000);
  const latencyMs = stats(collector.latencies(sender.sentAt, pacedIds));
  const peak = rss.stop();
  log(`[${label}] paced latency publish→event: ${fmtStats(latencyMs)}; peak RSS ${peak.peakMb} MB`);
  await worker.stop();
  return {
    drain: { items: N, seconds: round(drainSeconds, 2), msgsPerSec, preloadSeconds: round(preloadSeconds, 1), cpuMsPerItem },
    paced: { rate: RATE, seconds: SECONDS, published, latencyMs },
    peakRssMb: peak.peakMb,
    duplicates: collector.duplicates - dupBefore,
  };
}

runBench('relay-vs-pipeline', async (env) => {
  log(
    `items ${N}, prefetch ${args.prefetch}, paced ${RATE}/s for ${SECONDS} s${args.quick ? ' (quick)' : ''}${CPU_PROF ? `, CPU profile into ${CPU_PROF_DIR}` : ''}`,
  );
  const setup = await connect(env.amqpUrl, 'setup');
  env.defer('close setup connection', () => setup.close());
  await declareTopology(setup);
  const collector = await EventCollector.open(env.amqpUrl);
  env.defer('close collector', () => collector.close());
  const sender = await Sender.open(env.amqpUrl, 'sender');
  env.defer('close sender', () => sender.close());

  const relayProfDir = path.join(CPU_PROF_DIR, 'relay');
  const serviceProfDir = path.join(CPU_PROF_DIR, 'service');
  const relay = await measure('relay', collector, sender, () => startRelay(env, args.prefetch, CPU_PROF ? relayProfDir : undefined));

  let warnings = 0;
  const pipeline = await measure('pipeline', collector, sender, async () => {
    const svc = await startBenchService(env, { prefetch: args.prefetch, cpuProfDir: CPU_PROF ? serviceProfDir : undefined });
    return {
      pid: svc.pid,
      stop: async () => {
        warnings = svc.logs.filter((l) => /"level":"(warn|error)"/.test(l) && !/Redis has no persistence/.test(l)).length;
        await svc.stop('SIGTERM', 30_000);
      },
    };
  });

  const ratio = round(pipeline.drain.msgsPerSec / relay.drain.msgsPerSec, 2);
  let profile: ProfileSummary | undefined;
  let relayProfile: ProfileSummary | undefined;
  const cpuPerItem: { relayMs?: number; serviceMs?: number } = {};
  if (CPU_PROF) {
    const latest = (dir: string) => {
      const files = mainThreadProfiles(dir);
      if (files.length === 0) log(`no main-thread .cpuprofile found in ${dir}`);
      return files.length ? analyzeProfile(files[files.length - 1], REPO_ROOT, 25) : undefined;
    };
    relayProfile = latest(relayProfDir);
    profile = latest(serviceProfDir);
    if (profile) log(formatSummary(profile));
    // Busy CPU of the main thread per item handled (drain + paced; start-up included, so an upper bound).
    const perItem = (p: ProfileSummary | undefined, r: WorkerResult) => p && round(p.busyMs / (r.drain.items + r.paced.published), 3);
    cpuPerItem.relayMs = perItem(relayProfile, relay);
    cpuPerItem.serviceMs = perItem(profile, pipeline);
    if (relayProfile) {
      log(`relay profile ${relayProfile.file}: busy ${relayProfile.busyMs} ms; by area:`);
      for (const a of relayProfile.byArea.slice(0, 8))
        log(`       ${a.ms.toFixed(0).padStart(7)} ms ${a.pct.toFixed(1).padStart(5)}%  ${a.area}`);
    }
    log(`main-thread CPU per item (start-up included): relay ${cpuPerItem.relayMs} ms, service ${cpuPerItem.serviceMs} ms`);
  }

  log('');
  log('relay-vs-pipeline summary');
  log(`  drain throughput  relay ${relay.drain.msgsPerSec} msgs/s   pipeline ${pipeline.drain.msgsPerSec} msgs/s`);
  log(`  ratio pipeline/relay ${ratio} (goal ≥ 0.8: ${ratio >= 0.8 ? 'met' : 'NOT met'})`);
  log(`  latency @${RATE}/s    relay ${fmtStats(relay.paced.latencyMs)}`);
  log(`                    pipeline ${fmtStats(pipeline.paced.latencyMs)}`);
  log(
    `  CPU ms per item   relay ${relay.drain.cpuMsPerItem.worker} (broker ${relay.drain.cpuMsPerItem.broker})   ` +
      `service ${pipeline.drain.cpuMsPerItem.worker} (broker ${pipeline.drain.cpuMsPerItem.broker})`,
  );
  log(`  peak RSS          relay ${relay.peakRssMb} MB   service ${pipeline.peakRssMb} MB`);
  if (warnings > 0) log(`  the service logged ${warnings} warnings/errors (see KEEP_LOGS=1)`);
  if (CPU_PROF) log('  (CPU profiling was on: throughput figures include the profiler overhead)');
  printJson({
    bench: 'relay-vs-pipeline',
    quick: args.quick,
    prefetch: args.prefetch,
    machine: machine(),
    cpuProfile: CPU_PROF,
    relay,
    pipeline,
    ratio,
    goal: { ratio: 0.8, met: ratio >= 0.8 },
    serviceWarnings: warnings,
    cpuPerItemMs: CPU_PROF ? cpuPerItem : undefined,
    profile: profile && {
      file: profile.file,
      busyMs: profile.busyMs,
      gcMs: profile.gcMs,
      topSelf: profile.topSelf,
      byArea: profile.byArea,
      nativeByCaller: profile.nativeByCaller,
    },
  });
  return ratio >= 0.8;
});
