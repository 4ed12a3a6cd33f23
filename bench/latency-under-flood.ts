import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { workItemXml } from '../tests/helpers/work-items';
import {
  brokerPid,
  BrokerProbe,
  CpuMeter,
  EventCollector,
  Sender,
  connect,
  declareTopology,
  fmtStats,
  ids,
  log,
  machine,
  now,
  numArg,
  parseBenchArgs,
  REPO_ROOT,
  printJson,
  round,
  RssSampler,
  runBench,
  smallItem,
  stats,
} from './lib/common';
import { reportProfile } from './lib/cpu-profile';
import { startBenchService } from './lib/processes';

/**
 * Issues 6 and 17: do small items stay in real time while big ones flood in? Small (~1 KB) items are published at a
 * steady rate and their publish→event latency measured: alone (phase A), then while ~5 MB items (a ~3.7 MB base64
 * audio/wav attachment each, entrance `support`) flood in at a rate the service can sustain (phase B, paced:
 * `--paced-rate` items/s, 2/s ≈ 10 MB/s), then while they flood in as fast as the broker confirms them (phase C,
 * unbounded: `--flood` items, `--flood-window` unconfirmed publishes).
 *
 * A probe (bench.probe, a quorum queue the bench consumes itself) is fed at the same rate in every phase: its
 * publish→deliver latency is what the broker alone adds under the same load. Goals (issue 17), per flood phase:
 * small-item p99 ≤ 1.5 × the probe's p99; the service's own share of the median (small p50 − probe p50) at most
 * 1.5 × its share without the flood (phase A); peak RSS of the service process ≤ 250 MB (VmRSS sampled every 100 ms
 * over the phase and its flood's drain). The paced phase must meet them; the unbounded one is reported.
 *
 * Options: --strict (exit 3 when a goal of the paced phase is missed) --quick (5 s phases, 10 + 40 flood items)
 *          --rate=100 --seconds=20 --paced-rate=2 --flood=200 --flood-window=8 --phases=paced,unbounded
 *          --attachment-mb=3.7 --prefetch=64 --cpu-prof [--cpu-prof-dir=<dir>]
 */

const args = parseBenchArgs({
  rate: { type: 'string' },
  seconds: { type: 'string' },
  flood: { type: 'string' },
  'flood-window': { type: 'string' },
  'attachment-mb': { type: 'string' },
  'paced-rate': { type: 'string' },
  phases: { type: 'string' },
  'cpu-prof': { type: 'boolean' },
  'cpu-prof-dir': { type: 'string' },
});
const CPU_PROF = args.values['cpu-prof'] === true || typeof args.values['cpu-prof-dir'] === 'string';
const CPU_PROF_DIR = path.resolve(
  (args.values['cpu-prof-dir'] as string | undefined) ?? path.join(os.tmpdir(), `workitem-bench-cpuprof-${Date.now()}`),
);
const RATE = numArg(args, 'rate', 100, 100);
const SECONDS = numArg(args, 'seconds', 20, 5);
/** Paced flood: items per second (2 × ~5 MB ≈ 10 MB/s), for the length of the phase. */
const PACED_RATE = numArg(args, 'paced-rate', 2, 2);
const FLOOD = Math.round(numArg(args, 'flood', 200, 40));
const FLOOD_WINDOW = Math.round(numArg(args, 'flood-window', 8, 8));
const ATTACHMENT_BYTES = Math.round(numArg(args, 'attachment-mb', 3.7, 3.7) * 1_000_000);
const WARMUP_SECONDS = args.quick ? 1 : 3;
const PHASES = String(args.values.phases ?? 'paced,unbounded')
  .split(',')
  .map((p) => p.trim())
  .filter((p): p is 'paced' | 'unbounded' => p === 'paced' || p === 'unbounded');
const GOALS = { p99VsProbe: 1.5, medianShare: 1.5, peakRssMb: 250 };

/** One ~5 MB item template; only the externalId changes between flood items. */
function floodTemplate(): (id: string) => Buffer {
  const marker = 'FLOOD_EXTERNAL_ID_MARKER';
  const xml = workItemXml({
    externalId: marker,
    entrance: 'support',
    subject: 'Recorded call needs a callback',
    body: 'Voicemail attached.',
    contactData: { CallType: 'voicemail' },
    attachment: { fileName: 'call.wav', contentType: 'audio/wav', data: randomBytes(ATTACHMENT_BYTES) },
  });
  const [before, after] = xml.split(marker).map((s) => Buffer.from(s));
  return (id) => Buffer.concat([before, Buffer.from(id), after]);
}

