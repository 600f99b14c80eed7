/**
 * The generated monitoring configuration, checked by the real Prometheus tools: `promtool check config`,
 * `promtool check rules`, `promtool test rules` (fixtures that fire and that stay quiet for every alert), every
 * dashboard query parsed by promtool, `amtool check-config` and a routing test per receiver, and the real
 * Alertmanager delivering an alert to a local Slack webhook sink and a local SMTP sink. Each checker is also fed
 * something broken and must reject it, so a passing test means the checker really looked.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';
import { parse, stringify } from 'yaml';
import { Dashboard, dashboardQueries } from '../../../components/monitoring/dashboards';
import { Registered, recordStack } from '../../support/harness';
import { smtpSink, SmtpSink } from '../../support/smtpSink';
import { stackConfig } from '../../support/stackConfig';
import { alertCases, LoadedRule, promtoolTests } from './fixtures/ruleTests';
import { configMapData, run, tempDir, tool } from './tools';
import { EMAIL_RECEIVER } from '../../support/receivers';

jest.setTimeout(120_000);

const SLACK_URL = 'https://hooks.slack.example/services/T000/B000/unit-test-secret';
const SMTP_PASSWORD = 'unit-test-smtp-password';

type Doc = Record<string, unknown>;

interface Recorded {
  stack: string;
  resources: Registered[];
  settings: Awaited<ReturnType<typeof recordStack>>['settings'];
}

const recordings = new Map<string, Promise<Recorded>>();

/** The stack with both receivers configured, recorded once per stack for the whole file. */
function recordWithReceivers(stack: 'staging' | 'production'): Promise<Recorded> {
  let recording = recordings.get(stack);
  if (recording === undefined) {
    recording = recordOnce(stack);
    recordings.set(stack, recording);
  }
  return recording;
}

async function recordOnce(stack: 'staging' | 'production'): Promise<Recorded> {
  const { resources, settings } = await recordStack(
    stack,
    stackConfig(stack, {
      slackWebhookUrl: SLACK_URL,
      smtpPassword: SMTP_PASSWORD,
      monitoring: {
        alerting: {
          email: EMAIL_RECEIVER,
        },
      },
    }),
  );
  return { stack, resources, settings };
}

const promtool = tool('promtool');
const amtool = tool('amtool');

