import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Cluster, Redis } from 'ioredis';
import type { PlacedState } from '../../domain/receipt';
import type { EndedDue, ItemState } from '../../ports/state-store';
import type { RedisConnection } from './redis-client';

/**
 * Every Redis state transition is one Lua script in ./lua (the bullmq way): one file per transition, its header
 * naming KEYS, ARGV and the answer. A script touches only the keys it is given (none is built inside), so with Redis
 * Cluster each one runs on one slot; it answers a JSON object, whose type per script is below.
 * The files are read once, by the first store made; the build copies them next to the compiled module.
 */

const LUA_DIR = path.join(__dirname, 'lua');

export const SCRIPT_NAMES = [
  'accept-item',
  'answer-duplicate',
  'check-parked',
  'route-parked-batch',
  'park-routed',
  'confirm-placed',
  'end-item',
  'cancel-item',
  'read-for-update',
  'update-item',
  'claim-expired',
  'finish-expired',
  'claim-activations',
  'finish-claim',
  'claim-overdue',
  'claim-notifications',
  'finish-notifications',
  'hold-item',
  'confirm-withdrawn',
  'resume-item',
  'claim-resumes',
  'claim-escalations',
  'set-entrance',
  'acquire-lock',
  'renew-lock',
  'release-lock',
  'append-history',
] as const;

export type ScriptName = (typeof SCRIPT_NAMES)[number];

/** Scripts that only read: no WAIT for replicas after them. */
const READ_ONLY: ReadonlySet<ScriptName> = new Set(['read-for-update']);

/** Item state as stored; `buffered` is a parked item (the receipt's word, kept so stored data stays valid). */
type StoredState = 'routed' | 'buffered' | 'scheduled' | 'held';
/** Where an arrival (or a resume) puts an item, as stored. */
type StoredPlacement = 'routed' | 'buffered' | 'scheduled';

/** The stored word as the code says it: `buffered` is stored, `parked` is meant. */
export function itemState(stored: 'routed' | 'buffered'): 'routed' | 'parked';
export function itemState(stored: StoredPlacement): PlacedState;
export function itemState(stored: string): ItemState;
export function itemState(stored: string): ItemState {
  return stored === 'buffered' ? 'parked' : (stored as ItemState);
}

/** cjson writes an empty Lua table as `{}`: a list that came back empty. */
type LuaList<T> = T[] | Record<string, never>;

export function luaList<T>(v: LuaList<T>): T[] {
  return Array.isArray(v) ? v : [];
}

/** route_one's answer (includes/route-one.lua). */
export type RouteOneReply =
  | { outcome: 'gone'; contactId: string; tombstone: boolean }
  | { outcome: 'held'; contactId: string }
  | { outcome: 'not_parked'; contactId: string; rec: string; flushing: boolean; placing?: number; resumed: boolean }
  | { outcome: 'expired'; contactId: string; rec: string; replyTo: string; corrId: string; trace?: string }
  | { outcome: 'closed' | 'open'; contactId: string }
  | { outcome: 'routed'; contactId: string; rec: string; trace?: string; resumed: boolean };

type Moved = { outcome: 'moved' };
type MovedTo = { outcome: 'moved'; entrance: string };

/** The answer of each script, as its header describes it. */
export interface ScriptReplies {
  'accept-item':
    | { outcome: 'accepted' | 'parked' | 'scheduled'; contactId: string }
    | { outcome: 'known'; contactId: string }
    | { outcome: 'finished'; contactId: string; state: string }
    | { outcome: 'park_limit' };
  'answer-duplicate': { outcome: 'duplicate'; contactId: string; state: StoredState; rec: string } | Moved;
  'check-parked': RouteOneReply | MovedTo;
  'route-parked-batch': { results: LuaList<RouteOneReply>; stale: boolean };
  'confirm-placed': { confirmed: number };
  'park-routed': { outcome: 'parked'; rec: string } | { outcome: 'not_routed' | 'unknown' } | MovedTo;
  'end-item':
    | { outcome: 'ended'; entrance: string; taskType: string; handledMs: number; hadAttachment: boolean; due: EndedDue }
    | { outcome: 'unknown' }
    | MovedTo;
  'cancel-item': { outcome: 'cancelled'; rec: string } | { outcome: 'not_found' } | Moved;
  'hold-item':
    | { outcome: 'held' | 'rehold'; from: StoredPlacement; rec: string; withdraw: boolean }
    | { outcome: 'already'; state: StoredState; from?: StoredPlacement; rec: string; withdraw: boolean }
    | { outcome: 'not_found' }
    | Moved;
  'confirm-withdrawn': { confirmed: boolean };
  'resume-item':
    | { outcome: 'resumed'; state: StoredPlacement; rec: string; activateMs?: number }
    | { outcome: 'already'; state: StoredState; rec: string; placing?: number }
    | { outcome: 'not_held'; state: StoredState; rec: string }
    | { outcome: 'not_found' }
    | Moved;
  'claim-resumes': {
    claims: LuaList<{ contactId: string; state: StoredPlacement; rec: string; dueMs: string; retaken: boolean; activateMs?: number }>;
    nextDueMs?: string;
  };
  'claim-escalations': {
    claims: LuaList<{
      contactId: string;
      state: StoredState;
      rec: string;
      from: number;
      to: number;
      rules: LuaList<string>;
      dueMs: string;
      retaken: boolean;
    }>;
    nextDueMs?: string;
  };
  'read-for-update':
    | {
        outcome: 'found';
        state: StoredState;
        rec: string;
        ver: string;
        rev: string;
        uids: string;
        uchg: string;
        urev: string;
        expiresAt: string;
        bodySha: string;
      }
    | { outcome: 'not_found' }
    | Moved;
  'update-item':
    | { outcome: 'updated'; state: StoredState }
    | { outcome: 'already'; state: StoredState; last: boolean }
    | { outcome: 'stale'; lastRevision: string }
    | { outcome: 'conflict' | 'not_found' };
  'claim-expired': {
    claims: LuaList<{
      contactId: string;
      rec: string;
      replyTo: string;
      corrId: string;
      state: StoredState;
      expiresAt: string;
      dueMs: string;
      retaken: boolean;
    }>;
    nextDueMs?: string;
  };
  'finish-expired': Record<string, never>;
  'claim-activations': {
    claims: LuaList<{ contactId: string; state: 'routed' | 'buffered'; rec: string; dueMs: string; retaken: boolean; resumed: boolean }>;
    nextDueMs?: string;
  };
  'finish-claim': Record<string, never>;
  'claim-overdue': {
    claims: LuaList<{ contactId: string; rec: string; dueMs: string; overdueAt: string; retaken: boolean }>;
    nextDueMs?: string;
  };
  'claim-notifications': { notes: LuaList<string>; nextDueMs?: string };
  'finish-notifications': { removed: number };
  'set-entrance': { changed: boolean };
  'acquire-lock': { outcome: 'acquired'; fence: number } | { outcome: 'held' };
  'renew-lock': { renewed: boolean };
  'release-lock': { released: boolean };
  'append-history': { lengths: LuaList<number> };
}

