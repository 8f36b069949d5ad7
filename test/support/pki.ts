/**
 * Throw-away X.509 material for the mutual-TLS tests, made with the `openssl` command line (Node
 * cannot issue certificates): a CA, a server certificate for 127.0.0.1 and client certificates.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pem {
  key: string;
  cert: string;
}

export interface TestPki {
  ca: Pem;
  server: Pem;
  /** Issued by the CA, subject `CN=mtls-client`. */
  client: Pem;
  /** Self-signed, same subject: not trusted by the CA. */
  stranger: Pem;
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'oidc-guard-mtls-'));
  const at = (name: string) => join(dir, name);
  const run = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  try {
    run('req', '-x509', ...newKey, '-keyout', at('ca.key'), '-out', at('ca.crt'), '-subj', '/CN=oidc-guard test CA', '-days', '2');
    const issue = (name: string, subject: string, extensions: string) => {
      writeFileSync(at(`${name}.ext`), extensions);
      run('req', ...newKey, '-keyout', at(`${name}.key`), '-out', at(`${name}.csr`), '-subj', subject);
      run(
        'x509',
        '-req',
        '-in',
        at(`${name}.csr`),
        '-CA',
        at('ca.crt'),
        '-CAkey',
        at('ca.key'),
        '-CAcreateserial',
        '-out',
        at(`${name}.crt`),
        '-days',
        '2',
        '-extfile',
        at(`${name}.ext`),
      );
    };
    issue('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    issue('client', '/CN=mtls-client', 'extendedKeyUsage=clientAuth\n');
    run('req', '-x509', ...newKey, '-keyout', at('stranger.key'), '-out', at('stranger.crt'), '-subj', '/CN=mtls-client', '-days', '2');
    const read = (name: string): Pem => ({ key: readFileSync(at(`${name}.key`), 'utf8'), cert: readFileSync(at(`${name}.crt`), 'utf8') });
    return { ca: read('ca'), server: read('server'), client: read('client'), stranger: read('stranger') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
