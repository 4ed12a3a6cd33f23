import http from 'node:http';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import type { AppConfig, HttpLimitsConfig } from '../../config/config';
import type { AttachmentStore } from '../../ports/attachment-store';
import type { ItemHistory } from '../../ports/item-history';
import type { Logger } from '../../ports/logger';
import { countItems, listItems, type ItemQuery } from '../../application/list-items';
import { parseStateWord, wireState } from '../../domain/receipt';
import type { ItemQueries, ItemState, StoredItem } from '../../ports/state-store';
import type { AttachmentUrlSigner } from './attachment-links';
import { ConnectionGuard, descriptorBudget, guardConnections, openFilesSoftLimit } from './connection-guard';
import { HttpAccess, type Denial } from './http-access';
import { sendJson } from './json-response';
import type { PrometheusMetrics } from './prometheus-metrics';
import { StartConfigError } from '../connect-errors';

export interface Readiness {
  ready: boolean;
  checks: Record<string, unknown>;
}

export interface HttpDeps {
  cfg: AppConfig;
  store: ItemQueries;
  attachments: AttachmentStore;
  /** Item histories for /api/items/<contactId>/history. */
  history: ItemHistory;
  metrics: PrometheusMetrics;
  readiness: () => Readiness;
  log: Logger;
  /** Signs and checks attachment links (ATTACHMENT_URL_SECRET). */
  links: AttachmentUrlSigner;
  /** The operator dashboard, mounted at /ui when enabled (DASHBOARD_ENABLED=true). */
  dashboard?: (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<void>;
  /** The RLIMIT_NOFILE soft limit (default: read from /proc/self/limits, 1024 when unreadable). */
  openFilesLimit?: number;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL, params: string[]) => Promise<void>;

function deny(res: http.ServerResponse, d: Denial): void {
  sendJson(res, d.status, { error: d.error }, { 'Cache-Control': 'no-store', ...(d.challenge ? { 'WWW-Authenticate': d.challenge } : {}) });
}

/** The largest page GET /api/items serves. */
const MAX_PAGE = 500;

/**
 * Parses the query of an item list: `entrance` (a configured one), `state` (`routed`, `buffered`, `parked` — the same
 * as `buffered` —, `scheduled` or `held`), `taskType`, `limit` (1..maxLimit), `cursor` (a seq). Empty values count as absent. Returns the
 * query, or the message of a 400 naming the parameter.
 */
export function parseItemQuery(
  params: URLSearchParams,
  entrances: Record<string, unknown>,
  defaults: { limit: number; maxLimit: number },
): { ok: true; query: ItemQuery } | { ok: false; parameter: string; error: string } {
  const get = (k: string) => {
    const v = params.get(k);
    return v === null || v === '' ? undefined : v;
  };
  const bad = (parameter: string, error: string) => ({ ok: false as const, parameter, error: `${parameter}: ${error}` });
  const entrance = get('entrance');
  if (entrance !== undefined && !Object.prototype.hasOwnProperty.call(entrances, entrance)) {
    return bad('entrance', `unknown entrance "${entrance.slice(0, 100)}" (configured: ${Object.keys(entrances).join(', ')})`);
  }
  const rawState = get('state');
  let state: ItemState | undefined;
  if (rawState !== undefined) {
    state = parseStateWord(rawState);
    if (state === undefined) return bad('state', 'must be routed, buffered, parked (the same as buffered), scheduled or held');
  }
  const rawLimit = get('limit');
  const limit = rawLimit === undefined ? defaults.limit : Number(rawLimit);
  if (rawLimit !== undefined && (!/^\d{1,6}$/.test(rawLimit) || limit < 1 || limit > defaults.maxLimit)) {
    return bad('limit', `must be an integer from 1 to ${defaults.maxLimit}`);
  }
  const rawCursor = get('cursor');
  const cursor = rawCursor === undefined ? 0 : Number(rawCursor);
  if (rawCursor !== undefined && (!/^\d{1,16}$/.test(rawCursor) || !Number.isSafeInteger(cursor))) {
    return bad('cursor', 'must be a non-negative integer (the nextCursor of the previous page)');
  }
  return { ok: true, query: { entrance, state, taskType: get('taskType'), limit, cursor } };
}

function itemView(it: StoredItem) {
  return {
    ...it.record,
    state: wireState(it.state),
    seq: it.seq,
    parkedAt: it.parkedAt ? new Date(it.parkedAt).toISOString() : undefined,
    expiresAt: it.expiresAt,
    activateAt: it.activateAt,
    ...(it.held && {
      heldFrom: wireState(it.held.from),
      heldAt: new Date(it.held.atMs).toISOString(),
      heldUntil: it.held.until,
      heldReason: it.held.reason,
    }),
  };
}

/** Health, readiness, metrics, attachments and the small JSON API. */
export function createHttpServer(d: HttpDeps): http.Server {
  const access = new HttpAccess(d.cfg.httpAccess, d.cfg.publicBaseUrl, d.links);
  const routes: [string, RegExp, Handler][] = [
    ['GET', /^\/healthz$/, async (_q, res) => sendJson(res, 200, { status: 'ok' })],
    [
      'GET',
      /^\/readyz$/,
      async (_q, res) => {
        const r = d.readiness();
        sendJson(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', ...r.checks });
      },
    ],
    [
      'GET',
      /^\/metrics$/,
      async (req, res) => {
        const denied = access.metrics(req);
        if (denied) return deny(res, denied);
        await refreshGauges(d).catch((err) => d.log.warn('could not refresh gauges', { error: (err as Error).message }));
        const text = await d.metrics.registry.metrics();
        res.writeHead(200, { 'Content-Type': d.metrics.registry.contentType });
        res.end(text);
      },
    ],
    [
      'GET',
      /^\/api\/entrances$/,
      async (_q, res) => {
        const list = await d.store.entrances(Object.keys(d.cfg.entrances));
        sendJson(res, 200, {
          entrances: list.map((e) => ({ ...e, displayName: d.cfg.entrances[e.name].displayName, state: e.open ? 'open' : 'closed' })),
        });
      },
    ],
    [
      'GET',
      /^\/api\/items$/,
      async (_q, res, url) => {
        const q = parseItemQuery(url.searchParams, d.cfg.entrances, { limit: 50, maxLimit: MAX_PAGE });
        if (!q.ok) return sendJson(res, 400, { error: q.error, parameter: q.parameter });
        const [page, total] = await Promise.all([listItems(d.store, q.query), countItems(d.store, q.query)]);
        sendJson(res, 200, { items: page.items.map(itemView), nextCursor: page.nextCursor, total });
      },
    ],
    [
      'GET',
      /^\/api\/items\/(wi-[0-9a-f-]{36})$/,
      async (_q, res, _u, [contactId]) => {
        const it = await d.store.getItem(contactId);
        if (!it) return sendJson(res, 404, { error: 'unknown contactId' });
        sendJson(res, 200, itemView(it));
      },
    ],
    [
      'GET',
      /^\/api\/items\/(wi-[0-9a-f-]{36})\/history$/,
      async (_q, res, _u, [contactId]) => {
        const h = await d.history.read(contactId);
        if (!h) return sendJson(res, 404, { error: 'no history: unknown contactId, or its end is longer ago than tombstoneSeconds' });
        sendJson(res, 200, h);
      },
    ],
    [
      'GET',
      /^\/attachments\/(wi-[0-9a-f-]{36})\/([^/]+)$/,
      async (req, res, url, [contactId, rawName]) => {
        let fileName: string;
        try {
          fileName = decodeURIComponent(rawName);
        } catch {
          return sendJson(res, 400, { error: 'bad file name' });
        }
        const denied = access.attachment(req, url, contactId, fileName);
        if (denied) return deny(res, denied);
        // Only an unfinished item's attachment: after End, cancel or expiry it is 404 even before the bytes are gone.
        const it = await d.store.getItem(contactId);
        const att = it?.record.attachment;
        const stored = att && att.fileName === fileName ? await d.attachments.open(contactId) : null;
        if (!att || !stored) return sendJson(res, 404, { error: 'no such attachment' });
        if (req.method === 'HEAD') stored.stream.destroy();
        res.writeHead(200, {
          'Content-Type': att.contentType,
          'Content-Length': stored.size,
          'Content-Disposition': contentDisposition(att.fileName),
          'X-Content-SHA256': att.sha256,
          'Cache-Control': 'private, no-store',
          'X-Content-Type-Options': 'nosniff',
        });
        if (req.method === 'HEAD') return void res.end();
        // Streamed from the store (Redis chunks, the file, or the S3 GetObject body); a client that goes away ends it.
        await pipeline(stored.stream, res);
      },
    ],
  ];

  const failed = (res: http.ServerResponse, url: URL) => (err: unknown) => {
    d.log.warn('http request failed', { path: url.pathname, error: (err as Error).message });
    if (!res.headersSent) sendJson(res, 503, { error: 'temporarily unavailable' });
    else res.destroy();
  };

  const server = http.createServer(serverOptions(d.cfg.httpLimits), (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (d.dashboard && (url.pathname === '/ui' || url.pathname.startsWith('/ui/'))) {
      d.dashboard(req, res, url).catch(failed(res, url));
      return;
    }
    if (url.pathname === '/api' || url.pathname.startsWith('/api/')) {
      const denied = access.api(req);
      if (denied) return deny(res, denied);
    }
    for (const [method, re, handler] of routes) {
      const m = re.exec(url.pathname);
      if (!m) continue;
      if (req.method !== method && !(method === 'GET' && req.method === 'HEAD')) {
        return sendJson(res, 405, { error: 'method not allowed' });
      }
      handler(req, res, url, m.slice(1)).catch(failed(res, url));
      return;
    }
    sendJson(res, 404, { error: 'not found' });
  });
  server.keepAliveTimeout = d.cfg.httpLimits.keepAliveTimeoutMs;
  const budget = descriptorBudget(d.cfg.httpLimits.maxConnections, d.openFilesLimit ?? openFilesSoftLimit());
  const guard = new ConnectionGuard<net.Socket>(budget.cap, d.cfg.httpLimits.headersTimeoutMs, {
    evicted: (reason) => d.metrics.httpEvicted.inc({ reason }),
    refused: () => d.metrics.httpRefused.inc(),
  });
  guardConnections(server, guard);
  d.metrics.countHttpConnections(() => guard.size);
  d.log.info('http descriptor budget', {
    openFilesSoftLimit: budget.softLimit,
    reserve: budget.reserve,
    maxConnections: budget.cap,
    ...(budget.cap !== budget.configured && { configuredMaxConnections: budget.configured }),
    headersTimeoutMs: d.cfg.httpLimits.headersTimeoutMs,
    requestTimeoutMs: d.cfg.httpLimits.requestTimeoutMs,
    keepAliveTimeoutMs: d.cfg.httpLimits.keepAliveTimeoutMs,
  });
  return server;
}

/**
 * Node's own bounds, set explicitly. requestTimeout bounds receiving the request (headers and body), not sending the
 * response, so a long attachment download is not cut. Node checks both timeouts every connectionsCheckingInterval
 * (30 s by default): once a second keeps a slow-headers client from holding its socket much past headersTimeout.
 */
export function serverOptions(limits: HttpLimitsConfig): http.ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: 1000,
  };
}

