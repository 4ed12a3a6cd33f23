import { readdirSync } from 'node:fs';
import net from 'node:net';
import { Fixture } from '../helpers/fixture';
import { httpRequest } from '../helpers/http';
import { sleep } from '../helpers/wait';
import { newExternalId, workItemXml } from '../helpers/work-items';

/**
 * Issue 22: strangers cannot take the HTTP port's descriptors. With a small cap (HTTP_MAX_CONNECTIONS=200), a
 * flood of 3 000 idle and slow-header connections, re-opened as the service closes them, is held while health,
 * readiness and the broker keep working and the service's descriptor count stays bounded.
 */

jest.setTimeout(180_000);

const CAP = 200;
const FLOOD = 3_000;
const HEADERS_TIMEOUT_MS = 3_000;

const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/** Connects (bounded); resolves with the socket, or null when refused or not connected within 2 s. */
function connect(port: number): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const t = setTimeout(() => {
      s.destroy();
      resolve(null);
    }, 2_000);
    s.once('connect', () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once('error', () => {
      clearTimeout(t);
      s.destroy();
      resolve(null);
    });
  });
}

/**
 * Opens `size` connections, half of them idle, half slow-header, then keeps re-opening those the service closes
 * (bounded: 500 a second), so the flood goes on while the test probes.
 */
class Flood {
  readonly open = new Set<net.Socket>();
  opened = 0;
  closedByPeer = 0;
  private running = true;
  private loop: Promise<void>;

  constructor(
    private readonly port: number,
    private readonly size: number,
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      // Batches of 200 until all have been opened once, then at most 50 re-opened per 100 ms (a steady flood).
      const filling = this.opened < this.size;
      const batch = Math.min(this.size - this.open.size, filling ? 200 : 50);
      if (batch > 0) {
        const sockets = await Promise.all(Array.from({ length: batch }, () => connect(this.port)));
        for (const s of sockets) {
          if (!s) continue;
          this.opened++;
          if (!this.running) {
            s.destroy();
            continue;
          }
          this.open.add(s);
          s.on('error', () => undefined);
          s.on('data', () => undefined);
          s.once('close', () => {
            if (this.open.delete(s)) this.closedByPeer++;
          });
          // Half slowloris: a request line and one header, never the end of the headers.
          if (this.opened % 2 === 0) s.write('GET /healthz HTTP/1.1\r\nHost: flood\r\n');
        }
      }
      await sleep(filling ? 20 : 100);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    for (const s of this.open) {
      this.open.delete(s);
      s.destroy();
    }
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

describe('HTTP connection limits (real service)', () => {
  const f = new Fixture({
    env: { HTTP_MAX_CONNECTIONS: String(CAP), HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), HTTP_HOST: '127.0.0.1' },
  });
  beforeAll(() => f.setup(), 60_000);
  afterAll(() => f.teardown());

  it('logs the descriptor budget at start', async () => {
    const line = await f.svc.waitForLog(/http descriptor budget/);
    const budget = JSON.parse(line) as Record<string, unknown>;
    expect(budget).toMatchObject({ maxConnections: CAP, reserve: 256, headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: 30_000 });
    expect(budget.openFilesSoftLimit).toEqual(expect.any(Number));
  });

  it('a flood of idle and slow-header connections cannot take /healthz, /readyz or the broker', async () => {
    const fdsBefore = openFds(f.svc.pid);
    const flood = new Flood(f.svc.port, FLOOD);
    try {
      // Until the flood has made all its connections (each beyond the cap evicts the oldest idle one).
      const deadline = Date.now() + 60_000;
      while (flood.opened < FLOOD && Date.now() < deadline) await sleep(100);
      expect(flood.opened).toBeGreaterThanOrEqual(FLOOD);

      const latencies: number[] = [];
      let maxFds = 0;
      for (let i = 0; i < 20; i++) {
        for (const path of ['/healthz', '/readyz']) {
          const t0 = performance.now();
          const r = await httpRequest(`${f.svc.baseUrl}${path}`, { timeoutMs: 2_000 });
          latencies.push(performance.now() - t0);
          expect(r.status).toBe(200);
        }
        maxFds = Math.max(maxFds, openFds(f.svc.pid));
        await sleep(50);
      }

      const ext = newExternalId('FLOOD');
      await f.client.publishWorkItem(workItemXml({ externalId: ext, entrance: 'loans' }), { replyTo: true });
      const [receipt] = await f.client.waitForReceipts(1, 20_000, (x) => x.externalId === ext);
      expect(receipt.status).toBe('accepted');

      maxFds = Math.max(maxFds, openFds(f.svc.pid));
      expect(maxFds).toBeLessThan(fdsBefore + CAP + 100);
      const metrics = (await httpRequest(`${f.svc.baseUrl}/metrics`)).text();
      const evicted = Number(/^workitem_http_connections_evicted_total\{reason="cap"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
      expect(evicted).toBeGreaterThan(FLOOD - CAP - 100);
      expect(metrics).toMatch(/^workitem_http_connections \d+/m);

      latencies.sort((a, b) => a - b);
      const p50 = percentile(latencies, 50);
      const max = latencies[latencies.length - 1];
      expect(max).toBeLessThan(2_000);
      console.log(
        `flood: ${flood.opened} connections opened (${flood.open.size} held by the client at the end, ${flood.closedByPeer} closed by the service), ` +
          `cap ${CAP}, ${evicted} evicted; health p50 ${p50.toFixed(1)} ms, max ${max.toFixed(1)} ms over ${latencies.length} requests; ` +
          `service descriptors ${fdsBefore} before, max ${maxFds} during`,
      );
    } finally {
      await flood.stop();
    }
  });

  it('a slow-headers client is cut at the headers timeout', async () => {
    const s = await connect(f.svc.port);
    if (!s) throw new Error('cannot connect');
    const t0 = Date.now();
    s.write('GET /healthz HTTP/1.1\r\n');
    const drip = setInterval(() => s.write('X-Slow: 1\r\n'), 250);
    let answer = '';
    s.on('data', (d: Buffer) => (answer += d.toString()));
    s.on('error', () => undefined);
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('the slow client was not cut within 10 s')), 10_000);
        s.once('close', () => {
          clearTimeout(t);
          resolve();
        });
      });
    } finally {
      clearInterval(drip);
      s.destroy();
    }
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
    expect(elapsed).toBeLessThan(HEADERS_TIMEOUT_MS + 2_000);
    expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
  });
});
