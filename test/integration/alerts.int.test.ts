/**
 * Alerts arrive (issue 13, item 6), on the real node: a throwaway copy of the staging stack (`it-alerts`: its own
 * namespace, its own Prometheus, Alertmanager and blackbox exporter, all real pods) with both receivers
 * configured as an operator configures them: `pavemaster:slackWebhookUrl` (an https:// webhook) and email with
 * STARTTLS required and SMTP authentication (`pavemaster:smtpPassword`), both servers behind a private CA
 * (`monitoring.alerting.caPem`). The sinks are this machine's own: an HTTPS Slack-webhook sink and an SMTP sink
 * (STARTTLS, AUTH PLAIN) listening on the real node's address, which the pods reach over the pod bridge
 * (Alertmanager's NetworkPolicy allows 443 and the smarthost's port out), with a certificate for that address
 * made now by openssl and signed by the CA.
 *
 * The fault: the active slot loses its pods (its Deployment scaled to 0), so the blackbox probe of the active
 * Service fails and `ProbeFailing` (critical, `for: 2m`, the fastest alert the rules have: the app's error-rate
 * alert waits 5 minutes on a 5-minute rate) fires in the real Prometheus, reaches the real Alertmanager and from
 * it the critical Slack channel and the on-call mailbox, with its runbook link, which must resolve to a section
 * of docs/runbooks.md. Then the slot comes back and the RESOLVED notification arrives in both. The figures
 * (fault to firing, to Slack, to SMTP, recovery to resolved) are printed (`alerts figures: ...`).
 *
 * Needs the real node (globalSetup starts it) and the images of scripts/images; fails with the reason when
 * either is missing, never skips.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as https from 'https';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as tls from 'tls';
import { Kube, PodObject, poll } from '../../release/kube';
import { serviceProxyTransport } from '../../release/postPromotion';
import { createSandbox, envFromScript, REPO, Sandbox } from '../../release/testing/sandbox';
import { REAL_NODE, requireRealNode } from './realnode';

jest.setTimeout(20 * 60 * 1000);

const STACK = 'it-alerts';
const APP = 'pavemaster';
const V1 = 'pavemaster/web:1.0.0';
/** The real node's address (scripts/node): on this machine, reached by the pods over the pod bridge. */
const NODE_IP = '10.213.0.1';
const SMTP_PORT = 587;
const SMTP_USER = 'alerts';
const ONCALL = 'oncall@pavemaster.example';
const FROM = 'alerts@pavemaster.example';
const CRITICAL_CHANNEL = '#pavemaster-staging-critical';
/** The most an alert may take from the fault to a notification: `for: 2m` plus scrapes, evaluation, grouping. */
const DELIVERY_TIMEOUT_MS = 5 * 60 * 1000;

type Pod = PodObject & { spec?: { nodeName?: string } };

/** A CA and a server certificate for the node's address signed by it, made now (nothing key-shaped in git). */
function makePki(dir: string): { caPem: string; key: string; cert: string } {
  const p = (name: string) => path.join(dir, name);
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(
    ['req', '-x509', ...ec, '-days', '1', '-keyout', p('ca.key'), '-out', p('ca.pem')].concat([
      '-subj',
      '/CN=it-alerts receivers CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
    ]),
  );
  openssl(['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', `/CN=${NODE_IP}`]);
  fs.writeFileSync(p('ext.cnf'), `subjectAltName=IP:${NODE_IP}\nextendedKeyUsage=serverAuth\n`);
  openssl(
    ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key')].concat([
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      p('ext.cnf'),
      '-out',
      p('server.pem'),
    ]),
  );
  return {
    caPem: fs.readFileSync(p('ca.pem'), 'utf8'),
    key: fs.readFileSync(p('server.key'), 'utf8'),
    cert: fs.readFileSync(p('server.pem'), 'utf8'),
  };
}

interface SlackMessage {
  at: number;
  path: string;
  body: { channel?: string; attachments?: { title?: string; text?: string }[]; text?: string };
}

/** An HTTPS Slack incoming-webhook sink: records every message and answers "ok", as Slack does. */
function slackSink(
  host: string,
  port: number,
  pki: { key: string; cert: string },
): Promise<{ messages: SlackMessage[]; close: () => Promise<void> }> {
  const messages: SlackMessage[] = [];
  const server = https.createServer({ key: pki.key, cert: pki.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        messages.push({
          at: Date.now(),
          path: req.url ?? '',
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as SlackMessage['body'],
        });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      } catch {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end('invalid_payload');
      }
    });
  });
  return listen(server, host, port).then(() => ({
    messages,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  }));
}

