import * as amqp from 'amqplib';
import { existsSync } from 'node:fs';
import { startRabbitNode, type RabbitNode } from '../helpers/rabbit-node';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';
import { waitUntil, withTimeout } from '../helpers/wait';

/** The fault suite's own tools: a private broker node that survives kill -9 with its data, and the TCP proxy. */

jest.setTimeout(180_000);

async function publishPersistent(url: string, queue: string, n: number): Promise<void> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    for (let i = 0; i < n; i++) ch.sendToQueue(queue, Buffer.from(`m${i}`), { persistent: true });
    await ch.waitForConfirms();
  } finally {
    await conn.close();
  }
}

/**
 * Right after a boot a quorum queue may still be electing its leader and report 0 messages: poll until the
 * count is the expected one (or report the last count).
 */
async function eventuallyCount(url: string, queue: string, want: number): Promise<number> {
  let last = -1;
  await waitUntil(async () => (last = await messageCount(url, queue)) === want, { timeoutMs: 30_000, intervalMs: 250 }).catch(
    () => undefined,
  );
  return last;
}

async function messageCount(url: string, queue: string): Promise<number> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await conn.close();
  }
}

describe('fault harness', () => {
  let node: RabbitNode | undefined;
  let proxy: TcpProxy | undefined;
  afterAll(async () => {
    await proxy?.close();
    await node?.stop();
  });

  it('a private node keeps durable queues and confirmed persistent messages through kill -9 and restart', async () => {
    node = await startRabbitNode();
    expect(node.nodename).toMatch(/^wifault[0-9a-f]+@localhost$/);
    expect(node.port).not.toBe(5672);
    await publishPersistent(node.url, 'harness.durable', 0);
    // RabbitMQ 3.10.8: a quorum queue declared less than ~3 minutes before a kill -9 comes back leaderless and
    // empty (Ra's names.dets registry is saved lazily; the member restarts as a new, empty one: Term 0, log 0).
    // A graceful restart persists the registry, so the queue is declared, then the node restarted, then killed.
    await node.restart();
    await publishPersistent(node.url, 'harness.durable', 25);
    const pid = node.pid;
    expect(pid).toBeGreaterThan(0);
    await node.kill9();
    expect(node.running).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
    await node.restart();
    expect(node.pid).not.toBe(pid);
    await expect(eventuallyCount(node.url, 'harness.durable', 25)).resolves.toBe(25);
    // A graceful restart too (what the no-loss run does).
    await node.restart();
    await expect(eventuallyCount(node.url, 'harness.durable', 25)).resolves.toBe(25);
    expect(await node.ctl(['list_queues', 'name'])).toContain('harness.durable');
  });

  it('the proxy forwards AMQP and dropAll() resets the connections without an AMQP close', async () => {
    if (!node) throw new Error('needs the node of the previous test');
    proxy = await startTcpProxy({ targetPort: node.port });
    const conn = await amqp.connect(proxy.urlFor(node.url));
    const closed = new Promise<Error | undefined>((resolve) => conn.on('close', (err?: Error) => resolve(err)));
    conn.on('error', () => undefined);
    await expect(eventuallyCount(proxy.urlFor(node.url), 'harness.durable', 25)).resolves.toBe(25);
    // The counting connection has closed; only `conn` is left once the proxy has seen that close.
    const p = proxy;
    await waitUntil(() => p.connections === 1, { timeoutMs: 5_000, describe: 'one proxied connection' });
    expect(proxy.dropAll()).toBe(1);
    const err = await withTimeout(closed, 10_000, 'client to notice the dropped connection');
    // A clean close has no error; a dropped socket surfaces as one (ECONNRESET / unexpected close).
    // (amqplib's Error comes from outside jest's sandbox, so no toBeInstanceOf.)
    expect(err?.message).toMatch(/ECONNRESET|unexpected close|socket/i);
    expect(proxy.connections).toBe(0);
    // And the broker is still reachable through the proxy afterwards.
    await expect(eventuallyCount(proxy.urlFor(node.url), 'harness.durable', 25)).resolves.toBe(25);
  });

  it('stop() removes the node and its data for good', async () => {
    if (!node) throw new Error('needs the node of the first test');
    const dir = node.dir;
    await node.stop();
    expect(existsSync(dir)).toBe(false);
    await expect(node.restart()).rejects.toThrow(/after stop/);
    node = undefined;
  });
});
