import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Fixture } from '../helpers/fixture';
import * as amqp from 'amqplib';
import { amqpUrl, createSenderUser, createVhost, deleteUser, deleteVhost, type SenderUser } from '../helpers/broker';
import { spawnTracked } from '../helpers/child-reaper';
import { REPO_ROOT } from '../helpers/service';
import type { CollectedEvent } from '../helpers/amqp-client';
import { validateWithXsd } from '../helpers/xsd-validator';

/**
 * Issue 16 part 6: senders not written by us. examples/java (RabbitMQ Java client, Debian's librabbitmq-client-java)
 * and examples/python (pika, Debian's python3-pika) each send a work item, an update and a cancel against the real
 * service and print the receipts; scripts/test-setup.sh installs what they need.
 * Issue 24 part 6 (contract 1.2): the followers in the same folders subscribe to their notifications, hold, resume
 * and query their item, and print the ended notification with the disposition the contact center gave; they run as
 * the sender user of rabbitmq/definitions.json, so the shipped permissions are shown to be enough.
 */

/** Debian's jars (librabbitmq-client-java, libslf4j-java). */
const JAVA_CLASSPATH = ['/usr/share/java/amqp-client.jar', '/usr/share/java/slf4j-api.jar', '/usr/share/java/slf4j-simple.jar'];
const SETUP_HINT = 'scripts/test-setup.sh installs it (apt-get install librabbitmq-client-java libslf4j-java python3-pika)';
const JAVA_SOURCE = path.join(REPO_ROOT, 'examples/java/WorkItemSender.java');
const PYTHON_SOURCE = path.join(REPO_ROOT, 'examples/python/send_work_item.py');
const JAVA_FOLLOWER = path.join(REPO_ROOT, 'examples/java/WorkItemFollower.java');
const PYTHON_FOLLOWER = path.join(REPO_ROOT, 'examples/python/follow_work_item.py');
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

/** A program still running: its output so far, a wait for a line, its exit. */
class Running {
  stdout = '';
  stderr = '';
  readonly exited: Promise<RunResult>;
  private readonly child: ChildProcess;
  private waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];

  constructor(command: string, args: string[], env: Record<string, string>, timeoutMs = RUN_TIMEOUT_MS) {
    this.child = spawnTracked(command, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (d: Buffer) => {
      this.stdout += d.toString('utf8');
      this.waiters = this.waiters.filter((w) => {
        const m = this.stdout.match(w.pattern);
        if (m) w.resolve(m);
        return !m;
      });
    });
    this.child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString('utf8')));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    this.exited = new Promise((resolve, reject) => {
      this.child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`${command} could not be started: ${err.message}`));
      });
      this.child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  /** The first match of `pattern` in the output; undefined if the program exits without printing it. */
  line(pattern: RegExp): Promise<RegExpMatchArray | undefined> {
    const m = this.stdout.match(pattern);
    if (m) return Promise.resolve(m);
    return Promise.race([
      new Promise<RegExpMatchArray>((resolve) => this.waiters.push({ pattern, resolve })),
      this.exited.then(() => undefined),
    ]);
  }
}

const NOTIFICATION_EVENTS = ['routed', 'buffered', 'held', 'resumed', 'ended', 'cancelled', 'expired', 'overdue'];
const DISPOSITION = { code: 'resolved', text: 'Loan approved, customer informed' };

interface FollowerRun {
  user: SenderUser;
  result: RunResult;
  externalId: string;
  contactId: string | undefined;
  /** The duplicate the test published as the service would after a crash (same message_id twice). */
  duplicateId: string;
}

