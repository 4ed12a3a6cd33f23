import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/config';
import { tlsOptions } from '../../../src/adapters/tls-options';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function pemFile(name: string, content = PEM): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'wi-tls-')), name);
  writeFileSync(file, content);
  return file;
}

describe('TLS settings', () => {
  it('reads the PEM files at start; none set: no TLS files', () => {
    expect(loadConfig({})).toMatchObject({ amqpTls: {}, redisTls: {} });
    const ca = pemFile('ca.pem');
    const cert = pemFile('cert.pem');
    const key = pemFile('key.pem', '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n');
    const cfg = loadConfig({
      AMQP_URL: 'amqps://a:5671,amqps://b:5671',
      AMQP_TLS_CA_FILE: ca,
      REDIS_URL: 'rediss://r:6380',
      REDIS_TLS_CA_FILE: ca,
      REDIS_TLS_CERT_FILE: cert,
      REDIS_TLS_KEY_FILE: key,
    });
    expect(cfg.amqpTls.ca?.toString()).toBe(PEM);
    expect(cfg.amqpTls.cert).toBeUndefined();
    expect(cfg.redisTls.key?.toString()).toContain('PRIVATE KEY');
  });

  it.each([
    [{ AMQP_URL: 'amqps://a', AMQP_TLS_CA_FILE: '/no/such.pem' }, /^AMQP_TLS_CA_FILE: cannot read \/no\/such\.pem: ENOENT$/],
    [{ AMQP_URL: 'amqps://a', AMQP_TLS_CERT_FILE: 'CERT' }, /AMQP_TLS_CERT_FILE and AMQP_TLS_KEY_FILE must be set together/],
    [{ REDIS_URL: 'rediss://r', REDIS_TLS_KEY_FILE: 'KEY' }, /REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE must be set together/],
    [{ REDIS_URL: 'rediss://r', REDIS_TLS_CA_FILE: 'NOTPEM' }, /REDIS_TLS_CA_FILE: .* is not a PEM file/],
    [{ AMQP_TLS_CA_FILE: 'CA' }, /AMQP_TLS_\*_FILE set but AMQP_URL \(amqps:\/\/\) does not use TLS/],
    [{ AMQP_URL: 'amqps://a,amqp://b', AMQP_TLS_CA_FILE: 'CA' }, /AMQP_URL \(amqps:\/\/\) does not use TLS/],
    [{ REDIS_TLS_CA_FILE: 'CA' }, /REDIS_URL \(rediss:\/\/\) does not use TLS/],
  ])('%j is a config error naming the variable', (env, message) => {
    const files: Record<string, string> = {
      CA: pemFile('ca.pem'),
      CERT: pemFile('cert.pem'),
      KEY: pemFile('key.pem'),
      NOTPEM: pemFile('x.txt', 'hello'),
    };
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, files[v] ?? v]));
    expect(() => loadConfig(resolved)).toThrow(message);
  });

  it('verification is always on, even when the environment says otherwise', () => {
    expect(tlsOptions({})).toEqual({ rejectUnauthorized: true });
    const ca = Buffer.from(PEM);
    expect(tlsOptions({ ca })).toEqual({ ca, rejectUnauthorized: true });
  });
});
