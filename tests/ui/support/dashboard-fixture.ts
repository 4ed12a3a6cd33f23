import { DEFAULT_TOPOLOGY, TestClient } from '../../helpers/amqp-client';
import { amqpUrl, createVhost } from '../../helpers/broker';
import { Fixture } from '../../helpers/fixture';
import { httpRequest, type HttpRequestOptions, type HttpResponse } from '../../helpers/http';
import { randomPrefix } from '../../helpers/redis';

export const DASHBOARD_USER = 'operator';
export const DASHBOARD_PASSWORD = 'correct-horse-battery-staple';

/** Service env for a dashboard with credentials that refreshes quickly (tests wait on it). */
export function dashboardEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    DASHBOARD_ENABLED: 'true',
    DASHBOARD_USER,
    DASHBOARD_PASSWORD,
    DASHBOARD_REFRESH_SECONDS: '0.5',
    ...extra,
  };
}

/**
 * The usual Fixture (own vhost, Redis prefix, test client, service), except that the test client leaves the error
 * queue alone: the dashboard is what browses and replays it.
 */
export class DashboardFixture extends Fixture {
  override async setup(): Promise<this> {
    this.vhost = await createVhost();
    this.prefix = randomPrefix();
    this.client = await TestClient.connect(amqpUrl(this.vhost));
    await this.client.bindEvents('#');
    await this.client.bindReceiptsExchange('#');
    await this.client.replyQueue();
    this.svc = await this.start();
    return this;
  }

  /** Messages waiting in the error queue. */
  async errorQueueDepth(): Promise<number> {
    return (await this.client.checkQueue(DEFAULT_TOPOLOGY.errorQueue))?.messageCount ?? 0;
  }
}

/** A signed-in HTTP session against /ui: cookie + CSRF token, as a browser would hold them. */
export class DashboardSession {
  private constructor(
    readonly baseUrl: string,
    readonly cookie: string,
    readonly csrf: string,
  ) {}

  static async login(baseUrl: string, user = DASHBOARD_USER, password = DASHBOARD_PASSWORD): Promise<DashboardSession> {
    const r = await httpRequest(`${baseUrl}/ui/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: baseUrl },
      body: new URLSearchParams({ user, password }).toString(),
    });
    if (r.status !== 303) throw new Error(`login: HTTP ${r.status} ${r.text().slice(0, 200)}`);
    const cookie = String(r.headers['set-cookie']?.[0] ?? '').split(';')[0];
    const page = await httpRequest(`${baseUrl}/ui`, { headers: { cookie } });
    const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page.text())?.[1];
    if (!csrf) throw new Error('no CSRF token in the page');
    return new DashboardSession(baseUrl, cookie, csrf);
  }

  get(path: string, o: HttpRequestOptions = {}): Promise<HttpResponse> {
    return httpRequest(`${this.baseUrl}${path}`, { ...o, headers: { cookie: this.cookie, ...o.headers } });
  }

  async json<T>(path: string): Promise<T> {
    const r = await this.get(path);
    if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status} ${r.text().slice(0, 300)}`);
    return r.json<T>();
  }

  post(path: string, body: object = {}, headers: Record<string, string> = {}): Promise<HttpResponse> {
    return this.get(path, { method: 'POST', body, headers: { 'x-csrf-token': this.csrf, origin: this.baseUrl, ...headers } });
  }
}
