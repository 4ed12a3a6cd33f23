import { listenError } from '../../../src/adapters/http/http-server';
import { StartConfigError } from '../../../src/adapters/connect-errors';
import { ConfigError, loadConfig } from '../../../src/config/config';
import { describeJsonError, jsonErrorOffset } from '../../../src/config/json-location';

/** Issue 23 part B: a wrong setting is named (the log line's `code`), a JSON error has its line and column. */
describe('start-up errors name the setting', () => {
  it.each([
    ['redis://127.0.0.1:6379', true],
    ['redis://127.0.0.1:6379/', true],
    ['redis://:pw@127.0.0.1:6379/3', true],
    ['rediss://user:pw@redis.example:6380/15', true],
    ['redis://:secret@127.0.0.1:6379/abc', false],
    ['redis://:secret@127.0.0.1:6379/1/2', false],
    ['redis://:secret@127.0.0.1:6379/-1', false],
    ['redis://:secret@127.0.0.1:port', false],
  ])('REDIS_URL %s accepted: %s (never echoed)', (url, ok) => {
    if (ok) return expect(loadConfig({ REDIS_URL: url }).redisUrl).toBe(url);
    let err: unknown;
    try {
      loadConfig({ REDIS_URL: url });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).setting).toBe('REDIS_URL');
    expect((err as Error).message).toMatch(/^invalid environment: REDIS_URL: /);
    expect((err as Error).message).not.toContain('secret');
  });

  it.each([
    ['invalid environment: HTTP_PORT: Invalid input', 'HTTP_PORT'],
    ['AMQP_TLS_CA_FILE: cannot read /x: ENOENT', 'AMQP_TLS_CA_FILE'],
    ['invalid config in /etc/workitem.json: entrances: too small', 'WORKITEM_CONFIG'],
    ['WORKITEM_CONFIG: /x.json:1:2: not valid JSON: Unexpected end of JSON input', 'WORKITEM_CONFIG'],
  ])('ConfigError(%j).setting = %s', (message, setting) => {
    expect(new ConfigError(message).setting).toBe(setting);
  });

  it.each([
    ['EADDRINUSE', 8080, '0.0.0.0', 'HTTP_PORT', 'HTTP_PORT: 0.0.0.0:8080 is already in use (EADDRINUSE): another process listens there'],
    [
      'EACCES',
      80,
      '0.0.0.0',
      'HTTP_PORT',
      'HTTP_PORT: not permitted to listen on 0.0.0.0:80 (EACCES): ports below 1024 need privileges; use a higher port',
    ],
    ['EADDRNOTAVAIL', 8080, '192.0.2.1', 'HTTP_HOST', 'HTTP_HOST: 192.0.2.1 is not an address of this machine (EADDRNOTAVAIL)'],
    ['ENOTFOUND', 8080, 'no-such-host.invalid', 'HTTP_HOST', 'HTTP_HOST: cannot resolve no-such-host.invalid (ENOTFOUND)'],
  ])('listen error %s on %s:%s names %s', (code, port, host, setting, message) => {
    const err = listenError(Object.assign(new Error(code), { code }), port, host);
    expect(err).toBeInstanceOf(StartConfigError);
    expect(err).toMatchObject({ setting, message });
  });

  it('another listen error stays what it was (exit 1 with its stack)', () => {
    const e = Object.assign(new Error('boom'), { code: 'EMFILE' });
    expect(listenError(e, 8080)).toBe(e);
  });
});

describe('JSON errors as line:column', () => {
  it.each([
    ['{\n  "a": 1\n  "b": 2\n}', 3, 3],
    ['{\n  "a": tru}', 2, 11],
    ['{\n  "a": {\n', 3, 1],
    ['[1,]', 1, 4],
    ['{"a":1} x', 1, 9],
    ['{"a":"\\x"}', 1, 8],
    ['\ufeff{"a": nul}', 1, 11],
  ])('%j → line %i, column %i', (text, line, column) => {
    let err: Error | undefined;
    try {
      JSON.parse(text);
    } catch (e) {
      err = e as Error;
    }
    expect(describeJsonError(text, err!)).toMatchObject({ line, column });
    expect(describeJsonError(text, err!).reason).not.toMatch(/position|is not valid JSON/);
  });

  it('valid JSON has no error offset', () => {
    expect(jsonErrorOffset('{"a": [1, -2.5e3, true, false, null, "x\\u00e9"], "b": {}}')).toBe(-1);
  });
});
