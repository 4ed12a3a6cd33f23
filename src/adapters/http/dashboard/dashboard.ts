import type http from 'node:http';
import { parseStateWord, wireState } from '../../../domain/receipt';
import { TransientError } from '../../../ports/messaging';
import { listItems } from '../../../application/list-items';
import { withTimeout } from '../../timing';
import { sendJson } from '../json-response';
import { DashboardAccess, DEVICE_COOKIE, parseCookies, type Principal } from './access';
import { loadAsset } from './assets';
import type { DashboardDeps } from './deps';
import { buildOverview, entranceViews, type Overview } from './overview';
import {
  describeCode,
  entrancesPage,
  errorsPage,
  finishedItemPage,
  itemPage,
  itemsPage,
  loginPage,
  notFoundPage,
  overviewPage,
  type ErrorGroup,
} from './pages';
import { ReplayJobs } from './replay-jobs';
import { itemDetail, itemSummary } from './views';

/**
 * The operator dashboard at /ui: server-rendered pages, one script, and the JSON API behind them (/ui/api/…).
 * Mounted by the HTTP server only when DASHBOARD_ENABLED=true.
 */
export interface Dashboard {
  handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void>;
  /** Service shutdown: a running replay finishes its in-flight messages; the rest stay in the error queue. */
  stop(timeoutMs: number): Promise<void>;
}

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  // Not no-referrer: with it, browsers send `Origin: null` on same-origin form posts, which the Origin check refuses.
  'Referrer-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Every dashboard answer is no-store: it shows live state. */
const NO_STORE = { 'Cache-Control': 'no-store' };
const MAX_BODY_BYTES = 16 * 1024;
const ITEMS_PAGE = 25;
const MAX_ITEMS_PAGE = 200;
/** The errors page groups the first this-many messages of the queue. */
const ERRORS_BROWSE_MAX = 500;
const ERRORS_PER_GROUP = 50;
/** Several open dashboards polling share one overview computation per this interval. */
const OVERVIEW_CACHE_MS = 1000;
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
const MESSAGE_ID = /^[0-9a-f]{20}$/;
const CONTACT_ID = '(wi-[0-9a-f-]{36})';
/** Paths that exist (for 405 rather than 404 on a wrong method). */
const KNOWN_PATHS = [
  /^\/ui$/,
  /^\/ui\/(entrances|items|errors)$/,
  /^\/ui\/items\/[^/]+$/,
  /^\/ui\/api\/(overview|entrances|items|errors|replays|errors\/replay)$/,
  /^\/ui\/api\/(items|replays)\/[^/]+$/,
  /^\/ui\/api\/items\/[^/]+\/history$/,
  /^\/ui\/api\/entrances\/[^/]+\/(open|close)$/,
  /^\/ui\/api\/items\/wi-[0-9a-f-]{36}\/(hold|resume|cancel)$/,
];

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(
  res: http.ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    ...NO_STORE,
    ...headers,
  });
  res.end(body);
}

function sendHtml(res: http.ServerResponse, status: number, page: string, headers: Record<string, string> = {}): void {
  send(res, status, 'text/html; charset=utf-8', page, headers);
}

function redirect(res: http.ServerResponse, location: string, headers: Record<string, string> = {}): void {
  res.writeHead(303, { Location: location, 'Cache-Control': 'no-store', 'Content-Length': 0, ...headers });
  res.end();
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, 'request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'send application/json');
  const text = await readBody(req);
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'body must be a JSON object');
  return body as Record<string, unknown>;
}

async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'send a form');
  return new URLSearchParams(await readBody(req));
}

/** Where to go after signing in: only a path of the dashboard itself. */
function safeNext(next: string | null | undefined): string {
  return next && /^\/ui(?:[/?][\w\-./?=&%+~]*)?$/.test(next) && !next.includes('//') && !next.includes('..') ? next : '/ui';
}

function isApi(url: URL): boolean {
  return url.pathname.startsWith('/ui/api/');
}

