import net from 'node:net';

/**
 * A tiny TCP proxy for fault tests: put it between the service and the broker (AMQP_URL → the proxy) and
 * cut connections at will.
 *
 * - dropAll(): resets every live connection on both sides (RST, no AMQP connection.close): what a
 *   crashed load balancer, a NAT timeout or a pulled cable looks like to client and broker.
 * - blackhole(true): stops forwarding bytes without closing anything (a half-dead peer: only AMQP
 *   heartbeats can tell), and refuses nothing; blackhole(false) resumes.
 * - refuse(true): new connections are reset at once (the broker looks down), live ones stay.
 */

export interface TcpProxyOptions {
  targetHost?: string;
  targetPort: number;
  /** Default: a free port chosen by the OS. */
  listenPort?: number;
}

export interface TcpProxy {
  readonly port: number;
  /** Connections currently proxied. */
  readonly connections: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** `amqp://guest:guest@127.0.0.1:<proxy port>` style URL: replaces host:port of `url` with the proxy's. */
  urlFor(url: string): string;
  /** Resets every live connection (both sides); returns how many were dropped. */
  dropAll(): number;
  blackhole(on: boolean): void;
  refuse(on: boolean): void;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
}

function reset(socket: net.Socket): void {
  if (socket.destroyed) return;
  // resetAndDestroy sends RST (Node ≥ 16.17); only possible on a connected TCP socket.
  try {
    if (typeof socket.resetAndDestroy === 'function' && !socket.connecting) socket.resetAndDestroy();
    else socket.destroy();
  } catch {
    socket.destroy();
  }
}

export async function startTcpProxy(opts: TcpProxyOptions): Promise<TcpProxy> {
  const targetHost = opts.targetHost ?? '127.0.0.1';
  const pairs = new Set<Pair>();
  let accepted = 0;
  let holes = false;
  let refusing = false;
  const held: { from: net.Socket; to: net.Socket; chunk: Buffer }[] = [];

  const forward = (from: net.Socket, to: net.Socket): void => {
    from.on('data', (chunk: Buffer) => {
      if (holes) {
        held.push({ from, to, chunk });
        return;
      }
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
  };

  const server = net.createServer((client) => {
    accepted++;
    client.setNoDelay(true);
    if (refusing) {
      client.on('error', () => undefined);
      reset(client);
      return;
    }
    client.pause();
    const upstream = net.connect({ host: targetHost, port: opts.targetPort });
    upstream.setNoDelay(true);
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    const teardown = (): void => {
      if (!pairs.delete(pair)) return;
      reset(client);
      reset(upstream);
    };
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.on('close', teardown);
    upstream.on('close', teardown);
    upstream.once('connect', () => {
      forward(client, upstream);
      forward(upstream, client);
      client.resume();
    });
  });
  server.on('error', () => undefined);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listenPort ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    get connections() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    urlFor(url: string) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString().replace(/\/$/, '');
    },
    dropAll() {
      const all = [...pairs];
      pairs.clear();
      for (const { client, upstream } of all) {
        reset(client);
        reset(upstream);
      }
      return all.length;
    },
    blackhole(on: boolean) {
      holes = on;
      if (!on) {
        for (const { to, chunk } of held.splice(0)) if (!to.destroyed) to.write(chunk);
      }
    },
    refuse(on: boolean) {
      refusing = on;
    },
    async close() {
      for (const { client, upstream } of [...pairs]) {
        reset(client);
        reset(upstream);
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
