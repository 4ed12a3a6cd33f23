/**
 * A connection URL with its password replaced by `***`, for logs and error messages: `amqp://guest:***@host/vh`,
 * `redis://:***@host:6379/0`. The user name stays (it helps to tell which login was refused). The userinfo ends
 * at the last `@` before the host, so a password with a stray unencoded `@` is still hidden whole.
 */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:)[^/?#]*@/i, '$1***@');
}
