import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../../src/config/config';

function tokenFile(text: string): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'wi-tok-')), 'tokens');
  writeFileSync(file, text);
  return file;
}

function errorOf(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('HTTP access settings', () => {
  it('defaults: bind 0.0.0.0, no tokens (loopback-only API), open metrics, no secret, 24 h links', () => {
    const cfg = loadConfig({});
    expect(cfg.httpHost).toBe('0.0.0.0');
    expect(cfg.httpAccess).toEqual({ apiTokens: [], metricsToken: null, attachmentUrlSecret: null, attachmentUrlTtlSeconds: 86_400 });
  });

  it('reads API_TOKENS and API_TOKENS_FILE together (blank lines and # comments ignored)', () => {
    const file = tokenFile('# ops team\n\nfile-token-aaaaaaaaaaaa\n   \n  file-token-bbbbbbbbbbbb  \r\n# old: revoked\n');
    const cfg = loadConfig({
      HTTP_HOST: '127.0.0.1',
      API_TOKENS: ' env-token-aaaaaaaaaaaaa, env-token-bbbbbbbbbbbbb ,',
      API_TOKENS_FILE: file,
      METRICS_TOKEN: 'metrics-token-cccccccccc',
      ATTACHMENT_URL_SECRET: 'x'.repeat(32),
      ATTACHMENT_URL_TTL_SECONDS: '600',
    });
    expect(cfg.httpHost).toBe('127.0.0.1');
    expect(cfg.httpAccess).toEqual({
      apiTokens: ['env-token-aaaaaaaaaaaaa', 'env-token-bbbbbbbbbbbbb', 'file-token-aaaaaaaaaaaa', 'file-token-bbbbbbbbbbbb'],
      metricsToken: 'metrics-token-cccccccccc',
      attachmentUrlSecret: 'x'.repeat(32),
      attachmentUrlTtlSeconds: 600,
    });
  });

  it.each([
    [{ ATTACHMENT_URL_SECRET: 'too-short-secret-31-characters!' }, /ATTACHMENT_URL_SECRET: must be at least 32 characters/],
    [{ ATTACHMENT_URL_TTL_SECONDS: '0' }, /ATTACHMENT_URL_TTL_SECONDS/],
    [{ ATTACHMENT_URL_TTL_SECONDS: '1.5' }, /ATTACHMENT_URL_TTL_SECONDS/],
    [{ API_TOKENS: 'short' }, /API_TOKENS: each token must be 16/],
    [{ API_TOKENS: 'has space in the middle 0123' }, /API_TOKENS/],
    [{ METRICS_TOKEN: 'short' }, /METRICS_TOKEN/],
    [{ HTTP_HOST: 'a host' }, /HTTP_HOST/],
    [{ API_TOKENS_FILE: '/nonexistent/tokens' }, /API_TOKENS_FILE: cannot read \/nonexistent\/tokens: ENOENT/],
  ])('rejects %j naming the setting', (env, re) => {
    expect(errorOf(env as NodeJS.ProcessEnv)).toMatch(re);
  });

  it('rejects a token file with a bad line or without any token, never echoing a token', () => {
    const bad = tokenFile('good-token-aaaaaaaaaaaa\nsecret but bad\n');
    const msg = errorOf({ API_TOKENS_FILE: bad });
    expect(msg).toMatch(/line 2/);
    expect(msg).not.toContain('good-token');
    expect(msg).not.toContain('secret but bad');
    expect(errorOf({ API_TOKENS_FILE: tokenFile('# nothing yet\n\n') })).toMatch(/holds no token/);
  });

  it('never puts a secret value into an error message', () => {
    const secret = 'short-secret-value';
    const token = 'bad token value';
    const msg = errorOf({ ATTACHMENT_URL_SECRET: secret, API_TOKENS: token, METRICS_TOKEN: 'x' });
    expect(msg).not.toContain(secret);
    expect(msg).not.toContain(token);
  });
});