interface Mail {
  at: number;
  /** Whether the session had switched to TLS (STARTTLS) before the message. */
  tls: boolean;
  auth?: string;
  from?: string;
  to: string[];
  data: string;
}

/**
 * An SMTP sink (RFC 5321 subset): STARTTLS with the given certificate, AUTH PLAIN only once TLS is on (as a
 * real submission server), records the credentials and every message.
 */
function smtpSink(
  host: string,
  port: number,
  pki: { key: string; cert: string },
): Promise<{ mails: Mail[]; log: string[]; close: () => Promise<void> }> {
  const mails: Mail[] = [];
  const log: string[] = [];
  const sockets = new Set<net.Socket>();
  const context = tls.createSecureContext({ key: pki.key, cert: pki.cert });
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', (e) => log.push(`socket error: ${e.message}`));
    let stream: net.Socket | tls.TLSSocket = raw;
    let secure = false;
    let buffer = '';
    let inData = false;
    let mail: Mail = { at: 0, tls: false, to: [], data: '' };
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
          reply(secure ? '250-AUTH PLAIN' : '250-STARTTLS');
          reply('250 8BITMIME');
        } else if (verb === 'STARTTLS' && !secure) {
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
          if (!secure) {
            reply('538 5.7.11 encryption required for requested authentication mechanism');
          } else if (mech.toUpperCase() !== 'PLAIN' || initial === undefined) {
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
  return listen(server, host, port).then(() => ({
    mails,
    log,
    close: () =>
      new Promise<void>((done) => {
        for (const s of sockets) {
          s.destroy();
        }
        server.close(() => done());
      }),
  }));
}

function listen(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (e) =>
      reject(
        new Error(`cannot listen on ${host}:${port} (is the real node up, is the port free?): ${e.message}`),
      ),
    );
    server.listen(port, host, () => resolve());
  });
}

/** A quoted-printable body as text (soft line breaks joined, =XX decoded). */
function decodeQuotedPrintable(text: string): string {
  return Buffer.from(
    text
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  ).toString('utf8');
}

