import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { amqpUrl, createVhost, deleteVhost } from '../helpers/broker';
import { DEFAULT_REDIS_URL, deleteByPrefix, randomPrefix } from '../helpers/redis';
import { REPO_ROOT, SERVICE_ENTRY, startService, type ServiceHandle } from '../helpers/service';
import { waitUntil } from '../helpers/wait';

/**
 * Issue 23 part B: every wrong setting ends the start with ONE JSON log line naming the variable, and exit 2
 * (configuration) or 3 (permanent connection failure). Client libraries' console output is JSON too.
 */

jest.setTimeout(120_000);

const SECRET = 'pw-that-must-not-show';

/** Runs dist/main.js with only the given env (and PATH); stdout and stderr together, in lines. */
function runMain(env: Record<string, string>): Promise<{ code: number | null; lines: string[] }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SERVICE_ENTRY], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', ...env } });
    let out = '';
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, lines: out.split('\n').filter((l) => l.trim() !== '') });
    });
  });
}

/** Every line is a JSON object; returns them parsed. */
function parseLines(lines: string[]): Record<string, unknown>[] {
  return lines.map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      throw new Error(`not a JSON log line: ${l}`);
    }
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'workitem-startup-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('configuration errors: exit 2, exactly one JSON line naming the variable', () => {
  it.each<[string, () => Record<string, string>, string, RegExp]>([
    [
      'REDIS_URL with a db that is not a number',
      () => ({ REDIS_URL: `redis://:${SECRET}@127.0.0.1:6379/abc` }),
      'REDIS_URL',
      /^cannot start: invalid environment: REDIS_URL: the path must be a db number/,
    ],
    ['REDIS_URL that is no URL', () => ({ REDIS_URL: `redis://:${SECRET}@127.0.0.1:port` }), 'REDIS_URL', /REDIS_URL: is not a valid URL/],
    ['HTTP_PORT not a number', () => ({ HTTP_PORT: 'eighty' }), 'HTTP_PORT', /HTTP_PORT/],
    [
      'a config file with a JSON error',
      () => ({ WORKITEM_CONFIG: configFile('comma.json', '{\n  "taskKey": "WorkItemTask"\n  "entrances": { "loans": {} }\n}\n') }),
      'WORKITEM_CONFIG',
      /^cannot start: WORKITEM_CONFIG: \/.*comma\.json:3:3: not valid JSON: Expected ',' or '}' after property value$/,
    ],
    [
      'a config file with a bad token (no position in the JSON.parse message)',
      () => ({ WORKITEM_CONFIG: configFile('token.json', '{\n  "entrances": {\n    "loans": { "x": tru}\n  }\n}\n') }),
      'WORKITEM_CONFIG',
      /^cannot start: WORKITEM_CONFIG: \/.*token\.json:3:24: not valid JSON: Unexpected token '}'$/,
    ],
    [
      'a config file that ends too early',
      () => ({ WORKITEM_CONFIG: configFile('short.json', '{\n  "entrances": {\n') }),
      'WORKITEM_CONFIG',
      /short\.json:3:1: not valid JSON: Expected property name or '}'$/,
    ],
    [
      'a task type whose escalation rule falls after its expiry',
      () => ({
        WORKITEM_CONFIG: configFile(
          'task-types.json',
          JSON.stringify({
            entrances: { loans: {} },
            taskTypes: { 'loan-review': { dueIn: 'P2D', expiresIn: 'P2D', escalation: [{ after: 'PT1H', priority: 9 }] } },
          }),
        ),
      }),
      'WORKITEM_CONFIG',
      /invalid config in \/.*task-types\.json: taskTypes\.loan-review\.escalation\.0: "after PT1H" .*after the expiry/,
    ],
    [
      'a config file that does not exist',
      () => ({ WORKITEM_CONFIG: '/no/such/config.json' }),
      'WORKITEM_CONFIG',
      /cannot read \/no\/such\/config.json: ENOENT/,
    ],
  ])('%s', async (_what, env, variable, message) => {
    const t0 = Date.now();
    const r = await runMain(env());
    const lines = parseLines(r.lines);
    console.log(`${_what}: exit ${r.code}, ${Date.now() - t0} ms\n${r.lines.join('\n')}`);
    expect(r.code).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'error', code: variable, exitCode: 2 });
    expect(lines[0].message).toMatch(message);
    expect(lines[0].stack).toBeUndefined();
    expect(r.lines.join('\n')).not.toContain(SECRET);
  });
});

