import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A tiny analyzer of V8 `.cpuprofile` files (as written by `node --cpu-prof`): self time per function,
 * self time per area (service folder, npm package, node internals, GC), inclusive time of the service's
 * own functions. Service locations are mapped back to src/*.ts through dist's source maps.
 *
 * CLI: node dist/bench/bench/lib/cpu-profile.js <file.cpuprofile|dir> [top=25]
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  name: string;
  where: string;
  area: string;
  ms: number;
  pct: number;
}

export interface ProfileSummary {
  file: string;
  wallMs: number;
  sampledMs: number;
  idleMs: number;
  busyMs: number;
  gcMs: number;
  topSelf: Row[];
  byArea: { area: string; ms: number; pct: number }[];
  topInclusiveService: Row[];
  /** Native/V8 self time (e.g. socket writes) charged to the nearest npm package or service function calling it. */
  nativeByCaller: Row[];
}

// ------------------------------------------------------------------------------------------- source maps

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** generated line (0-based) → sorted [generatedColumn, sourceIndex, originalLine] segments. */
type LineMap = [number, number, number][][];

const mapCache = new Map<string, { sources: string[]; lines: LineMap } | null>();

function decodeVlq(s: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of s) {
    const d = B64.indexOf(ch);
    value += (d & 31) << shift;
    if (d & 32) shift += 5;
    else {
      out.push(value & 1 ? -(value >> 1) : value >> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

function loadMap(jsFile: string): { sources: string[]; lines: LineMap } | null {
  if (mapCache.has(jsFile)) return mapCache.get(jsFile)!;
  let result: { sources: string[]; lines: LineMap } | null;
  try {
    const raw = JSON.parse(readFileSync(`${jsFile}.map`, 'utf8')) as { sources: string[]; mappings: string };
    const lines: LineMap = [];
    let src = 0;
    let oLine = 0;
    for (const lineStr of raw.mappings.split(';')) {
      const segs: [number, number, number][] = [];
      let col = 0;
      for (const seg of lineStr.split(',')) {
        if (!seg) continue;
        const v = decodeVlq(seg);
        col += v[0];
        if (v.length >= 4) {
          src += v[1];
          oLine += v[2];
          segs.push([col, src, oLine]);
        }
      }
      lines.push(segs);
    }
    const dir = path.dirname(jsFile);
    result = { sources: raw.sources.map((s) => path.resolve(dir, s)), lines };
  } catch {
    result = null;
  }
  mapCache.set(jsFile, result);
  return result;
}

/** file:line of the original (TypeScript) source, when dist has a source map for it. */
function original(file: string, line0: number, col0: number): { file: string; line: number } | null {
  const m = loadMap(file);
  const segs = m?.lines[line0];
  if (!m || !segs || segs.length === 0) return null;
  let best = segs[0];
  for (const s of segs) if (s[0] <= col0) best = s;
  return { file: m.sources[best[1]], line: best[2] + 1 };
}

// ------------------------------------------------------------------------------------------- analysis

function fileOf(url: string): string {
  if (url.startsWith('file://')) {
    try {
      return fileURLToPath(url);
    } catch {
      return url;
    }
  }
  return url;
}

function describe(cf: CallFrame, root: string): { name: string; where: string; area: string; service: boolean } {
  const name = cf.functionName || '(anonymous)';
  const url = cf.url;
  if (!url) {
    const special = /^\((garbage collector|idle|program|root)\)$/.test(name);
    return { name, where: special ? '' : '(native)', area: special ? name : '(native/V8 builtins)', service: false };
  }
  if (url.startsWith('node:')) {
    const mod = url.slice(5).replace(/^internal\//, '');
    return { name, where: `${url}:${cf.lineNumber + 1}`, area: `node:${mod.split('/')[0]}`, service: false };
  }
  const file = fileOf(url);
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = file.slice(nm + '/node_modules/'.length);
    const parts = rest.split('/');
    const pkg = parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
    return { name, where: `${rest}:${cf.lineNumber + 1}`, area: `npm:${pkg}`, service: false };
  }
  const orig = original(file, cf.lineNumber, cf.columnNumber);
  const shown = orig ?? { file, line: cf.lineNumber + 1 };
  const rel = path.relative(root, shown.file);
  const inRepo = !rel.startsWith('..');
  const service = inRepo && /^(src|dist)\//.test(rel) && !/^dist\/bench\//.test(rel);
  const area = service ? `service:${path.dirname(rel).replace(/^(src|dist)\/?/, '') || '.'}` : inRepo ? rel.split('/')[0] : 'other';
  return { name, where: `${inRepo ? rel : shown.file}:${shown.line}`, area, service };
}

export function analyzeProfile(file: string, root: string, top = 25): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of prof.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  // Sample i lasts until sample i+1 (timeDeltas[i+1]); the last one gets the mean.
  const n = prof.samples.length;
  const dur = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n - 1; i++) {
    dur[i] = Math.max(0, prof.timeDeltas[i + 1]) / 1000;
    sum += dur[i];
  }
  if (n > 0) dur[n - 1] = n > 1 ? sum / (n - 1) : 0;

  const info = new Map<number, ReturnType<typeof describe> & { key: string }>();
  const infoOf = (id: number) => {
    let v = info.get(id);
    if (!v) {
      const d = describe(byId.get(id)!.callFrame, root);
      v = { ...d, key: `${d.name}\u0000${d.where}` };
      info.set(id, v);
    }
    return v;
  };
  const stackKeys = new Map<number, string[]>();
  const stackOf = (id: number): string[] => {
    let keys = stackKeys.get(id);
    if (keys) return keys;
    const set = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const inf = infoOf(cur);
      if (inf.service) set.add(inf.key);
    }
    keys = [...set];
    stackKeys.set(id, keys);
    return keys;
  };

  const self = new Map<string, { name: string; where: string; area: string; ms: number }>();
  const areas = new Map<string, number>();
  const nativeCallers = new Map<string, { name: string; where: string; area: string; ms: number }>();
  const callerOf = new Map<number, { name: string; where: string; area: string } | null>();
  const nearestCaller = (id: number) => {
    if (callerOf.has(id)) return callerOf.get(id)!;
    let found: { name: string; where: string; area: string } | null = null;
    for (let cur = parent.get(id); cur !== undefined; cur = parent.get(cur)) {
      const inf = infoOf(cur);
      if (inf.area.startsWith('npm:') || inf.area.startsWith('service:')) {
        found = inf;
        break;
      }
    }
    callerOf.set(id, found);
    return found;
  };
  const inclusive = new Map<string, { name: string; where: string; area: string; ms: number }>();
  let idle = 0;
  let gc = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const id = prof.samples[i];
    const d = dur[i];
    total += d;
    const inf = infoOf(id);
    if (inf.name === '(idle)') {
      idle += d;
      continue;
    }
    if (inf.name === '(garbage collector)') gc += d;
    const s = self.get(inf.key) ?? { name: inf.name, where: inf.where, area: inf.area, ms: 0 };
    s.ms += d;
    self.set(inf.key, s);
    areas.set(inf.area, (areas.get(inf.area) ?? 0) + d);
    if (inf.area === '(native/V8 builtins)' || inf.area.startsWith('node:')) {
      const c = nearestCaller(id);
      const key = `${inf.name}\u0000${c ? `${c.name} ${c.where}` : '?'}`;
      const e = nativeCallers.get(key) ?? {
        name: inf.name,
        where: c ? `← ${c.name}  ${c.where}` : '← (no npm/service caller)',
        area: c?.area ?? '',
        ms: 0,
      };
      e.ms += d;
      nativeCallers.set(key, e);
    }
    for (const k of stackOf(id)) {
      const e = inclusive.get(k);
      if (e) e.ms += d;
      else {
        const [name, where] = k.split('\u0000');
        inclusive.set(k, { name, where, area: '', ms: d });
      }
    }
  }
  const busy = total - idle;
  const pct = (ms: number) => Math.round((ms / Math.max(busy, 1e-9)) * 1000) / 10;
  const r1 = (x: number) => Math.round(x * 10) / 10;
  const rows = (m: Map<string, { name: string; where: string; area: string; ms: number }>, k: number): Row[] =>
    [...m.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, k)
      .map((x) => ({ ...x, ms: r1(x.ms), pct: pct(x.ms) }));
  return {
    file,
    wallMs: r1((prof.endTime - prof.startTime) / 1000),
    sampledMs: r1(total),
    idleMs: r1(idle),
    busyMs: r1(busy),
    gcMs: r1(gc),
    topSelf: rows(self, top),
    byArea: [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 20)
      .map(([area, ms]) => ({ area, ms: r1(ms), pct: pct(ms) })),
    topInclusiveService: rows(inclusive, 20),
    nativeByCaller: rows(nativeCallers, 15),
  };
}

