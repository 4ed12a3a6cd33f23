import { classifyAmqpConnectError, classifyRedisConnectError, PermanentConnectError } from '../../../src/adapters/connect-errors';
import { redactUrl } from '../../../src/adapters/redact-url';

function sysError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('redactUrl', () => {
  it.each([
    ['amqp://guest:secret@host:5672/vh', 'amqp://guest:***@host:5672/vh'],
    ['amqps://u:p%40ss@host', 'amqps://u:***@host'],
    ['redis://:secret@127.0.0.1:6379/2', 'redis://:***@127.0.0.1:6379/2'],
    ['rediss://default:a@b@host:6380', 'rediss://default:***@host:6380'],
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
    ['amqp://host/vh?x=a@b', 'amqp://host/vh?x=a@b'],
  ])('%s → %s', (url, redacted) => expect(redactUrl(url)).toBe(redacted));
});

describe('classifyAmqpConnectError', () => {
  const url = 'amqp://guest:pw@127.0.0.1:5672/orders';
  it('a refused login and a vhost the broker will not open are permanent', () => {
    const login = classifyAmqpConnectError(
      new Error(
        'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN."',
      ),
      url,
    );
    expect(login).toMatchObject({ permanent: true, code: 'ACCESS_REFUSED' });
    const vhost = classifyAmqpConnectError(new Error('Expected ConnectionOpenOk; got <ConnectionClose channel:0>'), url);
    expect(vhost).toMatchObject({ permanent: true, code: 'NOT_ALLOWED' });
    expect(vhost.cause).toContain('vhost "orders"');
    expect(vhost.cause).toContain('user "guest"');
  });

  it.each(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'ECONNRESET'])('%s is transient, with its code', (code) => {
    expect(classifyAmqpConnectError(sysError(`connect ${code} 127.0.0.1:5672`, code), url)).toMatchObject({ permanent: false, code });
  });

  it('amqplib’s own timeout has no code property: the code comes from the message', () => {
    expect(classifyAmqpConnectError(new Error('connect ETIMEDOUT'), url)).toMatchObject({ permanent: false, code: 'ETIMEDOUT' });
  });

  it('certificate problems are permanent and name the host; the variable to fix is named', () => {
    const tlsUrl = 'amqps://guest:pw@mq.example:5671';
    const verify = classifyAmqpConnectError(sysError('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'), tlsUrl);
    expect(verify).toMatchObject({ permanent: true, code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    expect(verify.cause).toMatch(/server certificate of mq\.example:5671 does not verify.*AMQP_TLS_CA_FILE/);
    expect(
      classifyAmqpConnectError(sysError("Hostname/IP does not match certificate's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID'), tlsUrl)
        .permanent,
    ).toBe(true);
    const alert = classifyAmqpConnectError(
      sysError(
        '80AC01AF377F0000:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 116\n',
        'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
      ),
      tlsUrl,
    );
    expect(alert).toMatchObject({ permanent: true });
    expect(alert.cause).toBe(
      'TLS: mq.example:5671 does not accept our client certificate (or none was sent): tlsv13 alert certificate required (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED)',
    );
  });

  it('TLS to a plain port is not a certificate problem: retried', () => {
    expect(classifyAmqpConnectError(sysError('wrong version number', 'ERR_SSL_WRONG_VERSION_NUMBER'), url).permanent).toBe(false);
  });
});

describe('classifyRedisConnectError', () => {
  const url = 'redis://:pw@127.0.0.1:6379/3';
  it.each([
    ['WRONGPASS invalid username-password pair or user is disabled.', 'WRONGPASS'],
    ['NOAUTH Authentication required.', 'NOAUTH'],
    ['ERR DB index is out of range', 'DB_OUT_OF_RANGE'],
    ["NOPERM this user has no permissions to run the 'info' command", 'NOPERM'],
  ])('%s is permanent (%s)', (message, code) => {
    expect(classifyRedisConnectError(new Error(message), url)).toMatchObject({ permanent: true, code });
  });

  it('refused or closed connections are transient', () => {
    expect(classifyRedisConnectError(sysError('connect ECONNREFUSED 127.0.0.1:6379', 'ECONNREFUSED'), url)).toMatchObject({
      permanent: false,
      code: 'ECONNREFUSED',
    });
    expect(classifyRedisConnectError(new Error('Connection is closed.'), url).permanent).toBe(false);
  });

  it('the error of a permanent failure carries the redacted URL, never the password', () => {
    const err = new PermanentConnectError(url, classifyRedisConnectError(new Error('WRONGPASS invalid username-password pair'), url));
    expect(err.message).toMatch(/^redis:\/\/:\*\*\*@127\.0\.0\.1:6379\/3: Redis refused the login/);
    expect(err.message).not.toContain(':pw@');
  });
});
