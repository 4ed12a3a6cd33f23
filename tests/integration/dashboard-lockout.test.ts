import { httpRequest } from '../helpers/http';
import { DASHBOARD_PASSWORD, DASHBOARD_USER, DashboardFixture, dashboardEnv } from '../ui/support/dashboard-fixture';

/**
 * Issue 22 part 7, against the real service: guesses from the operator's own address cannot lock out the browser
 * that signed in before, and guesses spread over many addresses (127.0.0.x on loopback) are limited together.
 */
describe('dashboard sign-in limits (real service)', () => {
  const f = new DashboardFixture({ env: dashboardEnv() });
  beforeAll(() => f.setup(), 60_000);
  afterAll(() => f.teardown());

  const signIn = (password: string, from = '127.0.0.1', cookie?: string) =>
    httpRequest(`${f.svc.baseUrl}/ui/login`, {
      method: 'POST',
      localAddress: from,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
      body: `user=${DASHBOARD_USER}&password=${encodeURIComponent(password)}`,
    });

  it('locks the guesser, not the operator; limits guesses across 30 addresses', async () => {
    const ok = await signIn(DASHBOARD_PASSWORD);
    expect(ok.status).toBe(303);
    const device = (ok.headers['set-cookie'] ?? []).find((c) => c.startsWith('wi_dashboard_device='))?.split(';')[0];
    expect(device).toBeDefined();

    // Ten wrong guesses from the operator's address: that address (without the cookie) is refused, the browser is not.
    for (let i = 0; i < 10; i++) expect((await signIn(`guess-${i}`)).status).toBe(401);
    const refused = await signIn(DASHBOARD_PASSWORD);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((await signIn(DASHBOARD_PASSWORD, '127.0.0.1', device)).status).toBe(303);

    // One guess each from 30 other addresses: past the per-user budget they are refused together.
    const statuses: number[] = [];
    for (let i = 2; i < 32; i++) statuses.push((await signIn(`spread-${i}`, `127.0.0.${i}`)).status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(20);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(10);
    // The operator's browser still gets in.
    expect((await signIn(DASHBOARD_PASSWORD, '127.0.0.1', device)).status).toBe(303);
  });
});
