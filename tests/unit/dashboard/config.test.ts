import { ConfigError, loadConfig } from '../../../src/config/config';

describe('DASHBOARD_* settings', () => {
  it('is off by default, read-only without credentials', () => {
    expect(loadConfig({}).dashboard).toEqual({ enabled: false, credentials: null, sessionTtlMs: 480 * 60_000, refreshMs: 5000 });
    expect(loadConfig({ DASHBOARD_ENABLED: 'true' }).dashboard).toMatchObject({ enabled: true, credentials: null });
  });

  it('takes credentials, session lifetime and refresh interval', () => {
    const d = loadConfig({
      DASHBOARD_ENABLED: '1',
      DASHBOARD_USER: 'ops',
      DASHBOARD_PASSWORD: 'a long passphrase',
      DASHBOARD_SESSION_MINUTES: '30',
      DASHBOARD_REFRESH_SECONDS: '0.5',
    }).dashboard;
    expect(d).toEqual({
      enabled: true,
      credentials: { user: 'ops', password: 'a long passphrase' },
      sessionTtlMs: 1_800_000,
      refreshMs: 500,
    });
  });

  it.each([
    [{ DASHBOARD_USER: 'ops' }, /DASHBOARD_USER and DASHBOARD_PASSWORD must be set together/],
    [{ DASHBOARD_PASSWORD: 'a long passphrase' }, /must be set together/],
    [{ DASHBOARD_USER: 'ops', DASHBOARD_PASSWORD: 'short' }, /DASHBOARD_PASSWORD: must be at least 8 characters/],
    [{ DASHBOARD_USER: 'o:ps', DASHBOARD_PASSWORD: 'a long passphrase' }, /DASHBOARD_USER/],
    [{ DASHBOARD_ENABLED: 'maybe' }, /DASHBOARD_ENABLED/],
    [{ DASHBOARD_REFRESH_SECONDS: '0' }, /DASHBOARD_REFRESH_SECONDS/],
  ])('rejects %j with a message naming the setting', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
