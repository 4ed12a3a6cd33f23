import { spawn, type ChildProcess } from 'node:child_process';
import Redis from 'ioredis';
import type { ContactRecord } from '../../src/domain/contact-event';
import { RedisItemHistory } from '../../src/adapters/redis/redis-item-history';
import { RedisStateStore } from '../../src/adapters/redis/redis-state-store';
import { registerExitCleanup } from '../helpers/child-reaper';
import { startRedis, type RedisProcess } from '../helpers/redis-process';
import { randomPrefix } from '../helpers/redis';
import { sleep, waitUntil } from '../helpers/wait';

/**
 * Every Lua script touches only the keys it is given in KEYS (none built inside), the rule that lets each transition
 * run on one slot of a Redis Cluster. Checked by watching a private redis-server with MONITOR while the state store
 * runs every transition, the `moved` retries included: each command a script runs (`[0 lua]` lines, which Redis 7
 * prints right after the EVALSHA that ran them) may name only keys of that EVALSHA, and no ARGV carries the prefix
 * a key could be built from.
 */

/** Splits a MONITOR line into its quoted arguments (redis-cli escapes `"` and `\`). */
function monitorArgs(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\(.)/g, '$1'));
}

interface ScriptRun {
  keys: string[];
  argv: string[];
  inner: string[][];
}

function scriptRuns(monitor: string): ScriptRun[] {
  const runs: ScriptRun[] = [];
  let current: ScriptRun | null = null;
  for (const line of monitor.split('\n')) {
    const source = /^\d+\.\d+ \[\d+ ([^\]]+)\]/.exec(line)?.[1];
    if (!source) continue;
    const args = monitorArgs(line);
    if (source === 'lua') {
      if (!current) throw new Error(`a script command without its EVALSHA: ${line}`);
      current.inner.push(args);
    } else if (['evalsha', 'eval'].includes(args[0]?.toLowerCase())) {
      const n = Number(args[2]);
      current = { keys: args.slice(3, 3 + n), argv: args.slice(3 + n), inner: [] };
      runs.push(current);
    } else {
      current = null;
    }
  }
  return runs;
}

function record(contactId: string, externalId: string, entrance: string): ContactRecord {
  return {
    contactId,
    externalId,
    source: 'crm',
    entrance,
    channel: 'email',
    workItem: true,
    taskType: 'WorkItemTask',
    priority: 5,
    subject: 'key audit',
    contactData: {},
    presentation: {} as ContactRecord['presentation'],
    receivedAt: new Date().toISOString(),
  };
}