describe('example followers (examples/java/WorkItemFollower.java, examples/python/follow_work_item.py): contract 1.2', () => {
  const fx = new Fixture();
  const users: SenderUser[] = [];

  beforeAll(async () => {
    await fx.setup();
  });

  afterAll(async () => {
    await fx.teardown();
    for (const u of users) await deleteUser(u.name).catch(() => undefined);
  });

  /**
   * Runs a follower as its own sender user (created with the permissions of rabbitmq/definitions.json). While it waits
   * for the end, the test plays the service once (an overdue notification published twice with one message_id: the
   * follower must print it once) and the contact center (contact.ended with a disposition).
   */
  async function follow(command: string, args: string[], sourcePrefix: string): Promise<FollowerRun> {
    const user = await createSenderUser(fx.vhost, sourcePrefix);
    users.push(user);
    const running = new Running(command, [...args, user.url], {
      WORKITEM_SOURCE: user.name,
      RECEIPT_TIMEOUT_SECONDS: '30',
      NOTIFICATION_TIMEOUT_SECONDS: '30',
    });
    const started = await running.line(/externalId (\S+)$/m);
    const waiting = await running.line(/^waiting up to .* for the ended notification/m);
    const contactId = running.stdout.match(/^create: status=accepted contactId=(wi-\S+)/m)?.[1];
    const duplicateId = `test-duplicate-${randomUUID()}`;
    if (waiting && contactId && started) {
      const notification =
        `<workItemNotification event="overdue" externalId="${started[1]}" source="${user.name}" contactId="${contactId}" ` +
        `entrance="loans" at="${new Date().toISOString()}"/>`;
      for (let i = 0; i < 2; i++) {
        await fx.client.publishRaw('workitem.notifications', `overdue.${user.name}`, notification, {
          contentType: 'application/xml',
          persistent: true,
          messageId: duplicateId,
        });
      }
      await fx.client.publishControl('contact.ended', { contactId, disposition: DISPOSITION });
    }
    const result = await running.exited;
    return { user, result, externalId: started?.[1] ?? '', contactId, duplicateId };
  }

  /** `<step>: status=… contactId=… error=…` lines. */
  const receipts = (stdout: string): Record<string, ReceiptLine> => {
    const out: Record<string, ReceiptLine> = {};
    for (const m of stdout.matchAll(/^(create|hold|resume): status=(\S+) contactId=(\S+) error=(\S+)/gm)) {
      out[m[1]] = { status: m[2], contactId: m[3], error: m[4] };
    }
    return out;
  };

  /** `notification: event=… …` lines, each with the XML printed under it. */
  const notifications = (stdout: string): { line: string; event: string; messageId: string; xml: string }[] =>
    [...stdout.matchAll(/^notification: event=(\S+) .*messageId=(\S+).*\n {2}(<workItemNotification[^\n]*)$/gm)].map((m) => ({
      line: m[0].split('\n')[0],
      event: m[1],
      messageId: m[2],
      xml: m[3],
    }));

  describe.each([
    ['Java (single-file launch)', 'java'],
    ['Python (pika)', 'python'],
  ])('%s', (_label, language) => {
    let run: FollowerRun;

    beforeAll(async () => {
      if (language === 'java') {
        const java = which('java');
        if (!java) throw new Error(`java not found on PATH: install a JDK (Debian: default-jdk-headless); ${SETUP_HINT}`);
        const missing = JAVA_CLASSPATH.filter((jar) => !existsSync(jar));
        if (missing.length) throw new Error(`missing ${missing.join(', ')}: ${SETUP_HINT}`);
        run = await follow(java, ['-cp', JAVA_CLASSPATH.join(path.delimiter), JAVA_FOLLOWER], 'example-java');
      } else {
        const python = pythonWithPika();
        if (!python) throw new Error(`no python3 that can import pika: ${SETUP_HINT}`);
        run = await follow(python, [PYTHON_FOLLOWER], 'example-python');
      }
    }, 240_000);

    it('runs as the sender user of rabbitmq/definitions.json: one binding per event of its source, nothing refused', () => {
      const keys = NOTIFICATION_EVENTS.map((e) => `${e}.${run.user.name}`).join(', ');
      expect(run.result.stdout).toContain(`subscribed to workitem.notifications: ${keys}`);
      expect(run.result.stdout).toContain(`source ${run.user.name}, externalId ${language === 'java' ? 'JAVA-' : 'PY-'}`);
      expect({ exit: run.result.code, failed: run.result.stdout.match(/^FAILED: .*(403|ACCESS|refused).*$/m)?.[0] }).toEqual({
        exit: expect.any(Number),
        failed: undefined,
      });
      expect(run.result.code).not.toBe(2);
    });

    it('prints the accepted receipt, and the workItemInfo of its item (state routed, its history)', () => {
      expect(receipts(run.result.stdout).create).toEqual({ status: 'accepted', contactId: expect.stringMatching(/^wi-/), error: '-' });
      const get = run.result.stdout.match(/^get: state=(\S+) contactId=(\S+) entrance=(\S+) priority=(\d+) steps=(\S+)$/m);
      expect(get?.slice(1, 5)).toEqual(['routed', run.contactId, 'loans', '5']);
      expect(get?.[5].split(',')).toEqual(expect.arrayContaining(['received', 'accepted']));
    });

    it('prints a notification published twice with the same message_id once (dedupe on message_id)', () => {
      const copies = notifications(run.result.stdout).filter((n) => n.messageId === run.duplicateId);
      expect(copies.map((n) => n.event)).toEqual(['overdue']);
      expect(run.result.stdout).toContain(`(notification ${run.duplicateId} again: ignored)`);
    });

    // Waits for the hold/resume branch (issue 24 part 4): holdWorkItem, resumeWorkItem, receipts held and resumed.
    it('prints the held and resumed receipts; the contact is withdrawn (reason held) and created again (resumed)', async () => {
      expect(receipts(run.result.stdout)).toMatchObject({
        hold: { status: 'held', contactId: run.contactId, error: '-' },
        resume: { status: 'resumed', contactId: run.contactId, error: '-' },
      });
      const mine = (e: CollectedEvent): boolean => e.event.contactId === run.contactId;
      const events = fx.client.events
        .filter(mine)
        .map((e) => [e.routingKey, e.event.reason ?? (e.event.resumed === true ? 'resumed' : null)]);
      expect(events.slice(0, 3)).toEqual([
        ['contact.created.loans', null],
        ['contact.withdrawn.loans', 'held'],
        ['contact.created.loans', 'resumed'],
      ]);
    });

    // Waits for the notifications branch (issue 24 part 1): the ended notification, with the contact center's disposition.
    it("prints the ended notification of its item with the contact center's disposition, once; each notification valid against the XSD", () => {
      const all = notifications(run.result.stdout);
      const ended = all.filter((n) => n.event === 'ended');
      expect(ended.map((n) => n.line)).toEqual([
        expect.stringMatching(
          new RegExp(
            `^notification: event=ended externalId=${run.externalId} contactId=${run.contactId} entrance=loans at=\\S+ ` +
              `messageId=\\S+ disposition=${DISPOSITION.code} text='${DISPOSITION.text}'$`,
          ),
        ),
      ]);
      expect(new Set(all.map((n) => n.messageId)).size).toBe(all.length);
      const results = validateWithXsd(
        XSD,
        all.map((n, i) => ({ name: `${i}`, body: Buffer.from(n.xml) })),
      );
      expect([...results.values()].filter((r) => !r.valid).map((r) => `${all[Number(r.name)].xml}: ${r.errors.join('; ')}`)).toEqual([]);
    });

    // Waits for both branches.
    it('exits 0 with OK', () => {
      expect(run.result.stdout).toMatch(/^OK: accepted, held, resumed, workItemInfo, ended$/m);
      if (run.result.code !== 0) throw new Error(describeRun(`${language} follower`, run.result));
    });
  });

  it('without a service: each follower publishes workItem, holdWorkItem, resumeWorkItem, getWorkItem, valid against the XSD, and exits 1', async () => {
    const vhost = await createVhost();
    const conn = await amqp.connect(amqpUrl(vhost));
    try {
      const ch = await conn.createChannel();
      await ch.assertExchange('workitem.inbound', 'topic', { durable: true });
      await ch.assertExchange('workitem.notifications', 'topic', { durable: true });
      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(queue, 'workitem.inbound', '#');
      const followers: { name: string; command: string; args: string[] }[] = [];
      const python = pythonWithPika();
      if (python) followers.push({ name: 'python', command: python, args: [PYTHON_FOLLOWER] });
      const java = which('java');
      if (java) followers.push({ name: 'java', command: java, args: ['-cp', JAVA_CLASSPATH.join(path.delimiter), JAVA_FOLLOWER] });
      expect(followers.map((f) => f.name)).toEqual(['python', 'java']);
      for (const f of followers) {
        const r = await new Running(f.command, f.args, { AMQP_URL: amqpUrl(vhost), RECEIPT_TIMEOUT_SECONDS: '2' }).exited;
        expect({ follower: f.name, code: r.code }).toEqual({ follower: f.name, code: 1 });
        expect(r.stdout.match(/^(create|hold|resume|get): no answer within/gm)).toHaveLength(4);
        expect(r.stdout).not.toMatch(/^waiting up to/m); // no contactId: nothing to follow
      }
      const published: amqp.GetMessage[] = [];
      for (let m = await ch.get(queue, { noAck: true }); m; m = await ch.get(queue, { noAck: true })) published.push(m);
      const roots = published.map((m) => /<(\w+)/.exec(m.content.toString('utf8').replace(/^<\?xml[^>]*\?>\s*/, ''))?.[1]);
      expect(roots).toEqual(followers.flatMap(() => ['workItem', 'holdWorkItem', 'resumeWorkItem', 'getWorkItem']));
      for (const msg of published) {
        expect(msg.fields.routingKey).toBe('workitem.bank-support');
        expect(msg.properties).toMatchObject({ contentType: 'application/xml', deliveryMode: 2 });
        expect(msg.properties.replyTo).toMatch(/^amq\.gen-/);
      }
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
});
