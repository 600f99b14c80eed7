/**
 * A local SMTP server for tests that send real mail (Alertmanager's email receiver): an RFC 5321 subset with
 * AUTH PLAIN, and with STARTTLS when a certificate is given. Then AUTH is refused until the session runs TLS, as
 * on a real submission server. MAIL is refused until the client authenticated. It records the credentials and
 * every message; it listens only where it is told (loopback or the test's own node address).
 */
import * as net from 'net';
import * as tls from 'tls';

/** One message as the sink received it. */
export interface SinkMail {
  /** When the message's data ended (ms since the epoch). */
  at: number;
  /** Whether the session had switched to TLS (STARTTLS) before the message. */
  tls: boolean;
  /** The AUTH PLAIN credentials as sent: `\0user\0password`. */
  auth?: string;
  from?: string;
  to: string[];
  data: string;
}

export interface SmtpSink {
  /** The port it listens on (the one asked for, or the one the system picked for 0). */
  port: number;
  mails: SinkMail[];
  /** Every command line received (AUTH lines redacted) and socket errors. */
  log: string[];
  close: () => Promise<void>;
}

export function smtpSink(opts: {
  host: string;
  /** @default 0 (any free port) */
  port?: number;
  /** A server key and certificate: STARTTLS is offered, and AUTH needs it. @default none (plain, AUTH offered) */
  tls?: { key: string; cert: string };
}): Promise<SmtpSink> {
  const mails: SinkMail[] = [];
  const log: string[] = [];
  const sockets = new Set<net.Socket>();
  const context = opts.tls ? tls.createSecureContext({ key: opts.tls.key, cert: opts.tls.cert }) : undefined;
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', (e) => log.push(`socket error: ${e.message}`));
    let stream: net.Socket | tls.TLSSocket = raw;
    let secure = false;
    let buffer = '';
    let inData = false;
    let mail: SinkMail = { at: 0, tls: false, to: [], data: '' };
    const reply = (line: string) => stream.write(`${line}\r\n`);
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) {
            return;
          }
          mails.push({ ...mail, at: Date.now(), tls: secure, data: buffer.slice(0, end) });
          buffer = buffer.slice(end + 5);
          inData = false;
          mail = { at: 0, tls: secure, auth: mail.auth, to: [], data: '' };
          reply('250 2.0.0 queued');
          continue;
        }
        const nl = buffer.indexOf('\r\n');
        if (nl < 0) {
          return;
        }
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        const verb = line.split(' ')[0].toUpperCase();
        log.push(verb === 'AUTH' ? 'AUTH [...]' : line);
        if (verb === 'EHLO') {
          reply('250-sink.pavemaster.example');
          reply(context === undefined || secure ? '250-AUTH PLAIN' : '250-STARTTLS');
          reply('250 8BITMIME');
        } else if (verb === 'HELO') {
          reply('250 sink.pavemaster.example');
        } else if (verb === 'STARTTLS' && context !== undefined && !secure) {
          reply('220 2.0.0 ready to start TLS');
          raw.removeListener('data', onData);
          const wrapped = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
          wrapped.on('error', (e: Error) => log.push(`TLS error: ${e.message}`));
          wrapped.on('data', onData);
          stream = wrapped;
          secure = true;
          buffer = '';
        } else if (verb === 'AUTH') {
          const [, mech, initial] = line.split(' ');
          if (context !== undefined && !secure) {
            reply('538 5.7.11 encryption required for requested authentication mechanism');
          } else if (mech?.toUpperCase() !== 'PLAIN' || initial === undefined) {
            reply('504 5.5.4 only AUTH PLAIN with an initial response');
          } else {
            mail.auth = Buffer.from(initial, 'base64').toString('utf8');
            reply('235 2.7.0 authenticated');
          }
        } else if (verb === 'MAIL') {
          if (mail.auth === undefined) {
            reply('530 5.7.0 authentication required');
          } else {
            mail.from = /<[^>]*>/.exec(line)?.[0];
            reply('250 2.1.0 ok');
          }
        } else if (verb === 'RCPT') {
          mail.to.push(/<[^>]*>/.exec(line)?.[0] ?? line);
          reply('250 2.1.5 ok');
        } else if (verb === 'DATA') {
          inData = true;
          reply('354 end with <CRLF>.<CRLF>');
        } else if (verb === 'RSET' || verb === 'NOOP') {
          reply('250 ok');
        } else if (verb === 'QUIT') {
          reply('221 bye');
          stream.end();
        } else {
          reply('502 5.5.2 not implemented');
        }
      }
    };
    raw.on('data', onData);
    reply('220 sink.pavemaster.example ESMTP test sink');
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e) =>
      reject(new Error(`the SMTP sink cannot listen on ${opts.host}:${opts.port ?? 0}: ${e.message}`)),
    );
    server.listen(opts.port ?? 0, opts.host, () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        mails,
        log,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) {
              s.destroy();
            }
            server.close(() => done());
          }),
      });
    });
  });
}
