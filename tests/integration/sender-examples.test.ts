import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Fixture } from '../helpers/fixture';
import * as amqp from 'amqplib';
import { amqpUrl, createVhost, deleteVhost } from '../helpers/broker';
import { spawnTracked } from '../helpers/child-reaper';
import { REPO_ROOT } from '../helpers/service';
import type { CollectedEvent } from '../helpers/amqp-client';
import { validateWithXsd } from '../helpers/xsd-validator';

/**
 * Issue 16 part 6: senders not written by us. examples/java (RabbitMQ Java client, Debian's librabbitmq-client-java)
 * and examples/python (pika, Debian's python3-pika) each send a work item, an update and a cancel against the real
 * service and print the receipts; scripts/test-setup.sh installs what they need.
 */

/** Debian's jars (librabbitmq-client-java, libslf4j-java). */
const JAVA_CLASSPATH = ['/usr/share/java/amqp-client.jar', '/usr/share/java/slf4j-api.jar', '/usr/share/java/slf4j-simple.jar'];
const SETUP_HINT = 'scripts/test-setup.sh installs it (apt-get install librabbitmq-client-java libslf4j-java python3-pika)';
const JAVA_SOURCE = path.join(REPO_ROOT, 'examples/java/WorkItemSender.java');
const PYTHON_SOURCE = path.join(REPO_ROOT, 'examples/python/send_work_item.py');
const XSD = path.join(REPO_ROOT, 'schemas/workitem-v1.xsd');
const RUN_TIMEOUT_MS = 120_000;

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (killed after timeoutMs), collecting its output. */
function run(command: string, args: string[], env: Record<string, string> = {}, timeoutMs = RUN_TIMEOUT_MS): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(command, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${command} could not be started: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function which(command: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8', timeout: 10_000 }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A python3 that can import pika: $PYTHON, the one on PATH, or Debian's (where python3-pika installs it). */
function pythonWithPika(): string | undefined {
  const candidates = [process.env.PYTHON, which('python3'), '/usr/bin/python3'].filter((c): c is string => !!c);
  for (const python of [...new Set(candidates)]) {
    try {
      execFileSync(python, ['-c', 'import pika'], { stdio: 'ignore', timeout: 20_000 });
      return python;
    } catch {
      // next
    }
  }
  return undefined;
}

interface ReceiptLine {
  status: string;
  contactId: string;
  error: string;
}

/** The senders print one `<step>: status=… contactId=… error=…` line per receipt. */
function receiptLines(stdout: string): Record<string, ReceiptLine> {
  const out: Record<string, ReceiptLine> = {};
  for (const m of stdout.matchAll(/^(create|update|cancel): status=(\S+) contactId=(\S+) error=(\S+)/gm)) {
    out[m[1]] = { status: m[2], contactId: m[3], error: m[4] };
  }
  return out;
}

function describeRun(what: string, r: RunResult): string {
  return `${what} exited ${r.code ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

describe('example senders not written by us (examples/java, examples/python)', () => {
  const fx = new Fixture();
  let classDir: string | undefined;

  beforeAll(async () => {
    await fx.setup(); // its client listens on contact.events (so items are routed) and on workitem.receipts
  });

  afterAll(async () => {
    await fx.teardown();
    if (classDir) rmSync(classDir, { recursive: true, force: true });
  });

  /** What the service published for the item the sender printed; asserts created → updated → withdrawn. */
  async function assertLifecycle(source: string, contactId: string): Promise<void> {
    const mine = (e: CollectedEvent): boolean => e.event.contactId === contactId;
    const [created] = await fx.client.waitForEvents(1, 20_000, (e) => mine(e) && e.routingKey === 'contact.created.loans');
    expect(created.event).toMatchObject({ type: 'contact.created', source, entrance: 'loans', priority: 3, taskType: 'loan-review' });
    const [updated] = await fx.client.waitForEvents(1, 20_000, (e) => mine(e) && e.routingKey === 'contact.updated.loans');
    expect(updated.event).toMatchObject({ type: 'contact.updated', source, priority: 8, revision: 1 });
    expect(updated.event.changed).toEqual(expect.arrayContaining(['priority']));
    const [withdrawn] = await fx.client.waitForEvents(1, 20_000, (e) => mine(e) && e.routingKey === 'contact.withdrawn.loans');
    expect(withdrawn.event).toMatchObject({ type: 'contact.withdrawn', source });
    // The order the sender sent them in.
    const order = fx.client.events.filter(mine).map((e) => e.event.type);
    expect(order).toEqual(['contact.created', 'contact.updated', 'contact.withdrawn']);
    // The durable copies a sender may bind to: one per receipt, under <status>.<source>.
    for (const status of ['accepted', 'updated', 'cancelled']) {
      await fx.client.waitForReceiptCopies(1, 20_000, (r) => r.routingKey === `${status}.${source}` && r.contactId === contactId);
    }
  }

  function assertOutput(r: RunResult, what: string): string {
    const lines = receiptLines(r.stdout);
    expect({ exit: r.code, lines }).toEqual({
      exit: 0,
      lines: {
        create: { status: 'accepted', contactId: expect.stringMatching(/^wi-/), error: '-' },
        update: { status: 'updated', contactId: lines.create?.contactId, error: '-' },
        cancel: { status: 'cancelled', contactId: lines.create?.contactId, error: '-' },
      },
    });
    expect(r.stdout).toMatch(/^OK: accepted, updated, cancelled$/m);
    if (r.code !== 0) throw new Error(describeRun(what, r));
    return lines.create.contactId;
  }

  it('Java (com.rabbitmq amqp-client, compiled with javac): accepted, updated, cancelled', async () => {
    const javac = which('javac');
    const java = which('java');
    if (!javac || !java) throw new Error(`javac/java not found on PATH: install a JDK (Debian: default-jdk-headless); ${SETUP_HINT}`);
    const missing = JAVA_CLASSPATH.filter((jar) => !existsSync(jar));
    if (missing.length) throw new Error(`missing ${missing.join(', ')}: ${SETUP_HINT}`);
    const classpath = JAVA_CLASSPATH.join(path.delimiter);

    classDir = mkdtempSync(path.join(os.tmpdir(), 'workitem-java-sender-'));
    const compiled = await run(javac, ['-d', classDir, '-cp', classpath, JAVA_SOURCE]);
    if (compiled.code !== 0) throw new Error(describeRun('javac', compiled));

    const source = 'example-java';
    const r = await run(java, ['-cp', [classDir, classpath].join(path.delimiter), 'WorkItemSender'], {
      AMQP_URL: amqpUrl(fx.vhost),
      WORKITEM_SOURCE: source,
      RECEIPT_TIMEOUT_SECONDS: '30',
    });
    const contactId = assertOutput(r, 'java WorkItemSender');
    expect(r.stdout).toContain(`source ${source}, externalId JAVA-`);
    await assertLifecycle(source, contactId);
  }, 240_000);

  it('Python (pika): accepted, updated, cancelled', async () => {
    const python = pythonWithPika();
    if (!python) throw new Error(`no python3 that can import pika (tried $PYTHON, python3 on PATH, /usr/bin/python3): ${SETUP_HINT}`);
    const source = 'example-python';
    // The URL as an argument here (the Java run takes AMQP_URL): both ways work.
    const r = await run(python, [PYTHON_SOURCE, amqpUrl(fx.vhost)], { WORKITEM_SOURCE: source, RECEIPT_TIMEOUT_SECONDS: '30' });
    const contactId = assertOutput(r, 'python3 send_work_item.py');
    expect(r.stdout).toContain(`source ${source}, externalId PY-`);
    await assertLifecycle(source, contactId);
  }, 240_000);

  it('each sender says why and exits 2 when the broker refuses it (no such vhost)', async () => {
    const python = pythonWithPika();
    if (!python) throw new Error(`no python3 that can import pika: ${SETUP_HINT}`);
    const badUrl = amqpUrl(`${fx.vhost}-missing`);
    const py = await run(python, [PYTHON_SOURCE, badUrl]);
    expect(py.code).toBe(2);
    expect(py.stdout).toMatch(/FAILED: .*not found/);
    expect(py.stdout).not.toContain('guest:guest'); // the password is redacted
    const java = compiledJava();
    if (java) {
      const r = await run(java.java, ['-cp', java.classpath, 'WorkItemSender', badUrl]);
      expect(r.code).toBe(2);
      expect(r.stdout).toMatch(/FAILED: .*not found/);
    }
  }, 120_000);

  it('without a service: a returned message exits 2 naming the cause, a receipt that never comes exits 1', async () => {
    const python = pythonWithPika();
    if (!python) throw new Error(`no python3 that can import pika: ${SETUP_HINT}`);
    const vhost = await createVhost();
    const conn = await amqp.connect(amqpUrl(vhost));
    try {
      const ch = await conn.createChannel();
      await ch.assertExchange('workitem.inbound', 'topic', { durable: true });
      const senders = [{ name: 'python', command: python, args: [PYTHON_SOURCE] }];
      const java = compiledJava();
      if (java) senders.push({ name: 'java', command: java.java, args: ['-cp', java.classpath, 'WorkItemSender'] });
      const env = { AMQP_URL: amqpUrl(vhost), RECEIPT_TIMEOUT_SECONDS: '2' };

      // The exchange exists but nothing is bound: mandatory brings the message back.
      for (const s of senders) {
        const r = await run(s.command, s.args, env);
        expect({ sender: s.name, code: r.code }).toEqual({ sender: s.name, code: 2 });
        expect(r.stdout).toMatch(/FAILED: .*returned the message/);
      }

      // A queue takes the messages but nobody answers: each step times out and the exit code says so.
      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(queue, 'workitem.inbound', '#');
      for (const s of senders) {
        const r = await run(s.command, s.args, env);
        expect({ sender: s.name, code: r.code }).toEqual({ sender: s.name, code: 1 });
        expect(r.stdout.match(/^(create|update|cancel): no receipt within/gm)).toHaveLength(3);
        expect(r.stdout).toMatch(/^FAILED: a receipt was missing or not as expected$/m);
      }
      // What the senders published: persistent XML with reply_to and correlation_id, to workitem.<source>,
      // create/update/cancel in that order, each valid against schemas/workitem-v1.xsd.
      const published: amqp.GetMessage[] = [];
      for (let m = await ch.get(queue, { noAck: true }); m; m = await ch.get(queue, { noAck: true })) published.push(m);
      expect(published).toHaveLength(3 * senders.length);
      for (const msg of published) {
        expect(msg.fields.routingKey).toBe('workitem.bank-support');
        expect(msg.properties).toMatchObject({ contentType: 'application/xml', deliveryMode: 2 });
        expect(msg.properties.replyTo).toEqual(expect.any(String));
        expect(msg.properties.correlationId).toEqual(expect.any(String));
      }
      const roots = published.map((m) => /<(workItem|updateWorkItem|cancelWorkItem)\b/.exec(m.content.toString('utf8'))?.[1]);
      expect(roots).toEqual(senders.flatMap(() => ['workItem', 'updateWorkItem', 'cancelWorkItem']));
      const results = validateWithXsd(
        XSD,
        published.map((m, i) => ({ name: `${i}`, body: m.content })),
      );
      const invalid = [...results.values()]
        .filter((r) => !r.valid)
        .map((r) => `${published[Number(r.name)].content.toString('utf8')}: ${r.errors.join('; ')}`);
      expect(invalid).toEqual([]);
    } finally {
      await conn.close().catch(() => undefined);
      await deleteVhost(vhost);
    }
  }, 180_000);

  /** The Java sender compiled by the Java test (the tests after it reuse the classes), or undefined. */
  function compiledJava(): { java: string; classpath: string } | undefined {
    const java = which('java');
    if (!java || !classDir || !existsSync(path.join(classDir, 'WorkItemSender.class'))) return undefined;
    return { java, classpath: [classDir, ...JAVA_CLASSPATH].join(path.delimiter) };
  }
});
