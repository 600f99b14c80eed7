/**
 * An HTTP server on 127.0.0.1 that records every request (method, path, headers, body) and answers each with
 * the status the test sets: it stands in for Grafana's annotations API and a Slack incoming webhook in tests.
 * With `tls`, it serves HTTPS with the given key and certificate.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import { AddressInfo } from 'net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Recorder {
  url: string;
  requests: RecordedRequest[];
  /** The status of the next answers (default 200), and their body. */
  status: number;
  body: string;
  close(): Promise<void>;
}

export async function startRecorder(opts: { tls?: { key: string; cert: string } } = {}): Promise<Recorder> {
  const rec: Omit<Recorder, 'url' | 'close'> = { requests: [], status: 200, body: '{"message":"ok"}' };
  const handler: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      rec.requests.push({
        method: req.method ?? '?',
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.statusCode = rec.status;
      res.setHeader('content-type', 'application/json');
      res.end(rec.body);
    });
  };
  const server = opts.tls ? https.createServer(opts.tls, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(rec, {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** A CA and a server certificate for an IP address signed by it, made now with openssl (nothing key-shaped in git). */
export interface TestPki {
  caPem: string;
  key: string;
  cert: string;
  /** Another CA, which did not sign the certificate. */
  otherCaPem: string;
}

/** Makes a {@link TestPki} in `dir` with `run` (openssl), the server certificate for `ip` (its CN and IP SAN). */
export function makeTestPki(dir: string, run: (args: string[]) => void, ip = '127.0.0.1'): TestPki {
  const p = (name: string) => `${dir}/${name}`;
  const subj = (cn: string) => ['-subj', `/CN=${cn}`];
  for (const ca of ['ca', 'other']) {
    run([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      p(`${ca}.key`),
      '-out',
      p(`${ca}.pem`),
      ...subj(`test ${ca}`),
    ]);
  }
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    p('server.key'),
    '-out',
    p('server.csr'),
    ...subj(ip),
  ]);
  fs.writeFileSync(p('ext.cnf'), `subjectAltName=IP:${ip}\n`);
  run([
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.pem'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    p('ext.cnf'),
    '-out',
    p('server.pem'),
  ]);
  return {
    caPem: fs.readFileSync(p('ca.pem'), 'utf8'),
    key: fs.readFileSync(p('server.key'), 'utf8'),
    cert: fs.readFileSync(p('server.pem'), 'utf8'),
    otherCaPem: fs.readFileSync(p('other.pem'), 'utf8'),
  };
}
