import path from 'node:path';
import { TestClient } from '../helpers/amqp-client';
import { runCli } from '../helpers/cli';
import { freePort } from '../helpers/ports';
import { startRabbitNode, type RabbitNode } from '../helpers/rabbit-node';
import { startRedis, type RedisProcess } from '../helpers/redis-process';
import { randomPrefix } from '../helpers/redis';
import { startService, type ServiceHandle } from '../helpers/service';
import { makeTestPki, type TestPki } from '../helpers/tls-pki';
import { examplesDir, newExternalId, workItemXml } from '../helpers/work-items';

/**
 * amqps:// and rediss:// end to end, against a private RabbitMQ node with a TLS listener that requires a client
 * certificate (mutual TLS) and a private redis-server that speaks TLS only, both with certificates of a CA this
 * test makes. The node keeps its plain listener for the test's own client; the service speaks TLS only.
 * One node for every test here: a private node takes 30-60 s to boot on a loaded 2-core machine.
 */

jest.setTimeout(180_000);

let pki: TestPki;
let node: RabbitNode;
let tlsPort: number;
let redis: RedisProcess;
let client: TestClient;
const services: ServiceHandle[] = [];

function amqpsUrl(password = 'guest'): string {
  return `amqps://guest:${password}@127.0.0.1:${tlsPort}`;
}

/** Env of a service or CLI talking TLS to both, with client certificates. */
function tlsEnv(over: Record<string, string> = {}): Record<string, string> {
  return {
    AMQP_URL: amqpsUrl(),
    AMQP_TLS_CA_FILE: pki.caCert,
    AMQP_TLS_CERT_FILE: pki.clientCert,
    AMQP_TLS_KEY_FILE: pki.clientKey,
    REDIS_URL: redis.url,
    REDIS_TLS_CA_FILE: pki.caCert,
    REDIS_TLS_CERT_FILE: pki.clientCert,
    REDIS_TLS_KEY_FILE: pki.clientKey,
    ...over,
  };
}

function withoutKeys(env: Record<string, string>, ...keys: string[]): Record<string, string> {
  const out = { ...env };
  for (const k of keys) delete out[k];
  return out;
}

/** Starts the service expecting it to fail for good: exit code, time to exit, its error lines. */
async function expectPermanentFailure(env: Record<string, string>) {
  const t0 = Date.now();
  const svc = await startService({ vhost: 'tls', prefix: randomPrefix(), env, waitForReady: false });
  services.push(svc);
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([svc.exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), 20_000)))]);
  clearTimeout(timer);
  const ms = Date.now() - t0;
  if (exit === null) await svc.kill9();
  const errors = svc.jsonLogs().filter((l) => l.level === 'error');
  return { code: exit?.code, ms, errors, logs: svc.logs };
}

beforeAll(async () => {
  pki = makeTestPki();
  tlsPort = await freePort();
  node = await startRabbitNode({
    prefix: 'witls',
    extraConf: [
      `listeners.ssl.default = 127.0.0.1:${tlsPort}`,
      `ssl_options.cacertfile = ${pki.caCert}`,
      `ssl_options.certfile = ${pki.serverCert}`,
      `ssl_options.keyfile = ${pki.serverKey}`,
      'ssl_options.verify = verify_peer',
      'ssl_options.fail_if_no_peer_cert = true',
    ],
  });
  redis = await startRedis({
    appendonly: false,
    tls: {
      certFile: pki.serverCert,
      keyFile: pki.serverKey,
      caFile: pki.caCert,
      authClients: 'optional',
      clientCertFile: pki.clientCert,
      clientKeyFile: pki.clientKey,
    },
  });
  client = await TestClient.connect(node.url);
}, 150_000);

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop('SIGTERM', 10_000)));
  await client?.close().catch(() => undefined);
  await redis?.stop();
  await node?.stop();
  pki?.remove();
});

describe('TLS (amqps://, rediss://)', () => {
  it('the service runs end to end over amqps (mutual TLS) and rediss; the CLI uses the same variables', async () => {
    const prefix = randomPrefix();
    const svc = await startService({ vhost: 'tls', prefix, env: tlsEnv(), readyTimeoutMs: 60_000 });
    services.push(svc);
    const ext = newExternalId('TLS');
    await client.bindEvents('#'); // a contact center that listens: the item is accepted, not buffered
    await client.replyQueue();
    await client.publishWorkItem(workItemXml({ externalId: ext }), { replyTo: true });
    const [receipt] = await client.waitForReceipts(1, 30_000, (r) => r.externalId === ext);
    expect(receipt.status).toBe('accepted');
    expect(receipt.contactId).toMatch(/^wi-/);

    // The CLI: a send over amqps (waits for the receipt), and the unfinished items read over rediss.
    const cliEnv = { PATH: process.env.PATH ?? '', WORKITEM_CONFIG: svc.configFile, REDIS_KEY_PREFIX: prefix, ...tlsEnv() };
    const sent = await runCli(['send', path.join(examplesDir(), 'loan-review.xml'), '--wait', '--timeout', '30s'], cliEnv);
    expect(sent).toMatchObject({ code: 0 });
    expect(sent.stdout).toMatch(/status:\s+accepted/);
    const items = await runCli(['items', '--json'], cliEnv);
    expect(items).toMatchObject({ code: 0 });
    expect(items.stdout).toContain(receipt.contactId);

    expect(await svc.stop()).toBe(0);
    expect(svc.logs.join('\n')).not.toMatch(/"level":"error"/);
  });

  it('AMQP: a server certificate from another CA is refused: exit 3, one line naming the host (even with NODE_TLS_REJECT_UNAUTHORIZED=0)', async () => {
    const r = await expectPermanentFailure(tlsEnv({ AMQP_TLS_CA_FILE: pki.otherCaCert, NODE_TLS_REJECT_UNAUTHORIZED: '0' }));
    expect(r.code).toBe(3);
    expect(r.ms).toBeLessThan(15_000);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].message).toContain(`127.0.0.1:${tlsPort}`);
    expect(r.errors[0].message).toMatch(/server certificate .* does not verify/);
    expect(r.errors[0].message).toContain('amqps://guest:***@');
  });

  it('Redis: a server certificate from another CA is refused: exit 3, one line naming the host', async () => {
    const r = await expectPermanentFailure(tlsEnv({ REDIS_TLS_CA_FILE: pki.otherCaCert }));
    expect(r.code).toBe(3);
    expect(r.ms).toBeLessThan(15_000);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].message).toContain(`127.0.0.1:${redis.port}`);
    expect(r.errors[0].message).toMatch(/server certificate .* does not verify/);
  });

  it('mutual TLS: without a client certificate the broker refuses the connection: exit 3, one line', async () => {
    const r = await expectPermanentFailure(withoutKeys(tlsEnv(), 'AMQP_TLS_CERT_FILE', 'AMQP_TLS_KEY_FILE'));
    expect(r.code).toBe(3);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].message).toMatch(/does not accept our client certificate/);
    expect(r.errors[0].message).toContain(`127.0.0.1:${tlsPort}`);
  });

  it('rediss:// without a CA file verifies against the system CAs: the test CA is not one, so it is refused', async () => {
    const r = await expectPermanentFailure(withoutKeys(tlsEnv(), 'REDIS_TLS_CA_FILE'));
    expect(r.code).toBe(3);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].message).toMatch(/REDIS_TLS_CA_FILE/);
  });
});