/** Writes the recorded Prometheus config and rule files to a directory, the rule files path pointed there. */
function writePrometheus(r: Recorded, dir: string): { config: string; rules: string[] } {
  const rulesDir = path.join(dir, 'rules');
  fs.mkdirSync(rulesDir, { recursive: true });
  const rules: string[] = [];
  for (const [file, text] of Object.entries(configMapData(r.resources, 'monitoring-prometheus-rules'))) {
    const p = path.join(rulesDir, file);
    fs.writeFileSync(p, text);
    rules.push(p);
  }
  // promtool checks that the files the config names exist: the rule files and the service-account token and CA
  // that Kubernetes mounts into the pod. Point those paths into the temporary directory.
  const sa = path.join(dir, 'serviceaccount');
  fs.mkdirSync(sa);
  fs.writeFileSync(path.join(sa, 'token'), 'token');
  fs.writeFileSync(path.join(sa, 'ca.crt'), '');
  const text = configMapData(r.resources, 'monitoring-prometheus-config')['prometheus.yml'];
  const config = parse(
    text.replace(/\/var\/run\/secrets\/kubernetes\.io\/serviceaccount\//g, `${sa}/`),
  ) as Doc;
  expect(config.rule_files).toEqual(['/etc/prometheus/rules/*.yml']);
  config.rule_files = [path.join(rulesDir, '*.yml')];
  const configPath = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(configPath, stringify(config));
  return { config: configPath, rules };
}

describe.each(['staging', 'production'] as const)('%s: Prometheus configuration and rules', (stack) => {
  let r: Recorded;
  let dir: string;
  let files: { config: string; rules: string[] };
  beforeAll(async () => {
    r = await recordWithReceivers(stack);
    dir = tempDir(`prom-${stack}`);
    files = writePrometheus(r, dir);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('passes promtool check config (with its rule files)', () => {
    const result = run(promtool, ['check', 'config', files.config]);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('promtool check config rejects a broken relabeling of the same config', () => {
    const doc = parse(fs.readFileSync(files.config, 'utf8')) as {
      scrape_configs: { relabel_configs?: Doc[] }[];
    };
    const job = doc.scrape_configs.find((j) => j.relabel_configs !== undefined);
    job?.relabel_configs?.push({ action: 'keep', regex: '([unclosed' });
    const broken = path.join(dir, 'broken.yml');
    fs.writeFileSync(broken, stringify(doc));
    const result = run(promtool, ['check', 'config', broken]);
    expect(result.status).not.toBe(0);
  });

  it('passes promtool check rules, one file per group', () => {
    expect(files.rules.map((f) => path.basename(f)).sort()).toEqual(
      ['logging.yml', 'monitoring.yml', 'pavemaster-app.yml', 'platform.yml', 'probes.yml'].sort(),
    );
    const result = run(promtool, ['check', 'rules', ...files.rules]);
    expect(result.status).toBe(0);
  });

  it('passes promtool test rules: every alert fires on its fixture and stays quiet on the other', () => {
    const s = r.settings;
    const cases = alertCases({
      appNamespace: s.namespace,
      appName: s.app.appName,
      activeSlot: s.app.activeSlot,
      loggingNamespace: s.logging.namespace,
      shipperNamespace: s.logging.nodeNamespace,
      thresholds: s.monitoring.thresholds,
    });
    let tested = 0;
    for (const ruleFile of files.rules) {
      const doc = parse(fs.readFileSync(ruleFile, 'utf8')) as { groups: { rules: LoadedRule[] }[] };
      const rules = doc.groups.flatMap((g) => g.rules);
      const testFile = ruleFile.replace(/\.yml$/, '.test.yml');
      fs.writeFileSync(testFile, promtoolTests(ruleFile, rules, cases));
      const result = run(promtool, ['test', 'rules', testFile]);
      if (result.status !== 0) {
        throw new Error(`promtool test rules ${path.basename(testFile)} failed:\n${result.output}`);
      }
      tested += rules.length;
    }
    expect(tested).toBe(cases.length);
  });
});

describe('the rule checkers catch broken rules', () => {
  let dir: string;
  let r: Recorded;
  beforeAll(async () => {
    r = await recordWithReceivers('staging');
    dir = tempDir('prom-broken');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('promtool check rules rejects a rule with a broken expression', () => {
    const file = path.join(dir, 'broken.yml');
    const text = configMapData(r.resources, 'monitoring-prometheus-rules')['platform.yml'].replace(
      'up == 0',
      'up == == 0',
    );
    fs.writeFileSync(file, text);
    const result = run(promtool, ['check', 'rules', file]);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/parse error|unexpected/);
  });

  it('promtool test rules fails when a threshold no longer matches the fixture', () => {
    const file = path.join(dir, 'platform.yml');
    // A disk threshold of 100% can never fire: the firing fixture must now fail.
    const text = configMapData(r.resources, 'monitoring-prometheus-rules')['platform.yml'].replace(
      /(node_filesystem_size_bytes\{[^}]*\} > )[0-9.]+/,
      '$11',
    );
    fs.writeFileSync(file, text);
    const doc = parse(text) as { groups: { rules: LoadedRule[] }[] };
    const s = r.settings;
    const cases = alertCases({
      appNamespace: s.namespace,
      appName: s.app.appName,
      activeSlot: s.app.activeSlot,
      loggingNamespace: s.logging.namespace,
      shipperNamespace: s.logging.nodeNamespace,
      thresholds: s.monitoring.thresholds,
    });
    const testFile = path.join(dir, 'platform.test.yml');
    fs.writeFileSync(testFile, promtoolTests(file, doc.groups[0].rules, cases));
    const result = run(promtool, ['test', 'rules', testFile]);
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('NodeDiskFilling');
  });
});

/** Every dashboard query as a recording rule, so that promtool parses it. */
function queriesAsRules(dashboards: Dashboard[]): string {
  const rules = dashboards.flatMap((d) =>
    dashboardQueries(d).map((q, i) => ({
      record: `dashboard:${d.uid.replace(/-/g, '_')}:${i}`,
      expr: q.expr,
    })),
  );
  return stringify({ groups: [{ name: 'dashboard-queries', rules }] });
}

describe('dashboards', () => {
  let r: Recorded;
  let dir: string;
  beforeAll(async () => {
    r = await recordWithReceivers('staging');
    dir = tempDir('dashboards');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('provisions the four dashboards, and promtool parses every panel query', () => {
    const files = configMapData(r.resources, 'monitoring-grafana-dashboards');
    expect(Object.keys(files).sort()).toEqual([
      'application.json',
      'business.json',
      'infrastructure.json',
      'release.json',
    ]);
    const dashboards = Object.values(files).map((text) => JSON.parse(text) as Dashboard);
    const count = dashboards.reduce((n, d) => n + dashboardQueries(d).length, 0);
    expect(count).toBeGreaterThan(30);
    const file = path.join(dir, 'queries.yml');
    fs.writeFileSync(file, queriesAsRules(dashboards));
    const result = run(promtool, ['check', 'rules', file]);
    expect(result.output).toContain(`SUCCESS: ${count} rules found`);
    expect(result.status).toBe(0);
  });

  it('the same check rejects a broken query', () => {
    const broken: Dashboard = JSON.parse(
      configMapData(r.resources, 'monitoring-grafana-dashboards')['application.json'],
    ) as Dashboard;
    const target = broken.panels.find((p) => p.targets !== undefined)?.targets?.[0];
    if (target === undefined) {
      throw new Error('no query');
    }
    target.expr = 'sum by (slot (rate(http_requests_total[5m]))';
    const file = path.join(dir, 'broken.yml');
    fs.writeFileSync(file, queriesAsRules([broken]));
    expect(run(promtool, ['check', 'rules', file]).status).not.toBe(0);
  });
});

describe.each(['staging', 'production'] as const)('%s: Alertmanager configuration', (stack) => {
  let r: Recorded;
  let dir: string;
  let file: string;
  beforeAll(async () => {
    r = await recordWithReceivers(stack);
    dir = tempDir(`am-${stack}`);
    file = path.join(dir, 'alertmanager.yml');
    fs.writeFileSync(file, configMapData(r.resources, 'monitoring-alertmanager-config')['alertmanager.yml']);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('passes amtool check-config', () => {
    const result = run(amtool, ['check-config', file]);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it.each([
    ['critical', `${stack}-critical`],
    ['warning', `${stack}-warning`],
    ['info', `${stack}-info`],
  ])('routes %s alerts of the environment to %s', (severity, receiver) => {
    const result = run(amtool, [
      'config',
      'routes',
      'test',
      `--config.file=${file}`,
      `--verify.receivers=${receiver}`,
      `severity=${severity}`,
      `environment=${stack}`,
      'alertname=Test',
    ]);
    expect(result.stdout.trim()).toBe(receiver);
    expect(result.status).toBe(0);
  });

  it('routes alerts of another environment, or without a severity, to the fallback receiver', () => {
    const other = stack === 'staging' ? 'production' : 'staging';
    for (const labels of [[`environment=${other}`, 'severity=critical'], [`environment=${stack}`]]) {
      const result = run(amtool, [
        'config',
        'routes',
        'test',
        `--config.file=${file}`,
        '--verify.receivers=fallback',
        ...labels,
      ]);
      expect(result.status).toBe(0);
    }
  });

  it('fails a routing test that expects the wrong receiver', () => {
    const result = run(amtool, [
      'config',
      'routes',
      'test',
      `--config.file=${file}`,
      `--verify.receivers=${stack}-warning`,
      'severity=critical',
      `environment=${stack}`,
    ]);
    expect(result.status).not.toBe(0);
  });

  it('amtool check-config rejects a route to a receiver that does not exist', () => {
    const doc = parse(fs.readFileSync(file, 'utf8')) as { route: { receiver: string } };
    doc.route.receiver = 'nobody';
    const broken = path.join(dir, 'broken.yml');
    fs.writeFileSync(broken, stringify(doc));
    expect(run(amtool, ['check-config', broken]).status).not.toBe(0);
  });

  it('holds no credential: only the mounted files are referenced', () => {
    const text = fs.readFileSync(file, 'utf8');
    expect(text).not.toContain(SLACK_URL);
    expect(text).not.toContain(SMTP_PASSWORD);
    expect(text).toContain('api_url_file: /etc/alertmanager/secrets/slack-webhook-url');
    expect(text).toContain('auth_password_file: /etc/alertmanager/secrets/smtp-password');
  });
});

// ---- End to end: the real Alertmanager delivers to local sinks. ----

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

/** A Slack incoming-webhook stand-in: records every JSON body posted to it. */
function slackSink(): Promise<{ port: number; bodies: Doc[]; close: () => Promise<void> }> {
  const bodies: Doc[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      bodies.push(JSON.parse(body) as Doc);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({ port, bodies, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('end to end: the real Alertmanager delivers a critical alert to Slack and email', () => {
  let dir: string;
  let slack: Awaited<ReturnType<typeof slackSink>>;
  let smtp: SmtpSink;
  let am: ChildProcess | undefined;
  let amLog = '';
  let amPort: number;

  beforeAll(async () => {
    const r = await recordWithReceivers('production');
    dir = tempDir('am-e2e');
    slack = await slackSink();
    smtp = await smtpSink({ host: '127.0.0.1' });
    amPort = await freePort();
    // The generated configuration, with the mounted-file paths and the SMTP server pointed at the local sinks.
    const text = configMapData(r.resources, 'monitoring-alertmanager-config')['alertmanager.yml'];
    fs.writeFileSync(path.join(dir, 'slack-webhook-url'), `http://127.0.0.1:${slack.port}/services/hook`);
    fs.writeFileSync(path.join(dir, 'smtp-password'), SMTP_PASSWORD);
    const localized = text
      .replace(/\/etc\/alertmanager\/secrets\//g, `${dir}/`)
      .replace(/smtp\.pavemaster\.example:587/g, `127.0.0.1:${smtp.port}`)
      .replace(/require_tls: true/g, 'require_tls: false');
    const doc = parse(localized) as { route: { group_wait: string } };
    doc.route.group_wait = '1s';
    const configFile = path.join(dir, 'alertmanager.yml');
    fs.writeFileSync(configFile, stringify(doc));
    fs.mkdirSync(path.join(dir, 'data'));
    am = spawn(
      tool('alertmanager', 'prometheus-alertmanager'),
      [
        `--config.file=${configFile}`,
        `--storage.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${amPort}`,
        '--cluster.listen-address=',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    am.stdout?.on('data', (b: Buffer) => (amLog += b.toString()));
    am.stderr?.on('data', (b: Buffer) => (amLog += b.toString()));
    await waitFor('Alertmanager ready', async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${amPort}/-/ready`);
        return res.ok ? true : undefined;
      } catch {
        return undefined;
      }
    });
  });

  afterAll(async () => {
    if (am !== undefined && am.exitCode === null) {
      const exited = new Promise((resolve) => am?.once('exit', resolve));
      am.kill('SIGTERM');
      await exited;
    }
    await slack.close();
    await smtp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('delivers the alert to the critical Slack channel and by email with the SMTP password', async () => {
    const res = await fetch(`http://127.0.0.1:${amPort}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        {
          labels: {
            alertname: 'PavemasterHighErrorRate',
            severity: 'critical',
            environment: 'production',
            namespace: 'pavemaster-production',
            slot: 'blue',
          },
          annotations: {
            summary: 'PaveMaster blue slot answers with server errors',
            description: 'More than 2% of the requests failed.',
            runbook_url: 'docs/runbooks.md#pavemasterhigherrorrate',
          },
        },
      ]),
    });
    expect(res.status).toBe(200);

    const body = await waitFor('the Slack message', () => slack.bodies[0]).catch((e: Error) => {
      throw new Error(`${e.message}\nAlertmanager log:\n${amLog}`);
    });
    expect(body.channel).toBe('#pavemaster-production-critical');
    expect(JSON.stringify(body)).toContain('PavemasterHighErrorRate');
    expect(JSON.stringify(body)).toContain('docs/runbooks.md#pavemasterhigherrorrate');

    const mail = await waitFor('the email', () => smtp.mails[0]).catch((e: Error) => {
      throw new Error(`${e.message}\nAlertmanager log:\n${amLog}`);
    });
    expect(mail.to).toEqual(['<oncall@pavemaster.example>']);
    expect(mail.from).toBe('<alerts@pavemaster.example>');
    // AUTH PLAIN is "authzid\0user\0password": the password came from the mounted file.
    expect(mail.auth?.split('\0')).toEqual(['', 'alerts', SMTP_PASSWORD]);
    expect(mail.data).toContain('PavemasterHighErrorRate');
    expect(mail.data).toMatch(/Subject: \[production\]/);
  });
});
