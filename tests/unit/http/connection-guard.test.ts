import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ConnectionGuard,
  descriptorBudget,
  guardConnections,
  openFilesSoftLimit,
  type GuardedConnection,
} from '../../../src/adapters/http/connection-guard';
import { serverOptions } from '../../../src/adapters/http/http-server';

class Conn implements GuardedConnection {
  destroyed = false;
  constructor(readonly name: string) {}
  destroy(): void {
    this.destroyed = true;
  }
}

function guard(cap: number, idleMs = 10_000) {
  const events = { cap: 0, idle: 0, refused: 0 };
  const g = new ConnectionGuard<Conn>(cap, idleMs, {
    evicted: (reason) => events[reason]++,
    refused: () => events.refused++,
  });
  return { g, events };
}

describe('ConnectionGuard', () => {
  it('accepts up to the cap, then evicts the connection idle longest', () => {
    const { g, events } = guard(3);
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => new Conn(n));
    expect(g.opened(a, 1)).toBe('accepted');
    expect(g.opened(b, 2)).toBe('accepted');
    expect(g.opened(c, 3)).toBe('accepted');
    expect(g.opened(d, 4)).toBe('evicted-idle');
    expect([a, b, c, d].map((x) => x.destroyed)).toEqual([true, false, false, false]);
    expect(g.size).toBe(3);
    expect(events).toEqual({ cap: 1, idle: 0, refused: 0 });
  });

  it('never evicts a connection with a request in progress; refuses the new one when all are busy', () => {
    const { g, events } = guard(2);
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => new Conn(n));
    g.opened(a, 1);
    g.opened(b, 2);
    g.requestStarted(a);
    expect(g.opened(c, 3)).toBe('evicted-idle');
    expect(b.destroyed).toBe(true);
    g.requestStarted(c);
    expect(g.opened(d, 4)).toBe('refused');
    expect(d.destroyed).toBe(true);
    expect(a.destroyed || c.destroyed).toBe(false);
    expect(g.size).toBe(2);
    expect(events).toEqual({ cap: 1, idle: 0, refused: 1 });
  });

  it('a keep-alive connection between requests is idle again, ordered by when its last request ended', () => {
    const { g } = guard(2);
    const [a, b, c] = ['a', 'b', 'c'].map((n) => new Conn(n));
    g.opened(a, 1);
    g.opened(b, 2);
    g.requestStarted(a);
    g.requestEnded(a, 5); // a idle since 5, b since 2: b goes first
    expect(g.opened(c, 6)).toBe('evicted-idle');
    expect(b.destroyed).toBe(true);
    expect(a.destroyed).toBe(false);
  });

  it('pipelined requests: idle only when the last one ended; stray ends are ignored', () => {
    const { g } = guard(1);
    const a = new Conn('a');
    g.opened(a, 1);
    g.requestStarted(a);
    g.requestStarted(a);
    g.requestEnded(a, 2);
    expect(g.opened(new Conn('x'), 3)).toBe('refused');
    g.requestEnded(a, 4);
    g.requestEnded(a, 4);
    g.requestEnded(new Conn('unknown'), 4);
    g.requestStarted(new Conn('unknown'));
    expect(g.opened(new Conn('y'), 5)).toBe('evicted-idle');
    expect(a.destroyed).toBe(true);
  });

  it('a closed connection frees its slot', () => {
    const { g } = guard(1);
    const a = new Conn('a');
    g.opened(a, 1);
    g.closed(a);
    expect(g.size).toBe(0);
    expect(g.opened(new Conn('b'), 2)).toBe('accepted');
    expect(a.destroyed).toBe(false);
  });

  it('sweep closes connections idle longer than idleMs, below the cap too, but never a busy one', () => {
    const { g, events } = guard(100, 1000);
    const [a, b, c] = ['a', 'b', 'c'].map((n) => new Conn(n));
    g.opened(a, 0);
    g.opened(b, 0);
    g.opened(c, 800);
    g.requestStarted(b);
    expect(g.sweep(1000)).toBe(0);
    expect(g.sweep(1500)).toBe(1);
    expect([a.destroyed, b.destroyed, c.destroyed]).toEqual([true, false, false]);
    expect(g.sweep(1801)).toBe(1);
    expect(c.destroyed).toBe(true);
    expect(g.size).toBe(1);
    expect(events.idle).toBe(2);
  });

  it('refuses a cap below 1', () => {
    expect(() => new ConnectionGuard(0, 1000)).toThrow(RangeError);
  });
});

describe('descriptor budget', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'limits-'));
  const limits = (line: string) => {
    const f = path.join(dir, `l${Math.random()}`);
    writeFileSync(f, `Limit                     Soft Limit           Hard Limit           Units     \n${line}\n`);
    return f;
  };

  it('reads the soft limit of open files, falls back when unreadable or unlimited', () => {
    expect(openFilesSoftLimit(1024, limits('Max open files            4096                 524288               files     '))).toBe(4096);
    expect(openFilesSoftLimit(1024, limits('Max open files            unlimited            unlimited            files     '))).toBe(1024);
    expect(openFilesSoftLimit(1024, path.join(dir, 'missing'))).toBe(1024);
    expect(openFilesSoftLimit(1024, limits('Max processes             4096                 4096                 processes '))).toBe(1024);
  });

  it('keeps the reserve free: the cap is the configured one or the soft limit minus the reserve, at least 16', () => {
    expect(descriptorBudget(1024, 1024)).toEqual({ softLimit: 1024, reserve: 256, configured: 1024, cap: 768 });
    expect(descriptorBudget(1024, 65_536).cap).toBe(1024);
    expect(descriptorBudget(1024, 100).cap).toBe(16);
  });
});

describe('guarded server (real sockets)', () => {
  it('an idle flood above the cap cannot keep a request out, and never-used connections are swept', async () => {
    const g = new ConnectionGuard<net.Socket>(5, 300);
    const server = http.createServer(
      serverOptions({ maxConnections: 5, headersTimeoutMs: 5000, requestTimeoutMs: 5000, keepAliveTimeoutMs: 5000 }),
      (_q, res) => res.end('ok'),
    );
    guardConnections(server, g, 50);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const idle: net.Socket[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        idle.push(s);
        await new Promise((r) => s.once('connect', r));
      }
      await new Promise((r) => setTimeout(r, 50));
      expect(g.size).toBeLessThanOrEqual(5);
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get({ port, host: '127.0.0.1', agent: false }, (res) => {
            let t = '';
            res.on('data', (c) => (t += c));
            res.on('end', () => resolve(t));
          })
          .on('error', reject);
      });
      expect(body).toBe('ok');
      await new Promise((r) => setTimeout(r, 600));
      expect(g.size).toBe(0);
    } finally {
      for (const s of idle) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  it('requestTimeout bounds receiving the request, not sending the response: a slow download is not cut', async () => {
    const server = http.createServer(
      serverOptions({ maxConnections: 5, headersTimeoutMs: 1000, requestTimeoutMs: 1000, keepAliveTimeoutMs: 500 }),
      (_q, res) => {
        let i = 0;
        const t = setInterval(() => {
          res.write(Buffer.alloc(1000));
          if (++i === 25) {
            clearInterval(t);
            res.end();
          }
        }, 100);
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const bytes = await new Promise<number>((resolve, reject) => {
        http
          .get({ port, host: '127.0.0.1', agent: false }, (res) => {
            let n = 0;
            res.on('data', (c: Buffer) => (n += c.length));
            res.on('end', () => resolve(n));
            res.on('error', reject);
          })
          .on('error', reject);
      });
      expect(bytes).toBe(25_000);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