async function refreshGauges(d: HttpDeps): Promise<void> {
  const list = await d.store.entrances(Object.keys(d.cfg.entrances));
  for (const e of list) d.metrics.parked.set({ entrance: e.name }, e.parked);
  d.metrics.unfinished.set(await d.store.countUnfinished());
  d.metrics.notificationsWaiting.set(await d.store.countNotifications());
  for (const [entrance, n] of Object.entries(await d.store.countOverdue(list.map((e) => e.name)))) {
    d.metrics.overdueNow.set({ entrance }, n);
  }
  d.metrics.setOverdueByTaskType(await d.store.countOverdueByTaskType());
}

/**
 * Binds the server. An address the deployment cannot have (the port in use or not permitted, a host that is not
 * this machine's) is a StartConfigError naming HTTP_PORT or HTTP_HOST: the service exits 2 with one line.
 */
export function listen(server: http.Server, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, port, host)));
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

export function listenError(err: NodeJS.ErrnoException, port: number, host = '0.0.0.0'): Error {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return new StartConfigError('HTTP_PORT', `HTTP_PORT: ${where} is already in use (EADDRINUSE): another process listens there`, {
        cause: err,
      });
    case 'EACCES':
      return new StartConfigError(
        'HTTP_PORT',
        `HTTP_PORT: not permitted to listen on ${where} (EACCES): ports below 1024 need privileges; use a higher port`,
        { cause: err },
      );
    case 'EADDRNOTAVAIL':
      return new StartConfigError('HTTP_HOST', `HTTP_HOST: ${host} is not an address of this machine (EADDRNOTAVAIL)`, { cause: err });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return new StartConfigError('HTTP_HOST', `HTTP_HOST: cannot resolve ${host} (${err.code})`, { cause: err });
    default:
      return err;
  }
}

/**
 * RFC 6266: a plain `filename` (ASCII, quotes and backslashes replaced) for every client, then `filename*` with the
 * exact UTF-8 name for those that read it. File names never hold control characters or path separators (validated).
 */
export function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const exact = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}
