/**
 * A local Slack incoming-webhook sink over HTTPS on 127.0.0.1, with a certificate made for it at start (openssl):
 * the stack config accepts only an https:// webhook, as Slack's are, so the release scripts post to it exactly as
 * to Slack, trusting its certificate through NODE_EXTRA_CA_CERTS. It records every message and answers "ok".
 */
import * as fs from 'fs';
import * as https from 'https';
import { AddressInfo } from 'net';
import { selfSigned } from '../../../support/selfSigned';

export interface SlackSink {
  /** The webhook URL to configure (`https://127.0.0.1:<port>/services/...`). */
  url: string;
  /** The CA file to trust (NODE_EXTRA_CA_CERTS). */
  caFile: string;
  messages: { path: string; body: { text?: string } }[];
  close(): Promise<void>;
}

export function startSlackSink(dir: string): Promise<SlackSink> {
  const { keyFile: key, certFile: cert } = selfSigned(dir, 'slack', { cn: '127.0.0.1', san: 'IP:127.0.0.1' });
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