export function createDashboard(d: DashboardDeps): Dashboard {
  const access = new DashboardAccess(d.cfg.dashboard, d.cfg.publicBaseUrl, d.now);
  const jobs = new ReplayJobs(d.errorQueue, d.log, d.now);
  const entranceNames = Object.keys(d.cfg.entrances);
  let overviewCache: { at: number; value: Promise<Overview> } | null = null;

  const secureCookie = (req: http.IncomingMessage) =>
    d.cfg.publicBaseUrl.startsWith('https:') || req.headers['x-forwarded-proto'] === 'https' || 'encrypted' in req.socket;

  async function entrances() {
    return entranceViews(await d.store.entrances(entranceNames), d.cfg.entrances);
  }

  async function computeOverview(): Promise<Overview> {
    const now = d.now();
    const hourRowsSinceMs = now - 24 * 3_600_000;
    const [minuteRows, hourRows, unfinished, oldest, ents, errorQueue, overdueByTaskType] = await Promise.all([
      d.store.minuteStats(now - 60 * 60_000, now),
      d.store.stats(hourRowsSinceMs, now),
      d.store.countUnfinished(),
      d.store.pageUnfinished(0, 1),
      entrances(),
      withTimeout(d.errorQueue.count(), 2000, 'error queue count').catch(() => null),
      d.store.countOverdueByTaskType(),
    ]);
    return buildOverview({
      nowMs: now,
      refreshMs: d.cfg.dashboard.refreshMs,
      minuteRows,
      hourRows,
      unfinished,
      oldestReceivedAt: oldest[0]?.record.receivedAt ?? null,
      entrances: ents,
      errorQueue,
      hourRowsSinceMs,
      overdueByTaskType,
    });
  }

  function overview(): Promise<Overview> {
    const now = d.now();
    if (!overviewCache || now - overviewCache.at >= Math.min(OVERVIEW_CACHE_MS, d.cfg.dashboard.refreshMs)) {
      const value = computeOverview();
      overviewCache = { at: now, value };
      value.catch(() => (overviewCache = null));
    }
    return overviewCache.value;
  }

  function history(contactId: string) {
    return d.history ? d.history.read(contactId) : Promise.resolve(null);
  }

  async function taskTypes(): Promise<string[]> {
    const now = d.now();
    const rows = await d.store.stats(now - 7 * 24 * 3_600_000, now);
    return [...new Set(rows.map((r) => r.taskType).filter(Boolean))].sort();
  }

  function itemQuery(url: URL, defaultLimit: number) {
    const word = url.searchParams.get('state') ?? '';
    const stateFilter = word === '' ? undefined : parseStateWord(word);
    if (word !== '' && stateFilter === undefined) throw new HttpError(400, 'state must be routed, buffered, scheduled or held');
    // The filter form and its links keep the API's word.
    const state = stateFilter === undefined ? '' : wireState(stateFilter);
    const limit = Math.min(MAX_ITEMS_PAGE, Math.max(1, Number(url.searchParams.get('limit') ?? defaultLimit) || defaultLimit));
    const cursor = Math.max(0, Math.floor(Number(url.searchParams.get('cursor') ?? 0)) || 0);
    return {
      entrance: url.searchParams.get('entrance') ?? '',
      taskType: url.searchParams.get('taskType') ?? '',
      state,
      stateFilter,
      cursor,
      limit,
    };
  }

  async function items(q: ReturnType<typeof itemQuery>) {
    const [page, total] = await Promise.all([
      listItems(d.store, {
        entrance: q.entrance || undefined,
        taskType: q.taskType || undefined,
        state: q.stateFilter,
        cursor: q.cursor,
        limit: q.limit,
      }),
      d.store.countUnfinished(),
    ]);
    return { items: page.items.map(itemSummary), nextCursor: page.nextCursor, total };
  }

  async function errors() {
    const { total, examined, messages } = await d.errorQueue.browse(ERRORS_BROWSE_MAX);
    const groups = new Map<string, ErrorGroup>();
    for (const m of messages) {
      let g = groups.get(m.code);
      if (!g) groups.set(m.code, (g = { code: m.code, description: describeCode(m.code), count: 0, replayable: 0, messages: [] }));
      g.count++;
      if (m.replayable) g.replayable++;
      if (g.messages.length < ERRORS_PER_GROUP) g.messages.push(m);
    }
    return {
      queue: d.cfg.topology.errorQueue,
      total,
      examined,
      groups: [...groups.values()].sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)),
    };
  }

  async function changeEntrance(res: http.ServerResponse, principal: Principal, name: string, verb: 'open' | 'close'): Promise<void> {
    if (!Object.prototype.hasOwnProperty.call(d.cfg.entrances, name)) throw new HttpError(404, `unknown entrance "${name}"`);
    const routingKey = verb === 'open' ? 'entrance.opened' : 'entrance.closed';
    const by = `dashboard:${principal.user}`;
    let outcome: 'confirmed' | 'returned';
    try {
      outcome = await d.publishControl(routingKey, { entrance: name, by });
    } catch (err) {
      if (err instanceof TransientError) throw new HttpError(503, `the broker did not confirm ${routingKey}: ${err.message}`);
      throw err;
    }
    if (outcome === 'returned') {
      throw new HttpError(
        502,
        `${routingKey} was not delivered: no queue is bound to the control exchange (${d.cfg.topology.controlExchange})`,
      );
    }
    d.log.info('entrance change published from the dashboard', { event: routingKey, entrance: name, by });
    sendJson(res, 202, { published: routingKey, entrance: name, by }, NO_STORE);
  }

  /**
   * An operator's hold, resume or cancel of one item (contract 1.2): the same atomic steps as a sender's messages, the
   * history naming the signed-in user. 200 with where the item is now; 400/404/409 why not; 503 when the broker did not
   * confirm its event (a hold or resume can be sent again; the store keeps what is left to publish).
   */
  async function itemAction(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    principal: Principal,
    contactId: string,
    verb: 'hold' | 'resume' | 'cancel',
  ): Promise<void> {
    const actions = d.itemActions;
    if (!actions) throw new HttpError(404, 'item actions are not available');
    const body = await readJson(req);
    const user = principal.user ?? '';
    const text = (name: string): string | undefined => {
      const v = body[name];
      if (v === undefined || v === null || v === '') return undefined;
      if (typeof v !== 'string' || v.length > 1024) throw new HttpError(400, `${name} must be a string`);
      return v;
    };
    let result;
    try {
      if (verb === 'hold') result = await actions.hold(contactId, user, { until: text('until'), reason: text('reason') });
      else if (verb === 'resume') result = await actions.resume(contactId, user);
      else result = await actions.cancel(contactId, user);
    } catch (err) {
      if (err instanceof TransientError) throw new HttpError(503, `not confirmed by the broker: ${err.message}`);
      throw err;
    }
    if (!result.ok) throw new HttpError(result.status, result.error);
    d.log.info('item action from the dashboard', { action: verb, contactId, by: `dashboard:${user}`, state: result.state });
    sendJson(res, 200, { ...result, by: `dashboard:${user}` }, NO_STORE);
  }

  async function startReplay(req: http.IncomingMessage, res: http.ServerResponse, principal: Principal): Promise<void> {
    const body = await readJson(req);
    const code = body.code === undefined || body.code === null ? undefined : body.code;
    const messageId = body.messageId === undefined || body.messageId === null ? undefined : body.messageId;
    if (code !== undefined && (typeof code !== 'string' || !ERROR_CODE.test(code)))
      throw new HttpError(400, 'code must be an error code such as UNKNOWN_ENTRANCE');
    if (messageId !== undefined && (typeof messageId !== 'string' || !MESSAGE_ID.test(messageId)))
      throw new HttpError(400, 'messageId must be a message id from /ui/api/errors');
    if (code === undefined && messageId === undefined)
      throw new HttpError(400, 'name a code (replay all of it) or a messageId (replay one)');
    const job = jobs.start({ code, messageId }, `dashboard:${principal.user}`);
    if (!job) throw new HttpError(409, 'a replay is already running; wait for it to finish');
    sendJson(res, 202, { job }, NO_STORE);
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse, url: URL, principal: Principal): Promise<void> {
    const p = url.pathname;
    const method = req.method ?? 'GET';
    let m: RegExpExecArray | null;
    if (method === 'GET') {
      if (p === '/ui') return sendHtml(res, 200, overviewPage(await overview(), principal));
      if (p === '/ui/entrances') return sendHtml(res, 200, entrancesPage(await entrances(), principal, d.cfg.dashboard.refreshMs));
      if (p === '/ui/items') {
        const q = itemQuery(url, ITEMS_PAGE);
        const [page, types] = await Promise.all([items(q), taskTypes()]);
        const ents = entranceNames.map((name) => ({ name, displayName: d.cfg.entrances[name].displayName }));
        return sendHtml(res, 200, itemsPage({ ...page, cursor: q.cursor, filter: q, entrances: ents, taskTypes: types }, principal));
      }
      if ((m = new RegExp(`^/ui/items/${CONTACT_ID}$`).exec(p))) {
        const [it, hist] = await Promise.all([d.store.getItem(m[1]), history(m[1])]);
        if (!it && hist) return sendHtml(res, 200, finishedItemPage(hist, principal));
        if (!it)
          return sendHtml(res, 404, notFoundPage(principal, 'This item is not unfinished (ended, cancelled, expired, or never received).'));
        return sendHtml(res, 200, itemPage(itemDetail(it, d.attachmentLink), principal, hist));
      }
      if (p === '/ui/errors') {
        let e;
        let unavailable: string | null = null;
        try {
          e = await errors();
        } catch (err) {
          d.log.warn('dashboard could not browse the error queue', { error: (err as Error).message });
          unavailable = `The error queue cannot be read right now: ${(err as Error).message}`;
          e = { queue: d.cfg.topology.errorQueue, total: 0, examined: 0, groups: [] };
        }
        return sendHtml(res, 200, errorsPage({ ...e, jobs: jobs.list(), unavailable }, principal));
      }
      if (p === '/ui/api/overview') return sendJson(res, 200, await overview(), NO_STORE);
      if (p === '/ui/api/entrances') return sendJson(res, 200, { entrances: await entrances() }, NO_STORE);
      if (p === '/ui/api/items') return sendJson(res, 200, await items(itemQuery(url, ITEMS_PAGE)), NO_STORE);
      if ((m = new RegExp(`^/ui/api/items/${CONTACT_ID}$`).exec(p))) {
        const it = await d.store.getItem(m[1]);
        return it
          ? sendJson(res, 200, itemDetail(it, d.attachmentLink), NO_STORE)
          : sendJson(res, 404, { error: 'not an unfinished item' }, NO_STORE);
      }
      if ((m = new RegExp(`^/ui/api/items/${CONTACT_ID}/history$`).exec(p))) {
        const hist = await history(m[1]);
        return hist ? sendJson(res, 200, hist, NO_STORE) : sendJson(res, 404, { error: 'no history for this contactId' }, NO_STORE);
      }
      if (p === '/ui/api/errors') return sendJson(res, 200, await errors(), NO_STORE);
      if (p === '/ui/api/replays') return sendJson(res, 200, { replays: jobs.list() }, NO_STORE);
      if ((m = /^\/ui\/api\/replays\/([0-9a-f-]{36})$/.exec(p))) {
        const job = jobs.get(m[1]);
        return job
          ? sendJson(res, 200, job, NO_STORE)
          : sendJson(res, 404, { error: 'unknown replay (finished long ago, or run by another instance)' }, NO_STORE);
      }
    }
    if (method === 'POST') {
      const entranceAction = /^\/ui\/api\/entrances\/([^/]{1,200})\/(open|close)$/.exec(p);
      const action = new RegExp(`^/ui/api/items/${CONTACT_ID}/(hold|resume|cancel)$`).exec(p);
      if (entranceAction || action || p === '/ui/api/errors/replay') {
        const problem = access.checkAction(req, principal);
        if (problem) throw new HttpError(403, problem);
        if (action) return itemAction(req, res, principal, action[1], action[2] as 'hold' | 'resume' | 'cancel');
        if (entranceAction) {
          let name: string;
          try {
            name = decodeURIComponent(entranceAction[1]);
          } catch {
            throw new HttpError(400, 'bad entrance name');
          }
          await readJson(req);
          return changeEntrance(res, principal, name, entranceAction[2] as 'open' | 'close');
        }
        return startReplay(req, res, principal);
      }
    }
    throw KNOWN_PATHS.some((re) => re.test(p)) ? new HttpError(405, 'method not allowed') : new HttpError(404, 'not found');
  }

  async function login(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    if (access.readOnly) return redirect(res, '/ui');
    if (req.method === 'GET') return sendHtml(res, 200, loginPage({ next: safeNext(url.searchParams.get('next')) }));
    if (req.method !== 'POST') throw new HttpError(405, 'method not allowed');
    const origin = access.checkOrigin(req);
    if (origin) throw new HttpError(403, origin);
    const form = await readForm(req);
    const next = safeNext(form.get('next'));
    const address = req.socket.remoteAddress ?? '';
    const user = form.get('user') ?? '';
    const device = parseCookies(req.headers.cookie)[DEVICE_COOKIE];
    const wait = access.loginBlockedFor(address, user, device);
    if (wait > 0) {
      const after = wait < 60 ? `${wait} s` : `${Math.ceil(wait / 60)} min`;
      return sendHtml(res, 429, loginPage({ next, error: `Too many failed sign-ins. Try again in ${after}.` }), {
        'Retry-After': String(wait),
      });
    }
    const session = access.login(address, user, form.get('password') ?? '', device);
    if (!session) {
      d.log.warn('dashboard sign-in failed', { address });
      return sendHtml(res, 401, loginPage({ next, error: 'Wrong user or password.' }));
    }
    d.log.info('dashboard sign-in', { user: d.cfg.dashboard.credentials?.user, address });
    const secure = secureCookie(req);
    res.setHeader('Set-Cookie', [access.sessionCookie(session, secure), access.deviceCookie(user, secure)]);
    redirect(res, next);
  }

  async function logout(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'POST') throw new HttpError(405, 'method not allowed');
    const decision = access.check(req);
    if (decision.ok) {
      const form = await readForm(req);
      const problem = access.checkAction(req, decision.principal, form.get('csrf') ?? undefined);
      if (problem) throw new HttpError(403, problem);
      access.logout(req);
    }
    redirect(res, '/ui/login', { 'Set-Cookie': access.clearCookie(secureCookie(req)) });
  }

  function asset(req: http.IncomingMessage, res: http.ServerResponse, name: string): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed');
    const a = loadAsset(name);
    if (!a) throw new HttpError(404, 'no such asset');
    const headers = { ETag: a.etag, 'Cache-Control': 'public, max-age=3600' };
    if (req.headers['if-none-match'] === a.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': a.contentType, 'Content-Length': a.body.length });
    res.end(req.method === 'HEAD' ? undefined : a.body);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    try {
      const p = url.pathname;
      if (p === '/ui/') return redirect(res, '/ui');
      const staticFile = /^\/ui\/static\/([\w.-]+)$/.exec(p);
      if (staticFile) return asset(req, res, staticFile[1]);
      if (p === '/ui/login') return await login(req, res, url);
      if (p === '/ui/logout') return await logout(req, res);
      const decision = access.check(req);
      if (!decision.ok) {
        if (decision.login && !isApi(url) && req.method === 'GET')
          return redirect(res, `/ui/login?next=${encodeURIComponent(safeNext(p + url.search))}`);
        throw new HttpError(decision.status, decision.reason);
      }
      await route(req, res, url, decision.principal);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      if (res.headersSent) return void res.destroy();
      if (isApi(url) || req.method !== 'GET') sendJson(res, err.status, { error: err.message }, NO_STORE);
      else send(res, err.status, 'text/plain; charset=utf-8', `${err.status} ${err.message}\n`);
    }
  }

  return { handle, stop: (timeoutMs) => jobs.stop(timeoutMs) };
}