describe('start-up errors of the real service', () => {
  let vhost: string;
  const prefix = randomPrefix();
  const started: ServiceHandle[] = [];
  const start = async (env: Record<string, string>, extra: { httpPort?: number; waitForReady?: boolean } = {}) => {
    const svc = await startService({ vhost, prefix, env, waitForReady: false, ...extra });
    started.push(svc);
    return svc;
  };
  const exitWithin = async (svc: ServiceHandle, ms: number): Promise<number | null | 'running'> => {
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([svc.exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)))]);
    clearTimeout(timer);
    return exit === null ? 'running' : exit.code;
  };
  /** The process wrote only JSON lines, exactly one of them at level error: returned. */
  const theErrorLine = (svc: ServiceHandle): Record<string, unknown> => {
    const all = parseLines(svc.logs);
    const errors = all.filter((l) => l.level === 'error');
    console.log(`exit line: ${JSON.stringify(errors)}`);
    expect(errors).toHaveLength(1);
    return errors[0];
  };

  beforeAll(async () => {
    vhost = await createVhost();
  });
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop('SIGTERM', 10_000)));
    await deleteVhost(vhost);
    await deleteByPrefix(DEFAULT_REDIS_URL, prefix);
  });

  it('HTTP_PORT in use (EADDRINUSE): exit 2, one JSON line naming HTTP_PORT, no stack', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '0.0.0.0', r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const svc = await start({}, { httpPort: port });
      expect(await exitWithin(svc, 15_000)).toBe(2);
      const line = theErrorLine(svc);
      expect(line).toMatchObject({ code: 'HTTP_PORT', exitCode: 2 });
      expect(line.message).toBe(`cannot start: HTTP_PORT: 0.0.0.0:${port} is already in use (EADDRINUSE): another process listens there`);
      expect(line.stack).toBeUndefined();
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it('HTTP_HOST not an address of this machine (EADDRNOTAVAIL): exit 2, one JSON line naming HTTP_HOST', async () => {
    // 192.0.2.1: TEST-NET-1 (RFC 5737), never assigned to a host.
    const svc = await start({ HTTP_HOST: '192.0.2.1' });
    expect(await exitWithin(svc, 15_000)).toBe(2);
    const line = theErrorLine(svc);
    expect(line).toMatchObject({ code: 'HTTP_HOST', exitCode: 2 });
    expect(line.message).toBe('cannot start: HTTP_HOST: 192.0.2.1 is not an address of this machine (EADDRNOTAVAIL)');
  });

  it('a password for a Redis without one: ioredis’ warning is a JSON line (source console.warn), the service gets ready', async () => {
    const url = new URL(DEFAULT_REDIS_URL);
    url.password = SECRET;
    const svc = await start({ REDIS_URL: url.toString() });
    await waitUntil(() => svc.logs.some((l) => l.includes('service ready')), {
      timeoutMs: 30_000,
      describe: () => `service ready; log:\n${svc.logs.join('\n')}`,
    });
    const lines = parseLines(svc.logs); // throws on any line that is not JSON
    const warning = lines.find((l) => l.source === 'console.warn');
    console.log(`library warning: ${JSON.stringify(warning)}`);
    expect(warning).toMatchObject({ level: 'warn', service: 'workitem-server' });
    expect(warning?.message).toMatch(/does not require a password, but a password was supplied/);
    expect(svc.logs.filter((l) => l.includes(SECRET))).toEqual([]);
  });

  it('REQUIRE_DURABLE_REDIS=true with a Redis without persistence: exit 3, one JSON line naming it', async () => {
    const svc = await start({ REQUIRE_DURABLE_REDIS: 'true', AMQP_URL: amqpUrl(vhost) });
    expect(await exitWithin(svc, 15_000)).toBe(3);
    const line = theErrorLine(svc);
    expect(line).toMatchObject({ code: 'REQUIRE_DURABLE_REDIS', exitCode: 3 });
    expect(line.message).toMatch(/^cannot start: REQUIRE_DURABLE_REDIS=true: Redis has no persistence/);
    expect(line.stack).toBeUndefined();
  });
});
