import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registerExitCleanup } from './child-reaper';

/**
 * A throw-away PKI made with openssl for TLS tests: a CA, a server certificate it signed (subjectAltName
 * IP:127.0.0.1 and DNS:localhost), a client certificate it signed (mutual TLS), and a second, unrelated CA
 * ("other") that a client can be told to trust instead, so the server's certificate does not verify.
 * EC P-256 keys: quick to make. Files are PEM, in a temp dir removed by remove() or at exit.
 */
export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed none of the above. */
  otherCaCert: string;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

function newKey(cwd: string, file: string): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file], cwd);
}

function selfSignedCa(cwd: string, name: string, cn: string): void {
  newKey(cwd, `${name}.key`);
  openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    cwd,
  );
}

function signedBy(cwd: string, name: string, cn: string, extensions: string): void {
  newKey(cwd, `${name}.key`);
  openssl(['req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], cwd);
  writeFileSync(path.join(cwd, `${name}.ext`), extensions);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ],
    cwd,
  );
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'workitem-pki-'));
  const unregister = registerExitCleanup(() => rmSync(dir, { recursive: true, force: true }));
  selfSignedCa(dir, 'ca', 'workitem test CA');
  selfSignedCa(dir, 'other-ca', 'some other CA');
  signedBy(
    dir,
    'server',
    'localhost',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
  );
  signedBy(dir, 'client', 'workitem-test-client', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  const f = (name: string) => path.join(dir, name);
  return {
    dir,
    caCert: f('ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
    otherCaCert: f('other-ca.crt'),
    remove() {
      unregister();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
