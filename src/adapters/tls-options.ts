import type { ConnectionOptions } from 'node:tls';
import type { TlsFiles } from '../config/config';

/**
 * Socket options of an amqps:// or rediss:// connection. A CA file replaces the system CAs (a private CA is
 * trusted alone). Verification is always on: rejectUnauthorized is set explicitly, so even
 * NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment cannot turn it off.
 */
export function tlsOptions(files: TlsFiles): ConnectionOptions {
  return {
    ...(files.ca ? { ca: files.ca } : {}),
    ...(files.cert ? { cert: files.cert } : {}),
    ...(files.key ? { key: files.key } : {}),
    rejectUnauthorized: true,
  };
}