describe('Lua scripts touch only the keys they are given', () => {
  let redis: RedisProcess;
  let client: Redis;
  let monitor: ChildProcess | undefined;
  let out = '';
  const prefix = randomPrefix();

  beforeAll(async () => {
    redis = await startRedis({ appendonly: false });
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    monitor = spawn('redis-cli', ['-p', String(redis.port), 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const unregister = registerExitCleanup(() => monitor?.kill('SIGKILL'));
    monitor.once('exit', unregister);
    monitor.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitUntil(async () => out.startsWith('OK'), { timeoutMs: 10_000, describe: 'MONITOR started' });
  }, 30_000);

  afterAll(async () => {
    monitor?.kill('SIGKILL');
    client?.disconnect();
    await redis?.stop();
  }, 30_000);

  it('through every transition', async () => {
    const store = new RedisStateStore(client, prefix, 3600);
    const now = () => Date.now();
    const base = { maxParked: 100, nowMs: now() };

    // accept: routed, a duplicate, a stale index entry (its item gone: accepted again), parked, scheduled, expiring
    expect((await store.accept({ ...base, record: record('c1', 'e1', 'loans') })).outcome).toBe('accepted');
    expect((await store.accept({ ...base, record: record('c1b', 'e1', 'loans') })).outcome).toBe('duplicate');
    await client.hset(`${prefix}ext`, 'crm|e9', 'c-gone');
    expect((await store.accept({ ...base, record: record('c9', 'e9', 'loans') })).outcome).toBe('accepted');
    await store.setEntrance('support', false, 'test', now());
    for (const [cid, ext] of [
      ['c2', 'e2'],
      ['c3', 'e3'],
      ['c4', 'e4'],
    ]) {
      expect((await store.accept({ ...base, record: record(cid, ext, 'support') })).outcome).toBe('parked');
    }
    const soon = { text: new Date(now() + 200).toISOString(), ms: now() + 200 };
    expect((await store.accept({ ...base, record: record('c5', 'e5', 'loans'), activateAt: soon })).outcome).toBe('scheduled');
    expect((await store.accept({ ...base, record: record('c6', 'e6', 'loans'), expiresAt: soon })).outcome).toBe('accepted');

    // parked: a TTL check (closed), the flush after the open, back to parked, a check that expires one
    expect((await store.checkParked('c2', now(), 60_000, 'flush:support')).outcome).toBe('closed');
    await store.setEntrance('support', true, 'test', now());
    expect((await store.checkParked('c2', now(), 60_000, 'flush:support')).outcome).toBe('open');
    expect((await store.routeParkedBatch('support', now(), 60_000, 2)).map((r) => r.outcome)).toEqual(['routed', 'routed']);
    expect((await store.parkRouted('c2', now())).outcome).toBe('parked');
    expect((await store.checkParked('c4', now() + 120_000, 60_000, 'flush:support')).outcome).toBe('expired');
    expect((await store.checkParked('c4', now(), 60_000)).outcome).toBe('gone');

    // updates, cancel, end, locks
    const snap = await store.readForUpdate('crm', 'e1');
    expect(snap?.contactId).toBe('c1');
    const upd = { contactId: 'c1', updateId: 'u1', dedupeDepth: 16, record: snap!.record, changed: ['priority'], nowMs: now() };
    expect((await store.applyUpdate({ ...upd, expectVersion: snap!.version, revision: 2 })).outcome).toBe('updated');
    expect((await store.applyUpdate({ ...upd, expectVersion: snap!.version + 1, revision: 2 })).outcome).toBe('already_applied');
    expect((await store.cancel('crm', 'e3', now())).outcome).toBe('cancelled');
    expect((await store.cancel('crm', 'e3', now())).outcome).toBe('cancelled_before');
    expect((await store.end('c1', now())).outcome).toBe('ended');
    expect((await store.end('c2', now())).outcome).toBe('ended');
    expect(await store.acquireLock('replay', 'me', 5_000)).toBe(1);
    expect(await store.acquireLock('replay', 'other', 5_000)).toBeNull();
    expect(await store.renewLock('replay', 'me', 5_000)).toBe(true);
    await store.releaseLock('replay', 'me');

    // timers: claimed with a short lease, taken over once it ran out, then finished
    await sleep(300);
    expect((await store.claimDueExpiries(now(), 10, 100)).claims.map((c) => c.contactId)).toEqual(['c6']);
    expect((await store.claimDueActivations(now(), 10, 100)).claims.map((c) => c.contactId)).toEqual(['c5']);
    await sleep(200);
    expect((await store.claimDueExpiries(now(), 10, 100)).claims.map((c) => [c.contactId, c.retaken])).toEqual([['c6', true]]);
    expect((await store.claimDueActivations(now(), 10, 100)).claims.map((c) => [c.contactId, c.retaken])).toEqual([['c5', true]]);
    await store.finishExpiry('c6');
    await store.finishActivation('c5');
    expect((await store.claimDueExpiries(now() + 1_000, 10, 100)).claims).toEqual([]);

    // overdue: a dueAt passed (already on arrival) marks the item once, a lease taken over, an update re-arms, End clears
    const past = { text: new Date(now() - 1).toISOString(), ms: now() - 1 };
    expect((await store.accept({ ...base, nowMs: now(), record: record('c7', 'e7', 'loans'), dueAt: past })).outcome).toBe('accepted');
    expect((await store.claimDueOverdue(now(), 10, 100)).claims.map((c) => c.contactId)).toEqual(['c7']);
    expect(await store.countOverdue(['loans', 'support'])).toEqual({ loans: 1, support: 0 });
    expect(await store.countOverdueByTaskType()).toEqual([{ taskType: 'WorkItemTask', entrance: 'loans', count: 1 }]);
    await sleep(150);
    expect((await store.claimDueOverdue(now(), 10, 100)).claims.map((c) => [c.contactId, c.retaken])).toEqual([['c7', true]]);
    await store.finishOverdue('c7');
    expect((await store.claimDueOverdue(now() + 1_000, 10, 100)).claims).toEqual([]);
    // An overdue item's task type changes: its overdue-now count moves along.
    const r7 = await store.readForUpdate('crm', 'e7');
    const retyped = { ...r7!.record, taskType: 'retyped' };
    const type7 = {
      contactId: 'c7',
      updateId: 'u7t',
      dedupeDepth: 16,
      record: retyped,
      changed: ['contactData.WorkItemTask'],
      nowMs: now(),
    };
    expect((await store.applyUpdate({ ...type7, expectVersion: r7!.version })).outcome).toBe('updated');
    expect(await store.countOverdueByTaskType()).toEqual([{ taskType: 'retyped', entrance: 'loans', count: 1 }]);
    const s7 = await store.readForUpdate('crm', 'e7');
    const later = { text: new Date(now() + 60_000).toISOString(), ms: now() + 60_000 };
    const upd7 = { contactId: 'c7', updateId: 'u7', dedupeDepth: 16, record: s7!.record, changed: ['dueAt'], nowMs: now() };
    expect((await store.applyUpdate({ ...upd7, expectVersion: s7!.version, dueAt: later })).outcome).toBe('updated');
    expect(await store.countOverdue(['loans'])).toEqual({ loans: 0 });
    expect(await store.countOverdueByTaskType()).toEqual([]);
    expect(await client.zscore(`${prefix}due:overdue`, 'c7')).toBe(String(later.ms));
    expect(await store.end('c7', now())).toMatchObject({ outcome: 'ended', taskType: 'retyped', due: 'before' });
    expect(await client.zcard(`${prefix}due:overdue`)).toBe(0);

    // escalation (contract 1.2): a plan armed at accept (one rule applied on arrival), a due rule raising the priority
    // (its claim taken over after the lease), an update making the plan again, End taking the item out of the timer
    const soonRule = now() + 150;
    const plan = [
      { atMs: now() - 1_000, priority: 6, rule: 'before PT2H' },
      { atMs: soonRule, priority: 8, rule: 'before PT1H' },
      { atMs: now() + 60_000, priority: 10, rule: 'after PT0S' },
    ];
    const e1 = { ...record('e1c', 'ee1', 'loans'), priority: 6 };
    expect((await store.accept({ ...base, nowMs: now() - 5_000, record: e1, escalation: { plan, done: 1 } })).outcome).toBe('accepted');
    expect(await client.zscore(`${prefix}due:escalate`, 'e1c')).toBe(String(soonRule));
    await sleep(200);
    const esc = await store.claimDueEscalations(now(), 10, 100);
    expect(esc.claims.map((c) => [c.contactId, c.from, c.to, c.rules, c.record.priority])).toEqual([['e1c', 6, 8, ['before PT1H'], 8]]);
    expect(esc.nextDueMs).toBe(plan[2].atMs);
    await sleep(150);
    expect((await store.claimDueEscalations(now(), 10, 100)).claims.map((c) => [c.contactId, c.retaken, c.to])).toEqual([['e1c', true, 8]]);
    await store.finishEscalation('e1c');
    expect((await store.getItem('e1c'))?.record.priority).toBe(8);
    const se = await store.readForUpdate('crm', 'ee1');
    const moved = plan.map((p) => ({ ...p, atMs: p.atMs + 3_600_000 }));
    const upde = { contactId: 'e1c', updateId: 'ue', dedupeDepth: 16, record: se!.record, changed: ['dueAt'], nowMs: now() };
    expect((await store.applyUpdate({ ...upde, expectVersion: se!.version, escalation: { plan: moved } })).outcome).toBe('updated');
    // Every rule's new time is ahead: the two that fired fire again then (raising only a lower priority).
    expect(await client.zscore(`${prefix}due:escalate`, 'e1c')).toBe(String(moved[0].atMs));
    expect(await client.hget(`${prefix}item:e1c`, 'escDone')).toBe('0');
    expect((await store.end('e1c', now())).outcome).toBe('ended');
    expect(await client.zcard(`${prefix}due:escalate`)).toBe(0);

    // hold and resume (contract 1.2): routed, parked and scheduled items held; a hold changed; resumed by a sender, by
    // the until timer (a lease taken over), a scheduled one again; a parked message of a held item; the held one
    // cancelled, ended, expired
    const t = () => now();
    const hold = (ext: string, extra: object = {}) =>
      store.hold({ source: 'crm', externalId: ext, holdId: `h-${ext}`, sameAgain: false, by: 'sender', nowMs: t(), ...extra });
    const resume = (ext: string) =>
      store.resume({ source: 'crm', externalId: ext, resumeId: `r-${ext}`, sameAgain: true, by: 'sender', nowMs: t() });
    expect((await store.accept({ ...base, nowMs: t(), record: record('h1', 'eh1', 'loans') })).outcome).toBe('accepted');
    expect((await hold('eh1')).outcome).toBe('held');
    await store.confirmWithdrawn('h1');
    expect((await hold('eh1', { until: { text: 'x', ms: t() + 100 }, reason: 'docs' })).outcome).toBe('rehold');
    expect((await hold('eh1', { sameAgain: true })).outcome).toBe('already');
    await store.setEntrance('support', false, 'test', t());
    expect((await store.accept({ ...base, nowMs: t(), record: record('h2', 'eh2', 'support') })).outcome).toBe('parked');
    expect((await hold('eh2')).outcome).toBe('held');
    expect((await store.checkParked('h2', t(), 60_000, 'flush:support')).outcome).toBe('held');
    expect((await resume('eh2')).outcome).toBe('resumed');
    expect((await resume('eh2')).outcome).toBe('already');
    const later2 = { text: new Date(t() + 60_000).toISOString(), ms: t() + 60_000 };
    expect((await store.accept({ ...base, nowMs: t(), record: record('h3', 'eh3', 'loans'), activateAt: later2 })).outcome).toBe(
      'scheduled',
    );
    expect((await hold('eh3')).outcome).toBe('held');
    expect((await resume('eh3')).outcome).toBe('resumed');
    expect((await resume('eh1x')).outcome).toBe('not_found');
    await sleep(150);
    expect((await store.claimDueResumes(t(), 10, 100)).claims.map((c) => [c.contactId, c.state])).toEqual([['h1', 'routed']]);
    await sleep(150);
    expect((await store.claimDueResumes(t(), 10, 100)).claims.map((c) => [c.contactId, c.retaken])).toEqual([['h1', true]]);
    await store.confirmPlaced(['h1'], t());
    await store.finishResume('h1');
    expect(
      (await store.resume({ source: 'crm', externalId: 'eh1', resumeId: 'other', sameAgain: false, by: 'sender', nowMs: t() })).outcome,
    ).toBe('not_held');
    expect((await hold('eh1', { holdId: 'h-again' })).outcome).toBe('held');
    expect((await store.cancel('crm', 'eh1', t(), { contactId: 'h1', by: 'dashboard:op' })).outcome).toBe('cancelled');
    expect((await hold('eh3', { holdId: 'h-eh3-2' })).outcome).toBe('held');
    expect((await store.end('h3', t())).outcome).toBe('ended');
    expect((await store.accept({ ...base, nowMs: t(), record: record('h4', 'eh4', 'loans'), expiresAt: soon })).outcome).toBe('accepted');
    expect((await hold('eh4', { until: { text: 'y', ms: t() + 60_000 } })).outcome).toBe('held');
    expect((await store.claimDueExpiries(t() + 1_000, 10, 100)).claims.map((c) => [c.contactId, c.state])).toEqual([['h4', 'held']]);
    await store.finishExpiry('h4');
    expect(await client.zcard(`${prefix}due:resume`)).toBe(0);
    await store.setEntrance('support', true, 'test', t());

    // A `moved` retry: the store's idea of the item's entrance (cached at accept) is not the item's.
    await client.hset(`${prefix}item:c9`, 'entrance', 'support');
    expect((await store.checkParked('c9', now(), 60_000)).outcome).toBe('not_parked');
    expect(out).toContain(`"${prefix}parked:support"`);

    // The item history's append (a repeat collapsed; a final step sets the expiry).
    const history = new RedisItemHistory(client, prefix, 3600, 2);
    const step = (s: 'parked' | 'ended') => ({ step: s, at: new Date().toISOString(), instance: 'i', reason: 'r' });
    await history.append('c2', [step('parked'), step('parked'), step('parked')]);
    await history.append('c2', [step('parked')], { collapse: true });
    await history.append('c2', [step('ended')]);
    expect((await history.read('c2'))?.dropped).toBe(2);

    await client.ping(); // a command after the last script closes its group in the MONITOR output
    await waitUntil(async () => out.includes('"ping"') || out.includes('"PING"'), { timeoutMs: 10_000, describe: 'MONITOR caught up' });

    const runs = scriptRuns(out);
    expect(runs.length).toBeGreaterThan(30);
    const problems: string[] = [];
    for (const run of runs) {
      const declared = new Set(run.keys);
      for (const a of run.argv) if (a.includes(prefix)) problems.push(`ARGV carries a key or the prefix: ${a}`);
      for (const cmd of run.inner) {
        const touched = cmd.slice(1).filter((a) => a.startsWith(prefix));
        if (touched.length === 0) problems.push(`a script command names no key of ours: ${cmd.join(' ')}`);
        for (const key of touched) if (!declared.has(key)) problems.push(`${cmd[0]} ${key} not in KEYS [${run.keys.join(' ')}]`);
      }
    }
    expect(problems).toEqual([]);
  }, 60_000);
});
