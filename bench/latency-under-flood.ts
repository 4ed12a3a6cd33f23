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
 * Issue 6: do small items stay fast while big ones flood in? Small (~1 KB) items are published at a steady
 * rate and their publish→event latency measured, first alone (phase A), then while a second sender floods
 * ~5 MB items (a ~3.7 MB base64 audio/wav attachment each, entrance `support`) as fast as the broker takes
 * them (phase B, bounded number of flood items). Goals: p99(B) ≤ 1.5 × p99(A); service peak RSS ≤ 300 MB
 * (sampled every 100 ms over the whole run, flood drain included).
 *
 * A probe (bench.probe, a quorum queue the bench consumes itself) is fed at the same rate in both phases:
 * its publish→deliver latency is what the broker alone adds, so the service's share can be told apart.
 *
 * Options: --strict (exit 3 when a goal is missed) --quick (5 s phases, 40 flood items) --rate=100 --seconds=20 --flood=200 --flood-window=8
 *          --flood-rate=<items/s> (default: as fast as the broker confirms) --attachment-mb=3.7 --prefetch=64 --cpu-prof [--cpu-prof-dir=<dir>]
 */

const args = parseBenchArgs({
  rate: { type: 'string' },
  seconds: { type: 'string' },
  flood: { type: 'string' },
  'flood-window': { type: 'string' },
  'attachment-mb': { type: 'string' },
  'flood-rate': { type: 'string' },
  'cpu-prof': { type: 'boolean' },
  'cpu-prof-dir': { type: 'string' },
});
/** Flood items per second; unset: as fast as the broker confirms them (window FLOOD_WINDOW). */
const FLOOD_RATE = args.values['flood-rate'] === undefined ? undefined : numArg(args, 'flood-rate', 1, 1);
const CPU_PROF = args.values['cpu-prof'] === true || typeof args.values['cpu-prof-dir'] === 'string';
const CPU_PROF_DIR = path.resolve(
  (args.values['cpu-prof-dir'] as string | undefined) ?? path.join(os.tmpdir(), `workitem-bench-cpuprof-${Date.now()}`),
);
const RATE = numArg(args, 'rate', 100, 100);
const SECONDS = numArg(args, 'seconds', 20, 5);
const FLOOD = Math.round(numArg(args, 'flood', 200, 40));
const FLOOD_WINDOW = Math.round(numArg(args, 'flood-window', 8, 8));
const ATTACHMENT_BYTES = Math.round(numArg(args, 'attachment-mb', 3.7, 3.7) * 1_000_000);
const WARMUP_SECONDS = args.quick ? 1 : 3;

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
  log(
    `small items ${RATE}/s for ${SECONDS} s per phase; flood ${FLOOD} × ${(floodBytes / 1e6).toFixed(2)} MB ` +
      `(attachment ${(ATTACHMENT_BYTES / 1e6).toFixed(2)} MB decoded, ${FLOOD_RATE ? `${FLOOD_RATE}/s` : 'as fast as confirmed'}, window ${FLOOD_WINDOW}); prefetch ${args.prefetch}${args.quick ? ' (quick)' : ''}`,
  );

  const svc = await startBenchService(env, { prefetch: args.prefetch, cpuProfDir: CPU_PROF ? CPU_PROF_DIR : undefined });
  const rss = new RssSampler(svc.pid);

  const warm = ids('W', Math.round(RATE * WARMUP_SECONDS));
  await small.paced(warm, RATE, (id) => smallItem(id));
  await collector.waitFor('W', warm.length);

  log(`phase A: ${SECONDS} s of small items, no flood`);
  const broker = brokerPid();
  let cpu = new CpuMeter([svc.pid, broker]);
  const aIds = ids('A', Math.round(RATE * SECONDS));
  const qaIds = ids('QA', aIds.length);
  await Promise.all([small.paced(aIds, RATE, (id) => smallItem(id)), probeSender.paced(qaIds, RATE, () => probeBody, probeTarget)]);
  await collector.waitFor('A', aIds.length);
  await probe.waitFor(qaIds);
  const a = stats(collector.latencies(small.sentAt, aIds));
  const qa = stats(probe.latencies(probeSender.sentAt, qaIds));
  const rssA = rss.peakMb;
  const cpuA = cpu.stop();
  log(`  A: ${fmtStats(a)}; broker alone ${fmtStats(qa)}`);

  log(`phase B: ${SECONDS} s of small items while ${FLOOD} large items flood in`);
  cpu = new CpuMeter([svc.pid, broker]);
  const fIds = ids('F', FLOOD);
  const floodStart = now();
  let floodPublishedAt = NaN;
  const flooding = (FLOOD_RATE ? flood.paced(fIds, FLOOD_RATE, floodItem) : flood.burst(fIds, floodItem)).then(
    () => (floodPublishedAt = now()),
  );
  const bIds = ids('B', Math.round(RATE * SECONDS));
  const qbIds = ids('QB', bIds.length);
  await Promise.all([small.paced(bIds, RATE, (id) => smallItem(id)), probeSender.paced(qbIds, RATE, () => probeBody, probeTarget)]);
  await collector.waitFor('B', bIds.length, 60_000);
  await probe.waitFor(qbIds);
  const b = stats(collector.latencies(small.sentAt, bIds));
  const qb = stats(probe.latencies(probeSender.sentAt, qbIds));
  log(`  B: ${fmtStats(b)}; broker alone ${fmtStats(qb)}; flood events so far ${collector.count('F')}/${FLOOD}`);

  await flooding;
  await collector.waitFor('F', FLOOD, 60_000, (c) => log(`  flood drained ${c}/${FLOOD}`));
  const floodDone = collector.group('F').last;
  const cpuB = cpu.stop();
  const floodSeconds = (floodDone - floodStart) / 1000;
  const peak = rss.stop();
  const warnings = svc.logs.filter((l) => /"level":"(warn|error)"/.test(l) && !/Redis has no persistence/.test(l)).length;
  await svc.stop('SIGTERM', 30_000);

  if (CPU_PROF) reportProfile(CPU_PROF_DIR, REPO_ROOT, 25);
  const ratio = round(b.p99 / a.p99, 2);
  const ok = { latency: ratio <= 1.5, rss: peak.peakMb <= 300 };
  log('');
  log('latency-under-flood summary');
  log(`  small items, no flood    ${fmtStats(a)}`);
  log(`  small items, with flood  ${fmtStats(b)}`);
  log(`  broker alone (probe quorum queue, no service): no flood ${fmtStats(qa)}; with flood ${fmtStats(qb)}`);
  log(`  p99 ratio with/without ${ratio} (goal ≤ 1.5: ${ok.latency ? 'met' : 'NOT met'})`);
  log(
    `  flood: ${FLOOD} × ${(floodBytes / 1e6).toFixed(1)} MB published in ${((floodPublishedAt - floodStart) / 1000).toFixed(1)} s, ` +
      `all events after ${floodSeconds.toFixed(1)} s (${((FLOOD * floodBytes) / 1e6 / floodSeconds).toFixed(1)} MB/s)`,
  );
  log(`  CPU seconds: phase A service ${cpuA[0]}, broker ${cpuA[1]}; phase B + flood drain service ${cpuB[0]}, broker ${cpuB[1]}`);
  log(
    `  service peak RSS ${peak.peakMb} MB (kernel VmHWM ${peak.hwmMb} MB; ${round(rssA, 1)} MB before the flood) (goal ≤ 300 MB: ${ok.rss ? 'met' : 'NOT met'})`,
  );
  if (warnings > 0) log(`  the service logged ${warnings} warnings/errors (KEEP_LOGS=1 keeps its log)`);
  printJson({
    bench: 'latency-under-flood',
    quick: args.quick,
    prefetch: args.prefetch,
    machine: machine(),
    rate: RATE,
    seconds: SECONDS,
    noFlood: a,
    withFlood: b,
    p99Ratio: ratio,
    brokerProbe: { noFlood: qa, withFlood: qb },
    flood: {
      items: FLOOD,
      rate: FLOOD_RATE ?? 'unbounded',
      window: FLOOD_WINDOW,
      itemBytes: floodBytes,
      attachmentBytes: ATTACHMENT_BYTES,
      publishSeconds: round((floodPublishedAt - floodStart) / 1000, 1),
      drainSeconds: round(floodSeconds, 1),
    },
    cpuSeconds: { phaseA: { service: cpuA[0], broker: cpuA[1] }, phaseBAndDrain: { service: cpuB[0], broker: cpuB[1] } },
    peakRssMb: peak.peakMb,
    hwmMb: peak.hwmMb,
    peakRssBeforeFloodMb: round(rssA, 1),
    cpuProfile: CPU_PROF,
    goals: { p99Ratio: 1.5, peakRssMb: 300, met: ok },
    serviceWarnings: warnings,
  });
  return ok.latency && ok.rss;
});
