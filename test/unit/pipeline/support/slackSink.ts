/**
 * A local Slack incoming-webhook sink over HTTPS on 127.0.0.1, with a certificate made for it at start (openssl):
 * the stack config accepts only an https:// webhook, as Slack's are, so the release scripts post to it exactly as
 * to Slack, trusting its certificate through NODE_EXTRA_CA_CERTS. It records every message and answers "ok".
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as https from 'https';
import { AddressInfo } from 'net';
import * as path from 'path';

export interface SlackSink {
  /** The webhook URL to configure (`https://127.0.0.1:<port>/services/...`). */
  url: string;
  /** The CA file to trust (NODE_EXTRA_CA_CERTS). */
  caFile: string;
  messages: { path: string; body: { text?: string } }[];
  close(): Promise<void>;
}

export function startSlackSink(dir: string): Promise<SlackSink> {
  const key = path.join(dir, 'slack-key.pem');
  const cert = path.join(dir, 'slack-cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const messages: SlackSink['messages'] = [];
  const server = https.createServer(
    { key: fs.readFileSync(key), cert: fs.readFileSync(cert) },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        messages.push({
          path: req.url ?? '',
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as { text?: string },
        });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      });
    },
  );
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `https://127.0.0.1:${port}/services/T0LOCAL/B0LOCAL/delivery-tests`,
        caFile: cert,
        messages,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
