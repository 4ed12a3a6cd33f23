import { readdirSync } from 'node:fs';
import path from 'node:path';
import { redisKeys } from '../../../src/adapters/redis/keys';
import { loadScript, SCRIPT_NAMES } from '../../../src/adapters/redis/scripts';

describe('Redis key names', () => {
  const names = (k: ReturnType<typeof redisKeys>) =>
    Object.values(k).map((v) => (typeof v === 'function' ? (v as (s: string) => string)('x') : v));

  it('are unchanged with one Redis or Sentinel', () => {
    const k = redisKeys('workitem:');
    expect(k.item('wi-1')).toBe('workitem:item:wi-1');
    expect(k.parked('loans')).toBe('workitem:parked:loans');
    expect(names(k).every((n) => n.startsWith('workitem:'))).toBe(true);
  });

  it('all carry the prefix as one hash tag in a Redis Cluster', () => {
    const k = redisKeys('workitem:', true);
    expect(k.item('wi-1')).toBe('{workitem:}item:wi-1');
    // Redis hashes what is between the first { and the next }: the same for every key of the deployment.
    expect(names(k).map((n) => /^\{([^}]+)\}/.exec(n)?.[1])).toEqual(names(k).map(() => 'workitem:'));
  });
});

describe('Lua scripts', () => {
  const dir = path.join(__dirname, '../../../src/adapters/redis/lua');

  it('one file per script name, each with a header naming its keys, arguments and answer', () => {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.lua'))
      .map((f) => f.replace(/\.lua$/, ''));
    expect(files.sort()).toEqual([...SCRIPT_NAMES].sort());
    for (const name of SCRIPT_NAMES) {
      const text = loadScript(name);
      expect(text).toMatch(/^--\[\[[\s\S]*Input:[\s\S]*KEYS\[1\][\s\S]*Output \(JSON\):[\s\S]*\]\]/);
      expect(text).not.toMatch(/@include/);
      // No key is built inside: nothing is concatenated onto a KEYS or ARGV value to make a key name.
      expect(text).not.toMatch(/redis\.call\('[A-Z]+', [^,)]*\.\./);
    }
  });

  it('inlines each include once, nested ones too', () => {
    const text = loadScript('check-parked');
    expect(text.match(/local function item_fields/g)).toHaveLength(1);
    expect(text.match(/local function route_one/g)).toHaveLength(1);
    expect(text.indexOf('local function item_fields')).toBeLessThan(text.indexOf('local function route_one'));
  });
});
