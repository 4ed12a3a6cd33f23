import path from 'node:path';
import { amqpUrl, createVhost, deleteVhost } from '../helpers/broker';
import { runCli, type CliResult } from '../helpers/cli';
import { DEFAULT_TOPOLOGY, TestClient } from '../helpers/amqp-client';
import { DEFAULT_REDIS_URL, deleteByPrefix, randomPrefix } from '../helpers/redis';
import { ServiceHandle, startService } from '../helpers/service';
import { waitUntil } from '../helpers/wait';
import { examplesDir } from '../helpers/work-items';

/** The `workitem` CLI as operators run it: the built dist/cli/main.js in a child process, against a live service. */

jest.setTimeout(120_000);

const LOAN_REVIEW = path.join(examplesDir(), 'loan-review.xml');
const BAD_DOCTYPE = path.join(examplesDir(), 'bad-doctype.xml');

let vhost: string;
let prefix: string;
let service: ServiceHandle;
let client: TestClient;
let cliEnv: NodeJS.ProcessEnv;

/** Runs the CLI with stdin not a terminal (as in CI); never hangs the test run. */
function cli(args: string[], env: NodeJS.ProcessEnv = cliEnv, timeoutMs = 30_000): Promise<CliResult> {
  return runCli(args, env, timeoutMs);
}