/** The main-thread profile(s) in a --cpu-prof directory (file names end in .<pid>.<threadId>.<seq>.cpuprofile). */
export function mainThreadProfiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f))
    .map((f) => path.join(dir, f));
}

export function formatSummary(s: ProfileSummary): string {
  const lines: string[] = [];
  const pad = (x: string | number, w: number) => String(x).padStart(w);
  lines.push(`CPU profile ${s.file}`);
  lines.push(
    `  wall ${s.wallMs} ms, busy ${s.busyMs} ms (${Math.round((s.busyMs / Math.max(s.wallMs, 1)) * 100)}% of one core), idle ${s.idleMs} ms, GC ${s.gcMs} ms`,
  );
  lines.push(`  top ${s.topSelf.length} functions by self time (% of busy time):`);
  s.topSelf.forEach((r, i) =>
    lines.push(`  ${pad(i + 1, 3)}. ${pad(r.ms.toFixed(0), 7)} ms ${pad(r.pct.toFixed(1), 5)}%  ${r.name}  ${r.where}`),
  );
  lines.push('  self time by area:');
  for (const a of s.byArea) lines.push(`       ${pad(a.ms.toFixed(0), 7)} ms ${pad(a.pct.toFixed(1), 5)}%  ${a.area}`);
  lines.push('  native and node-internal self time by nearest npm/service caller:');
  for (const r of s.nativeByCaller) lines.push(`       ${pad(r.ms.toFixed(0), 7)} ms ${pad(r.pct.toFixed(1), 5)}%  ${r.name}  ${r.where}`);
  lines.push("  the service's own functions by inclusive time (callees included):");
  for (const r of s.topInclusiveService)
    lines.push(`       ${pad(r.ms.toFixed(0), 7)} ms ${pad(r.pct.toFixed(1), 5)}%  ${r.name}  ${r.where}`);
  return lines.join('\n');
}

if (require.main === module) {
  const target = process.argv[2];
  if (!target) {
    process.stderr.write('usage: cpu-profile <file.cpuprofile|dir> [top=25]\n');
    process.exit(2);
  }
  const top = Number(process.argv[3] ?? 25);
  const files = target.endsWith('.cpuprofile') ? [target] : mainThreadProfiles(target);
  // dist/bench/bench/lib → repository root
  let root = path.resolve(__dirname);
  while (!existsSync(path.join(root, 'package.json')) && path.dirname(root) !== root) root = path.dirname(root);
  for (const f of files) process.stdout.write(`${formatSummary(analyzeProfile(f, root, top))}\n`);
}

/** Analyzes and prints the newest main-thread profile in `dir`; undefined when there is none. */
export function reportProfile(
  dir: string,
  root: string,
  top = 25,
  print: (s: string) => void = (s) => process.stdout.write(`${s}\n`),
): ProfileSummary | undefined {
  const files = mainThreadProfiles(dir);
  if (files.length === 0) {
    print(`no main-thread .cpuprofile found in ${dir}`);
    return undefined;
  }
  const summary = analyzeProfile(files[files.length - 1], root, top);
  print(formatSummary(summary));
  return summary;
}
