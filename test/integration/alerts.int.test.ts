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
import { Kube, PodObject, poll } from '../../release/kube';
import { serviceProxyTransport } from '../../release/postPromotion';
import { makeTestPki } from '../../release/testing/recorder';
import { createSandbox, envFromScript, REPO, Sandbox } from '../../release/testing/sandbox';
import { SinkMail, smtpSink, SmtpSink } from '../support/smtpSink';
import { REAL_NODE, waitForRealNode } from './realnode';

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
let smtp: SmtpSink | undefined;
const smtpPassword = `it-alerts-${Date.now().toString(36)}-smtp`;

function figures(line: string): void {
  console.log(`alerts figures: ${line}`);
}

beforeAll(async () => {
  Object.assign(process.env, envFromScript());
  await waitForRealNode();
  const addresses = Object.values(os.networkInterfaces()).flatMap((a) => (a ?? []).map((i) => i.address));
  if (!addresses.includes(NODE_IP)) {
    throw new Error(`${NODE_IP} (the real node's address) is not on this machine: is the real node up?`);
  }
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'it-alerts-'));
  const pki = makeTestPki(dir, (args) => execFileSync('openssl', args, { stdio: 'pipe' }), NODE_IP);
  slack = await slackSink(NODE_IP, 443, pki);
  smtp = await smtpSink({ host: NODE_IP, port: SMTP_PORT, tls: pki });
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
    const mailText = (m: SinkMail) => decodeQuotedPrintable(m.data);
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
