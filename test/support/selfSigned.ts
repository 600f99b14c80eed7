/**
 * A self-signed certificate made by openssl for one test (nothing key-shaped is kept in git): the tests' CAs and
 * loopback TLS servers all need the same `openssl req -x509` call.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** The key and certificate files, and the certificate's PEM text. */
export interface SelfSigned {
  keyFile: string;
  certFile: string;
  pem: string;
}

/**
 * Writes `<name>.key` and `<name>.crt` into `dir`: a 2048-bit RSA key (or P-256 with `ec`), `/CN=<cn>`, valid
 * `days` (default 1), with `san` as its subjectAltName when given (e.g. `IP:127.0.0.1`).
 */
export function selfSigned(
  dir: string,
  name: string,
  opts: { cn: string; san?: string; days?: number; ec?: boolean },
): SelfSigned {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.crt`);
  const key = opts.ec ? ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['rsa:2048'];
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', ...key, '-nodes', '-keyout', keyFile, '-out', certFile],
      ...['-days', String(opts.days ?? 1), '-subj', `/CN=${opts.cn}`],
      ...(opts.san !== undefined ? ['-addext', `subjectAltName=${opts.san}`] : []),
    ],
    { stdio: 'ignore' },
  );
  return { keyFile, certFile, pem: fs.readFileSync(certFile, 'utf8') };
}