/** Runs the CLI and expects exit 0; the failure message shows what it printed. */
async function ok(args: string[]): Promise<CliResult> {
  const r = await cli(args);
  if (r.code !== 0) throw new Error(`workitem ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

async function json<T>(args: string[]): Promise<T> {
  return JSON.parse((await ok([...args, '--json'])).stdout) as T;
}

interface EntranceView {
  name: string;
  state: string;
  by: string | null;
  since: string | null;
  parked: number;
}
interface ItemView {
  contactId: string;
  state: string;
  entrance: string;
  taskType: string;
  externalId: string;
  source: string;
  receivedAt: string;
}
interface ErrorView {
  code: string;
  path: string | null;
  message: string | null;
  firstFailedAt: string | null;
  failedAt: string | null;
  originalRoutingKey: string | null;
  messageId: string | null;
  bodyPreview: string;
}

const entrance = async (name: string) =>
  (await json<{ entrances: EntranceView[] }>(['entrance', 'list'])).entrances.find((e) => e.name === name);
const items = async () => (await json<{ items: ItemView[]; nextCursor: number | null }>(['items'])).items;
const errorCount = async () => (await client.checkQueue(DEFAULT_TOPOLOGY.errorQueue))?.messageCount ?? -1;

beforeAll(async () => {
  vhost = await createVhost();
  prefix = randomPrefix();
  service = await startService({ vhost, prefix });
  client = await TestClient.connect(amqpUrl(vhost));
  // The contact center's stand-in: without a queue on contact.events the service parks items as unplaceable.
  await client.bindEvents();
  cliEnv = {
    ...process.env,
    AMQP_URL: amqpUrl(vhost),
    REDIS_URL: DEFAULT_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    WORKITEM_CONFIG: service.configFile,
  };
});

afterAll(async () => {
  await client?.close().catch(() => undefined);
  await service?.stop();
  if (vhost) await deleteVhost(vhost);
  if (prefix) await deleteByPrefix(DEFAULT_REDIS_URL, prefix);
});

describe('workitem CLI', () => {
  it.each([
    [[]],
    [['start']],
    [['send']],
    [['entrance']],
    [['entrance', 'open']],
    [['entrance', 'close']],
    [['entrance', 'list']],
    [['end']],
    [['items']],
    [['report']],
    [['errors']],
    [['errors', 'list']],
    [['errors', 'replay']],
    [['watch']],
    [['wait-ready']],
  ])('%j --help describes the command with examples and exits 0', async (command) => {
    const r = await cli([...command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: workitem/);
    expect(r.stdout).toContain('Examples:');
  });

  it('wait-ready exits 0 once /readyz answers 200 (HTTP_PORT as the service reads it), 1 with the last answer when not in time', async () => {
    const port = new URL(service.baseUrl).port;
    const ready = await cli(['wait-ready', '--timeout', '10s'], { ...cliEnv, HTTP_PORT: port });
    expect(ready.code).toBe(0);
    expect(ready.stdout).toContain(`ready (http://127.0.0.1:${port}/readyz)`);
    const notReady = await cli(['wait-ready', '--timeout', '1s', '--url', 'http://127.0.0.1:1/readyz']);
    expect(notReady.code).toBe(1);
    expect(notReady.stderr).toMatch(/not ready within 1\.0s \(http:\/\/127\.0\.0\.1:1\/readyz\): ECONNREFUSED/);
  });

  it('watch prints the events the service publishes, one JSON line each, and stops after --count', async () => {
    const watching = cli(['watch', '--pattern', 'contact.created.loans', '--count', '1', '--timeout', '20s', '--json']);
    // The watch queue is bound once the CLI has connected; until then an event would not reach it.
    await new Promise((r) => setTimeout(r, 1500));
    const ext = `WATCH-${Date.now()}`;
    const xml = `<workItem version="1"><externalId>${ext}</externalId><source>bank-support</source><entrance>loans</entrance><subject>watch me</subject><contactData><item key="WorkItemTask">loan-review</item></contactData></workItem>`;
    await client.publishWorkItem(xml, { source: 'bank-support' });
    const r = await watching;
    expect(r.code).toBe(0);
    const line = JSON.parse(r.stdout.trim()) as { routingKey: string; event: { contactId: string; externalId: string; channel: string } };
    expect(line.routingKey).toBe('contact.created.loans');
    expect(line.event).toMatchObject({ externalId: ext, channel: 'email' });
    // Leave no unfinished item behind for the tests below.
    await client.publishControl('contact.ended', { contactId: line.event.contactId });
    await waitUntil(async () => !(await items()).some((i) => i.externalId === ext), { timeoutMs: 10_000, describe: 'watch item ended' });
  });

  it('watch exits 1 when fewer events than --count arrive in time', async () => {
    const r = await cli(['watch', '--pattern', 'nothing.will.match', '--count', '1', '--timeout', '1s']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('0 of 1 events');
  });

  it('exits 2 on usage errors', async () => {
    expect((await cli(['no-such-command'])).code).toBe(2);
    expect((await cli(['items', '--state', 'gone'])).code).toBe(2);
    expect((await cli(['report', '--since', 'yesterday'])).code).toBe(2);
    expect((await cli(['end', 'not-a-contact-id'])).code).toBe(2);
    const unknown = await cli(['entrance', 'close', 'no-such-entrance']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown entrance "no-such-entrance".*loans/);
    expect(unknown.stderr).toContain('WORKITEM_CONFIG');
  });

  it('end of a contactId that is not unfinished publishes nothing and exits 1', async () => {
    const r = await cli(['end', 'wi-00000000-0000-4000-8000-000000000000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not an unfinished item.*nothing published/);
  });

  it('reports an unreachable broker clearly and exits 1', async () => {
    const r = await cli(['entrance', 'open', 'loans'], { ...cliEnv, AMQP_URL: 'amqp://guest:guest@127.0.0.1:1/' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/RabbitMQ not reachable.*connection refused/);
    expect(r.stderr).not.toContain('guest:guest');
  });

  let contactId: string;

  it('send --wait prints the accepted receipt with a contactId', async () => {
    const text = await ok(['send', LOAN_REVIEW, '--wait', '--timeout', '20s']);
    expect(text.stdout).toMatch(/status:\s+accepted/);
    contactId = /contactId:\s+(wi-[0-9a-f-]{36})/.exec(text.stdout)![1];

    // The same item again is a duplicate with the same contactId; --json gives the receipt as data.
    const again = await json<{ receipt: { status: string; contactId: string; entrance: string } }>(['send', LOAN_REVIEW, '--wait']);
    expect(again.receipt).toMatchObject({ status: 'duplicate', contactId, entrance: 'loans' });
  });

  it('entrance close/open changes the state the service keeps in Redis', async () => {
    const closed = await ok(['entrance', 'close', 'loans', '--by', 'cli-test']);
    expect(closed.stdout).toContain('entrance.closed');
    await waitUntil(async () => (await entrance('loans'))?.state === 'closed', { timeoutMs: 5_000, describe: 'loans closed' });
    expect(await entrance('loans')).toMatchObject({ state: 'closed', by: 'cli-test', parked: 0 });
    expect((await entrance('support'))?.state).toBe('open');
    expect((await ok(['entrance', 'list'])).stdout).toMatch(/^loans\s+Loans\s+closed\s+\S+\s+cli-test\s+0$/m);

    await ok(['entrance', 'open', 'loans']);
    await waitUntil(async () => (await entrance('loans'))?.state === 'open', { timeoutMs: 5_000, describe: 'loans open' });
  });

  it('items lists the unfinished item, with filters', async () => {
    const listed = await items();
    expect(listed).toEqual([
      expect.objectContaining({
        contactId,
        state: 'routed',
        entrance: 'loans',
        taskType: 'loan-review',
        externalId: 'CASE-2026-000123',
        source: 'bank-support',
      }),
    ]);
    expect((await json<{ items: ItemView[] }>(['items', '--entrance', 'support'])).items).toEqual([]);
    expect((await json<{ items: ItemView[] }>(['items', '--state', 'buffered'])).items).toEqual([]);
    expect((await json<{ items: ItemView[] }>(['items', '--state', 'parked'])).items).toEqual([]);
    const table = await ok(['items', '--task-type', 'loan-review']);
    expect(table.stdout).toContain(contactId);
    expect(table.stdout).toMatch(/next cursor: none/);
  });

  it('end removes the item; report counts it as accepted and completed, channel email', async () => {
    expect((await ok(['end', contactId])).stdout).toContain('contact.ended');
    await waitUntil(async () => !(await items()).some((i) => i.contactId === contactId), {
      timeoutMs: 5_000,
      describe: 'the ended item to leave `items`',
    });

    const report = await json<{ rows: Record<string, unknown>[]; total: Record<string, number> }>(['report', '--since', '1h']);
    const row = report.rows.find((r) => r.taskType === 'loan-review');
    expect(row).toMatchObject({ channel: 'email' });
    expect(row!.accepted).toBeGreaterThanOrEqual(1);
    expect(row!.completed).toBeGreaterThanOrEqual(1);
    expect(row!.duplicate).toBeGreaterThanOrEqual(1);
    const n = (k: string) => row![k] as number;
    expect(n('received')).toBe(
      ['accepted', 'buffered', 'scheduled', 'duplicate', 'rejected', 'updated', 'withdrawn'].reduce((sum, k) => sum + n(k), 0),
    );
    expect(typeof row!.avgHandlingMs).toBe('number');

    const text = await ok(['report', '--by', 'entrance']);
    expect(text.stdout).toMatch(/^loans\s+email\s+\d+/m);
    expect(text.stdout).toMatch(/^TOTAL\s+email/m);
  });

  let rejected: ErrorView;

  it('send --wait of a rejected item exits 1; errors list shows its copy and leaves it in the queue', async () => {
    const r = await cli(['send', BAD_DOCTYPE, '--wait']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/status:\s+rejected/);
    expect(r.stdout).toMatch(/error:\s+FORBIDDEN_XML/);

    await waitUntil(async () => (await errorCount()) === 1, { timeoutMs: 5_000, describe: 'the error copy' });
    const listed = await json<{ messageCount: number; messages: ErrorView[] }>(['errors', 'list']);
    expect(listed.messageCount).toBe(1);
    rejected = listed.messages[0];
    expect(rejected).toMatchObject({ code: 'FORBIDDEN_XML', originalRoutingKey: 'workitem.evil' });
    expect(rejected.firstFailedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(rejected.bodyPreview.startsWith('<?xml version="1.0"?> <!DOCTYPE workItem')).toBe(true);
    expect(Array.from(rejected.bodyPreview).length).toBeLessThanOrEqual(81);

    const text = await ok(['errors', 'list', '--code', 'FORBIDDEN_XML']);
    expect(text.stdout).toContain('FORBIDDEN_XML');
    expect(text.stdout).toContain('workitem.evil');
    expect((await json<{ messages: ErrorView[] }>(['errors', 'list', '--code', 'NOT_FOUND'])).messages).toEqual([]);

    // Browsing removed nothing.
    await waitUntil(async () => (await errorCount()) === 1, { timeoutMs: 5_000, describe: 'the copy back in the queue' });
  });

  it('errors replay without a terminal and without --yes exits 2 and moves nothing', async () => {
    const r = await cli(['errors', 'replay']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--yes');
    expect(await errorCount()).toBe(1);
  });

  it('errors replay keeps messages with another code', async () => {
    const r = await ok(['errors', 'replay', '--code', 'NOT_FOUND', '--yes']);
    expect(r.stdout).toMatch(/moved 0, kept 1/);
    await waitUntil(async () => (await errorCount()) === 1, { timeoutMs: 5_000, describe: 'the kept message' });
  });

  it('errors replay --code moves the message back to the inbound exchange', async () => {
    const r = await ok(['errors', 'replay', '--code', 'FORBIDDEN_XML', '--yes']);
    expect(r.stdout).toMatch(/moved 1, kept 0, examined 1 of 1/);

    // The service rejects it again: a new copy, failed later, with the first failure time kept.
    const again = await waitUntil(
      async () => {
        const m = (await json<{ messages: ErrorView[] }>(['errors', 'list'])).messages;
        return m.length === 1 && m[0].failedAt !== rejected.failedAt ? m[0] : undefined;
      },
      { timeoutMs: 10_000, describe: 'the replayed message to be rejected again' },
    );
    expect(again).toMatchObject({
      code: 'FORBIDDEN_XML',
      originalRoutingKey: 'workitem.evil',
      firstFailedAt: rejected.firstFailedAt,
      messageId: rejected.messageId,
    });
    expect(await errorCount()).toBe(1);
  });
});
