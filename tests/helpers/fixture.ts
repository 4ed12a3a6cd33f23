import { amqpUrl, createVhost, deleteVhost } from './broker';
import { TestClient } from './amqp-client';
import { httpRequest } from './http';
import { DEFAULT_REDIS_URL, deleteByPrefix, randomPrefix } from './redis';
import { startService, type ServiceHandle, type StartServiceOptions } from './service';
import { waitUntil } from './wait';

/**
 * One isolated world per test file: a fresh vhost, a Redis key prefix, a test client that collects
 * events, receipts and error copies, and the service under test (restartable).
 */
export class Fixture {
  svc!: ServiceHandle;
  client!: TestClient;
  vhost!: string;
  prefix!: string;

  /** eventPattern: what the stand-in contact center listens for (default every event). */
  constructor(
    public serviceOpts: Partial<StartServiceOptions> = {},
    private readonly eventPattern = '#',
  ) {}

  async setup(): Promise<this> {
    this.vhost = await createVhost();
    this.prefix = randomPrefix();
    this.client = await TestClient.connect(amqpUrl(this.vhost));
    await this.client.bindEvents(this.eventPattern);
    await this.client.bindErrors();
    await this.client.bindReceiptsExchange('#');
    await this.client.replyQueue();
    this.svc = await this.start();
    return this;
  }

  start(extra: Partial<StartServiceOptions> = {}): Promise<ServiceHandle> {
    return startService({ vhost: this.vhost, prefix: this.prefix, ...this.serviceOpts, ...extra });
  }

  async restart(extra: Partial<StartServiceOptions> = {}): Promise<ServiceHandle> {
    await this.svc.stop();
    this.svc = await this.start({ httpPort: this.svc.port, ...extra });
    return this.svc;
  }

  async teardown(): Promise<void> {
    await this.client?.close().catch(() => undefined);
    await this.svc?.stop().catch(() => undefined);
    if (this.vhost) await deleteVhost(this.vhost);
    if (this.prefix) await deleteByPrefix(this.serviceOpts.redisUrl ?? DEFAULT_REDIS_URL, this.prefix);
  }

  async api<T = unknown>(path: string): Promise<T> {
    const r = await httpRequest(`${this.svc.baseUrl}${path}`);
    if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status} ${r.body.toString()}`);
    return JSON.parse(r.body.toString()) as T;
  }

  async entrance(name: string): Promise<{ name: string; state: string; parked: number }> {
    const { entrances } = await this.api<{ entrances: { name: string; state: string; parked: number }[] }>('/api/entrances');
    const e = entrances.find((x) => x.name === name);
    if (!e) throw new Error(`no entrance ${name}`);
    return e;
  }

  /** Sends the contact center's control event and waits until the service has applied it. */
  async setEntrance(name: string, open: boolean): Promise<void> {
    await this.client.publishControl(open ? 'entrance.opened' : 'entrance.closed', { entrance: name });
    await waitUntil(async () => (await this.entrance(name)).state === (open ? 'open' : 'closed'), {
      timeoutMs: 10_000,
      describe: `entrance ${name} ${open ? 'open' : 'closed'}`,
    });
  }
}