const INCLUDE = /^--- @include "([a-z0-9-]+)"$/gm;

/** A script's text with its `--- @include "name"` lines replaced by includes/<name>.lua, each included once. */
export function loadScript(name: string, dir = LUA_DIR): string {
  const included = new Set<string>();
  const expand = (file: string): string =>
    readFileSync(file, 'utf8').replace(INCLUDE, (_line, inc: string) => {
      if (included.has(inc)) return '';
      included.add(inc);
      return expand(path.join(dir, 'includes', `${inc}.lua`)).trimEnd();
    });
  return expand(path.join(dir, `${name}.lua`));
}

let loaded: Record<ScriptName, string> | undefined;

function scriptTexts(): Record<ScriptName, string> {
  loaded ??= Object.fromEntries(SCRIPT_NAMES.map((n) => [n, loadScript(n)])) as Record<ScriptName, string>;
  return loaded;
}

/**
 * Redis replicates asynchronously: a failover can lose the last writes. WAIT after each state write
 * narrows that window to what the replicas have not confirmed within the timeout.
 */
export interface ReplicaWait {
  replicas: number;
  timeoutMs: number;
  onShortfall: (acked: number) => void;
}

type Call = (...args: (string | number)[]) => Promise<unknown>;

/** Runs the scripts on one connection: EVALSHA (ioredis falls back to EVAL once per connection), answers decoded. */
export class ScriptRunner {
  constructor(
    private readonly redis: RedisConnection,
    private readonly wait: ReplicaWait = { replicas: 0, timeoutMs: 0, onShortfall: () => undefined },
  ) {
    for (const [name, lua] of Object.entries(scriptTexts())) {
      // No numberOfKeys: each call says how many keys it passes (a batch passes a few per item).
      if (!(commandOf(name) in redis)) redis.defineCommand(commandOf(name), { lua });
    }
  }

  async run<N extends ScriptName>(name: N, keys: string[], args: (string | number)[]): Promise<ScriptReplies[N]> {
    // A plain call, not a pipeline: with Cluster, ioredis follows MOVED/ASK and waits out a failover for it.
    const reply = await (this.redis as unknown as Record<string, Call>)[commandOf(name)](keys.length, ...keys, ...args);
    if (!READ_ONLY.has(name) && this.wait.replicas > 0) await this.waitForReplicas(keys[0]);
    return JSON.parse(reply as string) as ScriptReplies[N];
  }

  /**
   * WAIT covers the writes made on the connection it is sent on: with Cluster, the connection to the master that
   * serves the key's slot (a failover in between leaves the new master with nothing to wait for, or no replica:
   * a shortfall, reported).
   */
  private async waitForReplicas(key: string): Promise<void> {
    const node = this.redis.isCluster ? await this.masterOf(this.redis as Cluster, key) : (this.redis as Redis);
    const acked = node ? Number(await node.call('WAIT', this.wait.replicas, this.wait.timeoutMs)) : 0;
    if (acked < this.wait.replicas) this.wait.onShortfall(acked);
  }

  private readonly slots = new Map<string, number>();

  private async masterOf(cluster: Cluster, key: string): Promise<Redis | undefined> {
    // Every key of a deployment carries its hash tag (keys.ts): one slot per tag, asked once.
    const tag = /\{([^}]+)\}/.exec(key)?.[1];
    let slot = tag === undefined ? undefined : this.slots.get(tag);
    if (slot === undefined) {
      slot = Number(await cluster.call('CLUSTER', 'KEYSLOT', key));
      if (tag !== undefined) this.slots.set(tag, slot);
    }
    const master = cluster.slots[slot]?.[0];
    return cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === master);
  }
}

function commandOf(name: string): string {
  return `wi_${name.replace(/-/g, '_')}`;
}
