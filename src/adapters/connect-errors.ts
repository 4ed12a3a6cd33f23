import { redactUrl } from './redact-url';

/** Process exit code of a start that retrying cannot fix (wrong login, vhost, Redis db, untrusted certificate). */
export const EXIT_PERMANENT = 3;
/** SIGTERM's hard deadline (SHUTDOWN_TIMEOUT_MS + 3 s) passed before the shutdown finished: main.ts exits with this. */
export const EXIT_SHUTDOWN_DEADLINE = 4;

/** Process exit code of a configuration error: a setting the deployment got wrong (the same as an invalid variable). */
export const EXIT_CONFIG = 2;

/**
 * A setting found wrong only when used at start (HTTP_PORT already in use or not permitted, HTTP_HOST not an address
 * of this machine): exits EXIT_CONFIG with one line naming it, like a variable that fails validation.
 */
export class StartConfigError extends Error {
  constructor(
    /** The variable to fix, e.g. HTTP_PORT or HTTP_HOST. */
    readonly setting: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StartConfigError';
  }
}

/**
 * A setting found wrong at start, not a connection (an attachment directory that cannot be written, an S3 bucket
 * that is not there or not ours): like a PermanentConnectError it ends the start with EXIT_PERMANENT and one line.
 */
export class PermanentStartError extends Error {
  constructor(
    /** The variable to fix, e.g. ATTACHMENT_DIR or S3_BUCKET. */
    readonly setting: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PermanentStartError';
  }
}

/** What went wrong when opening a connection, and whether trying again could help. */
export interface ConnectFailure {
  /** Wrong credentials, vhost or db, or a TLS certificate problem: the same attempt fails the same way. */
  permanent: boolean;
  /** A short code for logs and alerts: ECONNREFUSED, ACCESS_REFUSED, WRONGPASS, SELF_SIGNED_CERT_IN_CHAIN… */
  code: string;
  /** One sentence an operator can act on. Never holds a password. */
  cause: string;
}

/**
 * A connection at start failed in a way that retrying cannot fix. Its message is the single log line the
 * service writes before exiting with EXIT_PERMANENT: the redacted URL and the cause.
 */
export class PermanentConnectError extends Error {
  constructor(
    readonly url: string,
    readonly failure: ConnectFailure,
  ) {
    super(`${redactUrl(url)}: ${failure.cause}`);
    this.name = 'PermanentConnectError';
  }
}

/** Node's certificate verification codes (X509_V_ERR_* names) plus the host name check. */
const CERT_VERIFY_CODES =
  /^(ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH|INVALID_CA|INVALID_PURPOSE|PATH_LENGTH_EXCEEDED|UNABLE_TO_\w+|\w*CERT\w*)$/;
/** TLS alerts a server sends when it does not accept our client certificate (or got none). */
const CLIENT_CERT_ALERTS =
  /^ERR_SSL_\w*ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)$/;

function errorCode(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && code !== '') return code;
  return /\b(E[A-Z]{3,})\b/.exec(err.message)?.[1] ?? 'ERROR';
}

function hostOf(url: string): string {
  try {
    const u = new URL(url);
    return u.host || u.hostname;
  } catch {
    return '(unparsable URL)';
  }
}

/** A certificate problem on either side: permanent, whatever the protocol on top. (Alerts first: their codes contain CERT too.) */
function classifyTls(err: Error, url: string, caVariable: string): ConnectFailure | null {
  const code = errorCode(err);
  const reason = err.message
    .split('\n')[0]
    .replace(/^[0-9A-F]+:error:[0-9A-F]+:SSL routines:[^:]*:/, '')
    .replace(/:\.\.\/deps\/.*$/, '');
  if (CLIENT_CERT_ALERTS.test(code)) {
    return {
      permanent: true,
      code,
      cause: `TLS: ${hostOf(url)} does not accept our client certificate (or none was sent): ${reason} (${code})`,
    };
  }
  if (CERT_VERIFY_CODES.test(code)) {
    return {
      permanent: true,
      code,
      cause: `TLS: the server certificate of ${hostOf(url)} does not verify: ${reason} (${code}); ${caVariable} must name the CA that signed it`,
    };
  }
  return null;
}

/**
 * Sorts an amqplib connect error. amqplib reports a connection.close sent in reply to connection.open only as
 * "Expected ConnectionOpenOk; got <ConnectionClose …>" (without the broker's text): RabbitMQ answers so when the
 * vhost does not exist or the user has no access to it (530 NOT_ALLOWED).
 */
export function classifyAmqpConnectError(err: Error, url: string): ConnectFailure {
  const tls = classifyTls(err, url, 'AMQP_TLS_CA_FILE');
  if (tls) return tls;
  const msg = err.message || String(err);
  if (/ACCESS.REFUSED/i.test(msg)) {
    return { permanent: true, code: 'ACCESS_REFUSED', cause: `the broker refused the login (wrong user or password): ${msg}` };
  }
  if (/Expected ConnectionOpenOk; got <ConnectionClose|NOT_ALLOWED/.test(msg)) {
    let vhost = '/';
    let user = 'guest';
    try {
      const u = new URL(url);
      vhost = u.pathname.length > 1 ? decodeURIComponent(u.pathname.slice(1)) : '/';
      user = u.username ? decodeURIComponent(u.username) : user;
    } catch {
      // the URL was validated at config time; keep the defaults
    }
    return {
      permanent: true,
      code: 'NOT_ALLOWED',
      cause: `the broker closed the connection on opening vhost "${vhost}": the vhost does not exist or user "${user}" has no access to it`,
    };
  }
  return { permanent: false, code: errorCode(err), cause: msg };
}

/** Sorts an error ioredis emitted while connecting (the 'error' event: connect() itself only says "Connection is closed."). */
export function classifyRedisConnectError(err: Error, url: string): ConnectFailure {
  const tls = classifyTls(err, url, 'REDIS_TLS_CA_FILE');
  if (tls) return tls;
  const msg = err.message || String(err);
  if (/^WRONGPASS/.test(msg))
    return { permanent: true, code: 'WRONGPASS', cause: `Redis refused the login (wrong user or password): ${msg}` };
  if (/^NOAUTH/.test(msg)) return { permanent: true, code: 'NOAUTH', cause: `Redis requires a password and REDIS_URL has none: ${msg}` };
  if (/DB index is out of range/.test(msg)) {
    return { permanent: true, code: 'DB_OUT_OF_RANGE', cause: `Redis has no database with the number in REDIS_URL: ${msg}` };
  }
  if (/^NOPERM/.test(msg))
    return { permanent: true, code: 'NOPERM', cause: `the Redis user may not run a command the service needs: ${msg}` };
  return { permanent: false, code: errorCode(err), cause: msg };
}
