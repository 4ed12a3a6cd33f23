import http from 'node:http';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text(): string;
  json<T = unknown>(): T;
}

export interface HttpRequestOptions {
  method?: string;
  /** `user:password` for basic auth. */
  auth?: string;
  headers?: Record<string, string>;
  body?: string | Buffer | object;
  timeoutMs?: number;
  /** The local (source) address, e.g. `127.0.0.7`: another client address on loopback. */
  localAddress?: string;
}

/**
 * A bounded HTTP request without keep-alive (agent: false), so no socket outlives the call and
 * jest exits cleanly. Rejects on network errors and timeouts, resolves with any status.
 */
export function httpRequest(url: string, opts: HttpRequestOptions = {}): Promise<HttpResponse> {
  const { method = 'GET', auth, timeoutMs = 5_000 } = opts;
  const headers: Record<string, string> = { ...opts.headers };
  let payload: Buffer | undefined;
  if (opts.body !== undefined) {
    if (Buffer.isBuffer(opts.body) || typeof opts.body === 'string') {
      payload = Buffer.from(opts.body);
    } else {
      payload = Buffer.from(JSON.stringify(opts.body));
      headers['content-type'] ??= 'application/json';
    }
    headers['content-length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, auth, headers, agent: false, timeout: timeoutMs, localAddress: opts.localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          text: () => body.toString('utf8'),
          json: <T>() => JSON.parse(body.toString('utf8')) as T,
        });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no response within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