type Stats = ReturnType<typeof stats>;

runBench('latency-under-flood', async (env) => {
  const setup = await connect(env.amqpUrl, 'setup');
  env.defer('close setup connection', () => setup.close());
  await declareTopology(setup);
  const collector = await EventCollector.open(env.amqpUrl);
  env.defer('close collector', () => collector.close());
  const small = await Sender.open(env.amqpUrl, 'small sender');
  env.defer('close small sender', () => small.close());
  const flood = await Sender.open(env.amqpUrl, 'flood sender', FLOOD_WINDOW);
  env.defer('close flood sender', () => flood.close());
  const probe = await BrokerProbe.open(env.amqpUrl);
  env.defer('close probe', () => probe.close());
  const probeSender = await Sender.open(env.amqpUrl, 'probe sender');
  env.defer('close probe sender', () => probeSender.close());
  const probeBody = Buffer.alloc(1000, 'p');
  const probeTarget = { exchange: '', routingKey: probe.queue };
  const floodItem = floodTemplate();
  const floodBytes = floodItem('F-0').length;
  const pacedCount = Math.max(1, Math.round(PACED_RATE * SECONDS));
  log(
    `small items ${RATE}/s for ${SECONDS} s per phase; flood items ${(floodBytes / 1e6).toFixed(2)} MB ` +
      `(attachment ${(ATTACHMENT_BYTES / 1e6).toFixed(2)} MB decoded); paced ${PACED_RATE}/s = ${((PACED_RATE * floodBytes) / 1e6).toFixed(1)} MB/s ` +
      `(${pacedCount} items), unbounded ${FLOOD} items (window ${FLOOD_WINDOW}); phases ${PHASES.join(', ')}; prefetch ${args.prefetch}${args.quick ? ' (quick)' : ''}`,
  );

  const svc = await startBenchService(env, { prefetch: args.prefetch, cpuProfDir: CPU_PROF ? CPU_PROF_DIR : undefined });
  const broker = brokerPid();

  const warm = ids('W', Math.round(RATE * WARMUP_SECONDS));
  await small.paced(warm, RATE, (id) => smallItem(id));
  await collector.waitFor('W', warm.length);

  /** Small items and probe messages at RATE for SECONDS, while `during` runs; then its flood drains. */
  async function phase(tag: string, during?: { ids: string[]; start: () => Promise<unknown> }) {
    const rss = new RssSampler(svc.pid);
    const cpu = new CpuMeter([svc.pid, broker]);
    const startedAt = now();
    let publishedAt = NaN;
    const flooding = during?.start().then(() => (publishedAt = now()));
    const sIds = ids(tag, Math.round(RATE * SECONDS));
    const qIds = ids(`Q${tag}`, sIds.length);
    await Promise.all([small.paced(sIds, RATE, (id) => smallItem(id)), probeSender.paced(qIds, RATE, () => probeBody, probeTarget)]);
    await collector.waitFor(tag, sIds.length, 60_000);
    await probe.waitFor(qIds);
    const smallStats = stats(collector.latencies(small.sentAt, sIds));
    const probeStats = stats(probe.latencies(probeSender.sentAt, qIds));
    let floodInfo: { items: number; publishSeconds: number; drainSeconds: number; mbPerSec: number } | undefined;
    if (during) {
      const floodTag = during.ids[0].split('-')[0];
      log(`  ${tag}: flood events so far ${collector.count(floodTag)}/${during.ids.length}`);
      await flooding;
      await collector.waitFor(floodTag, during.ids.length, 60_000, (c) => log(`  flood drained ${c}/${during.ids.length}`));
      const drainSeconds = (collector.group(floodTag).last - startedAt) / 1000;
      floodInfo = {
        items: during.ids.length,
        publishSeconds: round((publishedAt - startedAt) / 1000, 1),
        drainSeconds: round(drainSeconds, 1),
        mbPerSec: round((during.ids.length * floodBytes) / 1e6 / drainSeconds, 1),
      };
    }
    const cpuSeconds = cpu.stop();
    const peak = rss.stop();
    log(`  ${tag}: ${fmtStats(smallStats)}; broker alone ${fmtStats(probeStats)}; peak RSS ${peak.peakMb} MB`);
    return {
      small: smallStats,
      probe: probeStats,
      flood: floodInfo,
      cpuSeconds: { service: cpuSeconds[0], broker: cpuSeconds[1] },
      peakRssMb: peak.peakMb,
    };
  }

  log(`phase A: ${SECONDS} s of small items, no flood`);
  const a = await phase('A');
  const ownShare = (x: { small: Stats; probe: Stats }) => x.small.p50 - x.probe.p50;
  const judge = (x: Awaited<ReturnType<typeof phase>>) => {
    const p99VsProbe = round(x.small.p99 / x.probe.p99, 2);
    // The service's own share of the median, with the flood over without it (a share under 0.1 ms counts as 0.1 ms).
    const medianShare = round(Math.max(0.1, ownShare(x)) / Math.max(0.1, ownShare(a)), 2);
    const met = {
      p99VsProbe: p99VsProbe <= GOALS.p99VsProbe,
      medianShare: medianShare <= GOALS.medianShare,
      peakRss: x.peakRssMb <= GOALS.peakRssMb,
    };
    return { ...x, p99VsProbe, medianShare, met };
  };
  const results: Partial<Record<'paced' | 'unbounded', ReturnType<typeof judge>>> = {};
  for (const kind of PHASES) {
    if (kind === 'paced') {
      log(`phase B: ${SECONDS} s of small items while ${pacedCount} large items arrive at ${PACED_RATE}/s`);
      const fIds = ids('P', pacedCount);
      results.paced = judge(await phase('B', { ids: fIds, start: () => flood.paced(fIds, PACED_RATE, floodItem) }));
    } else {
      log(`phase C: ${SECONDS} s of small items while ${FLOOD} large items flood in as fast as confirmed`);
      const fIds = ids('F', FLOOD);
      results.unbounded = judge(await phase('C', { ids: fIds, start: () => flood.burst(fIds, floodItem) }));
    }
  }
  const warnings = svc.logs.filter((l) => /"level":"(warn|error)"/.test(l) && !/Redis has no persistence/.test(l)).length;
  await svc.stop('SIGTERM', 30_000);

  if (CPU_PROF) reportProfile(CPU_PROF_DIR, REPO_ROOT, 25);
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  log('');
  log('latency-under-flood summary');
  log(
    `  no flood        small ${fmtStats(a.small)}; probe ${fmtStats(a.probe)}; own share of p50 ${round(ownShare(a), 1)} ms; peak RSS ${a.peakRssMb} MB`,
  );
  for (const [kind, r] of Object.entries(results)) {
    if (!r) continue;
    const f = r.flood!;
    log(
      `  ${kind} flood   ${f.items} × ${(floodBytes / 1e6).toFixed(1)} MB, published in ${f.publishSeconds} s, drained after ${f.drainSeconds} s (${f.mbPerSec} MB/s)`,
    );
    log(`    small ${fmtStats(r.small)}; probe ${fmtStats(r.probe)}`);
    log(`    p99 small/probe ${r.p99VsProbe} (goal ≤ ${GOALS.p99VsProbe}: ${verdict(r.met.p99VsProbe)})`);
    log(
      `    own share of p50 ${round(ownShare(r), 1)} ms vs ${round(ownShare(a), 1)} ms without the flood: ${r.medianShare}× (goal ≤ ${GOALS.medianShare}: ${verdict(r.met.medianShare)})`,
    );
    log(
      `    service peak RSS ${r.peakRssMb} MB (goal ≤ ${GOALS.peakRssMb} MB: ${verdict(r.met.peakRss)}); CPU s service ${r.cpuSeconds.service}, broker ${r.cpuSeconds.broker}`,
    );
  }
  if (warnings > 0) log(`  the service logged ${warnings} warnings/errors (KEEP_LOGS=1 keeps its log)`);
  const paced = results.paced;
  const pacedOk = paced ? paced.met.p99VsProbe && paced.met.medianShare && paced.met.peakRss : true;
  printJson({
    bench: 'latency-under-flood',
    quick: args.quick,
    prefetch: args.prefetch,
    machine: machine(),
    rate: RATE,
    seconds: SECONDS,
    floodItemBytes: floodBytes,
    attachmentBytes: ATTACHMENT_BYTES,
    noFlood: a,
    ...results,
    cpuProfile: CPU_PROF,
    goals: { ...GOALS, pacedMet: pacedOk },
    serviceWarnings: warnings,
  });
  return pacedOk;
});