/** GitHub's anchor of a Markdown heading (lowercase, punctuation dropped, spaces to "-"). */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Where a runbook link points in this repository: the file must exist and have a heading with that anchor. */
function resolveRunbook(link: string): { file: string; anchor: string; heading?: string } {
  const [file, anchor = ''] = link.split('#');
  const full = path.join(REPO, file);
  if (!fs.existsSync(full)) {
    return { file, anchor };
  }
  const heading = fs
    .readFileSync(full, 'utf8')
    .split('\n')
    .filter((l) => /^#{1,6} /.test(l))
    .map((l) => l.replace(/^#+ /, ''))
    .find((h) => anchorOf(h) === anchor);
  return { file, anchor, heading };
}

let sandbox: Sandbox;
let kube: Kube;
let dir: string;
let slack: Awaited<ReturnType<typeof slackSink>> | undefined;
let smtp: Awaited<ReturnType<typeof smtpSink>> | undefined;
const smtpPassword = `it-alerts-${Date.now().toString(36)}-smtp`;

function figures(line: string): void {
  console.log(`alerts figures: ${line}`);
}

beforeAll(async () => {
  Object.assign(process.env, envFromScript());
  await poll(
    () =>
      requireRealNode().then(
        () => true,
        () => undefined,
      ),
    { timeoutMs: 90_000, intervalMs: 2000, what: 'the real node to be Ready' },
  ).catch(async () => requireRealNode());
  const addresses = Object.values(os.networkInterfaces()).flatMap((a) => (a ?? []).map((i) => i.address));
  if (!addresses.includes(NODE_IP)) {
    throw new Error(`${NODE_IP} (the real node's address) is not on this machine: is the real node up?`);
  }
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'it-alerts-'));
  const pki = makePki(dir);
  slack = await slackSink(NODE_IP, 443, pki);
  smtp = await smtpSink(NODE_IP, SMTP_PORT, pki);
  sandbox = await createSandbox({
    stackName: STACK,
    fromStack: 'staging',
    env: {},
    overrides: {
      namespace: STACK,
      blueImage: V1,
      greenImage: V1,
      replicas: 1,
      logging: { enabled: false },
      monitoring: {
        // Scrapes, probes and rule evaluation every 5 s, so the figures are the alert's `for` and little else.
        scrapeInterval: '5s',
        blackbox: { interval: '5s' },
        alerting: {
          groupWait: '5s',
          groupInterval: '10s',
          caPem: pki.caPem,
          email: {
            enabled: true,
            to: [ONCALL],
            from: FROM,
            smarthost: `${NODE_IP}:${SMTP_PORT}`,
            username: SMTP_USER,
          },
        },
      },
    },
  });
  await sandbox.stack.setConfig('pavemaster:slackWebhookUrl', {
    value: `https://${NODE_IP}/services/T0LOCAL/B0LOCAL/it-alerts`,
    secret: true,
  });
  await sandbox.stack.setConfig('pavemaster:smtpPassword', { value: smtpPassword, secret: true });
  kube = new Kube(sandbox.namespace);
  await sandbox.stack.up({ onOutput: () => undefined });
});

afterAll(async () => {
  try {
    await sandbox?.cleanup();
  } finally {
    await slack?.close();
    await smtp?.close();
    if (dir !== undefined) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});

describe('alerts arrive', () => {
  it('the active slot losing its pods fires ProbeFailing in the real Prometheus, and the real Alertmanager delivers it to Slack and by email (STARTTLS, AUTH) with a runbook link that resolves; RESOLVED follows the recovery', async () => {
    if (slack === undefined || smtp === undefined) {
      throw new Error('the sinks did not start');
    }
    const monitoringNs = `${STACK}-monitoring`;
    const prometheus = serviceProxyTransport({
      namespace: monitoringNs,
      service: 'prometheus',
      port: '9090',
      scheme: 'http',
    });
    const alertmanager = serviceProxyTransport({
      namespace: monitoringNs,
      service: 'alertmanager',
      port: '9093',
      scheme: 'http',
    });
    // The monitoring stack runs for real: its pods on the real node, Ready.
    const monitoringKube = new Kube(monitoringNs);
    const notReady = async (): Promise<string[]> => {
      const pods = await monitoringKube.list<Pod>('pods', 'app.kubernetes.io/name');
      return ['prometheus', 'alertmanager', 'blackbox-exporter'].filter(
        (name) =>
          !pods.some(
            (p) =>
              p.metadata.labels?.['app.kubernetes.io/name'] === name &&
              p.spec?.nodeName === REAL_NODE &&
              (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
          ),
      );
    };
    await poll(async () => ((await notReady()).length === 0 ? true : undefined), {
      timeoutMs: 180_000,
      intervalMs: 2000,
      what: `Prometheus, Alertmanager and the blackbox exporter Ready on ${REAL_NODE}`,
      last: async () => `not yet: ${(await notReady()).join(', ')}`,
    });

    const query = async (
      promql: string,
    ): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
      const r = (await prometheus.get(`/api/v1/query?query=${encodeURIComponent(promql)}`)) as {
        data?: { result?: { metric: Record<string, string>; value: [number, string] }[] };
      };
      return r.data?.result ?? [];
    };
    const activeProbe = `probe_success{probe="active",namespace="${STACK}"}`;
    // Before the fault: the active Service answers its probe, so nothing about it is pending or firing.
    await poll(
      async () => ((await query(activeProbe).catch(() => []))[0]?.value[1] === '1' ? true : undefined),
      {
        timeoutMs: 180_000,
        intervalMs: 2000,
        what: `${activeProbe} == 1 in the stack's Prometheus`,
      },
    );
    const firingQuery = `ALERTS{alertname="ProbeFailing",probe="active",namespace="${STACK}",alertstate="firing"}`;
    expect(await query(firingQuery)).toEqual([]);
    const slackBefore = slack.messages.length;
    const mailsBefore = smtp.mails.length;
    const active = (await kube.serviceSelector(APP))?.slot;
    expect(active).toBe('blue');

    // The fault: the active slot loses its pods.
    const scaled = await kube.kubectlRun(['scale', `deployment/${APP}-${active}`, '--replicas=0']);
    expect(`${scaled.code} ${scaled.stderr.trim()}`).toBe('0 ');
    const fault = Date.now();

    const isProbeAlert = (text: string) =>
      text.includes('ProbeFailing') && text.includes('Probe active fails');
    const slackText = (m: SlackMessage) =>
      [m.body.text ?? '', ...(m.body.attachments ?? []).flatMap((a) => [a.title ?? '', a.text ?? ''])].join(
        '\n',
      );
    const mailText = (m: Mail) => decodeQuotedPrintable(m.data);
    const sinkState = () =>
      `Slack got ${slack?.messages.length ?? 0} message(s), SMTP ${smtp?.mails.length ?? 0} mail(s); SMTP log: ${smtp?.log.slice(-12).join(' | ')}`;

    const firing = poll(
      async () => ((await query(firingQuery).catch(() => [])).length > 0 ? Date.now() : undefined),
      {
        timeoutMs: DELIVERY_TIMEOUT_MS,
        intervalMs: 2000,
        what: 'ProbeFailing (active) firing in Prometheus',
      },
    );
    const slackFiring = poll(
      () =>
        Promise.resolve(
          slack?.messages
            .slice(slackBefore)
            .find((m) => isProbeAlert(slackText(m)) && slackText(m).includes('[FIRING')),
        ),
      {
        timeoutMs: DELIVERY_TIMEOUT_MS,
        intervalMs: 500,
        what: 'the firing ProbeFailing in Slack',
        last: () => Promise.resolve(sinkState()),
      },
    );
    const mailFiring = poll(
      () =>
        Promise.resolve(
          smtp?.mails.slice(mailsBefore).find((m) => isProbeAlert(mailText(m)) && /FIRING/.test(mailText(m))),
        ),
      {
        timeoutMs: DELIVERY_TIMEOUT_MS,
        intervalMs: 500,
        what: 'the firing ProbeFailing by email',
        last: () => Promise.resolve(sinkState()),
      },
    );
    const [firedAt, slackMsg, mail] = await Promise.all([firing, slackFiring, mailFiring]);

    // In the real Alertmanager, with its annotations.
    const amAlerts = (await alertmanager.get('/api/v2/alerts?active=true')) as {
      labels: Record<string, string>;
      annotations: Record<string, string>;
    }[];
    const inAm = amAlerts.find((a) => a.labels.alertname === 'ProbeFailing' && a.labels.probe === 'active');
    expect(inAm?.labels).toMatchObject({ severity: 'critical', environment: 'staging', namespace: STACK });

    // Slack: the critical channel, the alert, its runbook link, and the link resolves to the runbook section.
    expect(slackMsg.path).toBe('/services/T0LOCAL/B0LOCAL/it-alerts');
    expect(slackMsg.body.channel).toBe(CRITICAL_CHANNEL);
    const slackRunbook = /Runbook: (\S+)/.exec(slackText(slackMsg))?.[1];
    expect(slackRunbook).toBe(inAm?.annotations.runbook_url);
    expect(slackRunbook === undefined ? undefined : resolveRunbook(slackRunbook)).toEqual({
      file: 'docs/runbooks.md',
      anchor: 'probefailing',
      heading: 'ProbeFailing',
    });

    // Email: over STARTTLS (the CA verified the sink's certificate), authenticated with the secret password.
    expect(mail.tls).toBe(true);
    expect(mail.auth?.split('\0')).toEqual(['', SMTP_USER, smtpPassword]);
    expect({ from: mail.from, to: mail.to }).toEqual({ from: `<${FROM}>`, to: [`<${ONCALL}>`] });
    expect(mailText(mail)).toMatch(/Subject: \[staging\]/);
    expect(mailText(mail)).toContain(`runbook_url = ${String(slackRunbook)}`);

    // Recovery: the slot comes back; the RESOLVED notification follows in both.
    const restored = await kube.kubectlRun(['scale', `deployment/${APP}-${active}`, '--replicas=1']);
    expect(`${restored.code} ${restored.stderr.trim()}`).toBe('0 ');
    const recovery = Date.now();
    const slackResolved = poll(
      () =>
        Promise.resolve(
          slack?.messages.find(
            (m) => m.at >= recovery && isProbeAlert(slackText(m)) && slackText(m).includes('[RESOLVED]'),
          ),
        ),
      {
        timeoutMs: DELIVERY_TIMEOUT_MS,
        intervalMs: 500,
        what: 'the resolved ProbeFailing in Slack',
        last: () => Promise.resolve(sinkState()),
      },
    );
    const mailResolved = poll(
      () =>
        Promise.resolve(
          smtp?.mails.find(
            (m) => m.at >= recovery && isProbeAlert(mailText(m)) && /RESOLVED/.test(mailText(m)),
          ),
        ),
      {
        timeoutMs: DELIVERY_TIMEOUT_MS,
        intervalMs: 500,
        what: 'the resolved ProbeFailing by email',
        last: () => Promise.resolve(sinkState()),
      },
    );
    const [slackBack, mailBack] = await Promise.all([slackResolved, mailResolved]);

    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    figures(
      `fault (active slot scaled to 0) -> ProbeFailing firing in Prometheus ${s(firedAt - fault)}, -> Slack ${s(slackMsg.at - fault)}, ` +
        `-> SMTP ${s(mail.at - fault)} (rule for: 2m, scrape/probe/evaluation 5 s, group_wait 5 s); ` +
        `recovery -> RESOLVED in Slack ${s(slackBack.at - recovery)}, by email ${s(mailBack.at - recovery)}`,
    );
    // Not faster than the rule's `for` (the alert really waited), and within the bound.
    expect(slackMsg.at - fault).toBeGreaterThanOrEqual(120_000);
    expect(mail.at - fault).toBeGreaterThanOrEqual(120_000);
  });
});
