/**
 * The monitoring stack under Pulumi's mocks, for both committed stacks: what is created and how it is wired,
 * high availability and protection in production, secrets that never appear in plain text, least-privilege
 * RBAC, restricted security and resources on every container, the node-exporter exception, the settings'
 * validation, and the runbooks document covering every alert.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as pulumi from '@pulumi/pulumi';
import { parse } from 'yaml';
import {
  checkMonitoringOptions,
  Monitoring,
  MonitoringArgs,
  receivers,
  resolveMonitoringOptions,
  validateMonitoringArgs,
} from '../../../components/monitoring/Monitoring';
import { CA_WRITER_RULES } from '../../../components/logging/tls';
import { PROMETHEUS_CLUSTER_RULES } from '../../../components/monitoring/Prometheus';
import { toResourceRequirements } from '../../../components/shared/resources';
import { alertNames, alertRuleGroups } from '../../../components/monitoring/rules';
import { ConfigError } from '../../../stacks/problems';
import { loadSettings } from '../../../stacks/settings';
import { at, find, isSecret, ofType, record, recordStack, Registered, unsecret } from '../../support/harness';
import { REPO, stackConfig } from '../../support/stackConfig';
import { selfSigned } from '../../support/selfSigned';
import { EMAIL_RECEIVER } from '../../support/receivers';

const STATEFULSET = 'kubernetes:apps/v1:StatefulSet';
const DEPLOYMENT = 'kubernetes:apps/v1:Deployment';
const DAEMONSET = 'kubernetes:apps/v1:DaemonSet';
const SLACK_URL = 'https://hooks.slack.example/services/T000/B000/unit-test-secret';
const SMTP_PASSWORD = 'unit-test-smtp-password';
const WITH_RECEIVERS = {
  slackWebhookUrl: SLACK_URL,
  smtpPassword: SMTP_PASSWORD,
  monitoring: {
    alerting: {
      email: EMAIL_RECEIVER,
    },
  },
};

type Doc = Record<string, unknown>;

function podSpec(r: Registered): Doc {
  return at(r.inputs, 'spec.template.spec') as Doc;
}

function containers(r: Registered): Doc[] {
  const spec = podSpec(r);
  return [
    ...((spec.initContainers as Doc[] | undefined) ?? []),
    ...((spec.containers as Doc[] | undefined) ?? []),
  ];
}

function workloads(resources: readonly Registered[], namespaces: string[]): Registered[] {
  return resources.filter(
    (r) =>
      [STATEFULSET, DEPLOYMENT, DAEMONSET].includes(r.type) &&
      namespaces.includes(at(r.inputs, 'metadata.namespace') as string),
  );
}

function byObjectName(resources: readonly Registered[], type: string, name: string): Registered {
  const found = resources.find((r) => r.type === type && at(r.inputs, 'metadata.name') === name);
  if (found === undefined) {
    throw new Error(`no ${type} with metadata.name ${name}`);
  }
  return found;
}

/** Every string in a value, except those inside Pulumi secret markers. */
function plainStrings(value: unknown, out: string[] = []): string[] {
  if (isSecret(value)) {
    return out;
  }
  if (typeof value === 'string') {
    out.push(value);
  } else if (Array.isArray(value)) {
    value.forEach((v) => plainStrings(v, out));
  } else if (typeof value === 'object' && value !== null) {
    Object.values(value).forEach((v) => plainStrings(v, out));
  }
  return out;
}

describe.each(['staging', 'production'] as const)('%s monitoring stack', (stack) => {
  let resources: Registered[];
  let settings: Awaited<ReturnType<typeof recordStack>>['settings'];
  let ns: string;
  let nodeNs: string;
  const production = stack === 'production';

  beforeAll(async () => {
    ({ resources, settings } = await recordStack(stack, stackConfig(stack, WITH_RECEIVERS)));
    ns = settings.monitoring.namespace;
    nodeNs = `${ns}-node`;
  });

  it('puts every service under one Monitoring component', () => {
    const parent = find(resources, 'pavemaster:monitoring:Monitoring', 'monitoring');
    expect(parent.parent).toBeUndefined();
    for (const type of [
      'Prometheus',
      'Alertmanager',
      'Grafana',
      'KubeStateMetrics',
      'NodeExporter',
      'BlackboxExporter',
    ]) {
      const component = ofType(resources, `pavemaster:monitoring:${type}`);
      expect(component).toHaveLength(1);
      expect(component[0].parent).toEqual({ type: 'pavemaster:monitoring:Monitoring', name: 'monitoring' });
    }
    // Every Kubernetes object of a service is a child of its component, named after it.
    for (const r of resources.filter(
      (x) => x.parent?.type.startsWith('pavemaster:monitoring:') && x.custom,
    )) {
      expect(r.name.startsWith(`${r.parent?.name ?? ''}-`)).toBe(true);
    }
  });

  it('runs the services in the monitoring namespace and node-exporter alone in a privileged one', () => {
    const names = workloads(resources, [ns, nodeNs]).map(
      (r) =>
        `${at(r.inputs, 'metadata.namespace') as string}/${r.type.split(':').pop() ?? ''}/${at(r.inputs, 'metadata.name') as string}`,
    );
    expect(names.sort()).toEqual(
      [
        `${ns}/StatefulSet/prometheus`,
        `${ns}/StatefulSet/alertmanager`,
        `${ns}/Deployment/grafana`,
        `${ns}/Deployment/kube-state-metrics`,
        `${ns}/Deployment/blackbox-exporter`,
        `${nodeNs}/DaemonSet/node-exporter`,
      ].sort(),
    );
    const labels = (name: string) =>
      at(byObjectName(resources, 'kubernetes:core/v1:Namespace', name).inputs, 'metadata.labels') as Record<
        string,
        string
      >;
    expect(labels(ns)['pod-security.kubernetes.io/enforce']).toBe('restricted');
    expect(labels(nodeNs)['pod-security.kubernetes.io/enforce']).toBe('privileged');
    // Only node-exporter uses host namespaces or host paths.
    for (const w of workloads(resources, [ns, nodeNs])) {
      const spec = podSpec(w);
      const host =
        spec.hostNetwork === true ||
        spec.hostPID === true ||
        JSON.stringify(spec.volumes ?? []).includes('hostPath');
      expect([w.type, at(w.inputs, 'metadata.name'), host]).toEqual([
        w.type,
        at(w.inputs, 'metadata.name'),
        w.type === DAEMONSET,
      ]);
    }
  });

  it('sizes the services from the settings: HA in production, single replicas in staging', () => {
    const m = settings.monitoring;
    const prom = byObjectName(resources, STATEFULSET, 'prometheus');
    const am = byObjectName(resources, STATEFULSET, 'alertmanager');
    const grafana = byObjectName(resources, DEPLOYMENT, 'grafana');
    expect(at(prom.inputs, 'spec.replicas')).toBe(production ? 2 : 1);
    expect(at(am.inputs, 'spec.replicas')).toBe(production ? 3 : 1);
    expect(at(grafana.inputs, 'spec.replicas')).toBe(production ? 2 : 1);
    expect(containers(prom)[0].args).toContain(`--storage.tsdb.retention.time=${m.prometheus.retention}`);
    expect(at(prom.inputs, 'spec.volumeClaimTemplates')).toEqual([
      expect.objectContaining({
        spec: expect.objectContaining({ resources: { requests: { storage: m.prometheus.storage } } }),
      }),
    ]);
    expect(containers(prom)[0].resources).toEqual(toResourceRequirements(m.prometheus.resources));
    const amArgs = containers(am)[0].args as string[];
    const peers = amArgs.filter((a) => a.startsWith('--cluster.peer='));
    if (production) {
      expect(peers).toEqual(
        [0, 1, 2].map((i) => `--cluster.peer=alertmanager-${i}.alertmanager-cluster.${ns}.svc:9094`),
      );
      expect(amArgs).toContain('--cluster.listen-address=0.0.0.0:9094');
    } else {
      expect(peers).toEqual([]);
      expect(amArgs).toContain('--cluster.listen-address=');
    }
    const pdbs = ofType(resources, 'kubernetes:policy/v1:PodDisruptionBudget')
      .filter((r) => at(r.inputs, 'metadata.namespace') === ns)
      .map((r) => at(r.inputs, 'metadata.name'));
    expect(pdbs.sort()).toEqual(production ? ['alertmanager', 'grafana', 'prometheus'] : []);
  });

  it('protects stateful data in production only', () => {
    for (const name of ['prometheus', 'alertmanager']) {
      const set = byObjectName(resources, STATEFULSET, name);
      expect(set.protect).toBe(production);
      expect(at(set.inputs, 'spec.persistentVolumeClaimRetentionPolicy')).toEqual(
        production
          ? { whenDeleted: 'Retain', whenScaled: 'Retain' }
          : { whenDeleted: 'Delete', whenScaled: 'Delete' },
      );
    }
  });

  it('never registers a secret value in plain text', () => {
    const secrets = [SLACK_URL, SMTP_PASSWORD, 'mock-password-monitoring-grafana-admin-password'];
    for (const r of resources) {
      for (const text of plainStrings(r.inputs)) {
        for (const secret of secrets) {
          if (text.includes(secret)) {
            throw new Error(`${r.type} ${r.name} holds a secret in plain text`);
          }
        }
      }
    }
    const amSecret = byObjectName(resources, 'kubernetes:core/v1:Secret', 'alertmanager-secrets');
    expect(isSecret(amSecret.inputs.stringData)).toBe(true);
    expect(JSON.stringify(amSecret.inputs.stringData)).toContain(SLACK_URL);
    expect(JSON.stringify(amSecret.inputs.stringData)).toContain(SMTP_PASSWORD);
    const grafanaSecret = byObjectName(resources, 'kubernetes:core/v1:Secret', 'grafana-secrets');
    expect(isSecret(grafanaSecret.inputs.stringData)).toBe(true);
    // The committed stack files hold none of them either.
    const committed = fs.readFileSync(path.join(REPO, `Pulumi.${stack}.yaml`), 'utf8');
    expect(committed).not.toMatch(/slackWebhookUrl|smtpPassword/);
  });

  it('grants RBAC without wildcards or write verbs, Prometheus exactly what discovery needs', () => {
    const roles = [
      ...ofType(resources, 'kubernetes:rbac.authorization.k8s.io/v1:ClusterRole'),
      ...ofType(resources, 'kubernetes:rbac.authorization.k8s.io/v1:Role'),
    ].filter((r) => r.parent?.type.startsWith('pavemaster:monitoring:') === true);
    // Grafana's one write grant is not for a monitoring pod: it lets the logging stack's certificate Job publish
    // its public CA ConfigMap here (create it, then read or replace only it; test/unit/logging/stack.test.ts).
    const caGrant = roles.filter((r) => r.name === 'monitoring-grafana-logging-ca-role');
    expect(caGrant.map((r) => r.inputs.rules)).toEqual([CA_WRITER_RULES]);
    roles.splice(roles.indexOf(caGrant[0]), 1);
    expect(roles.length).toBeGreaterThanOrEqual(2);
    for (const role of roles) {
      for (const rule of role.inputs.rules as Doc[]) {
        for (const field of ['apiGroups', 'resources', 'verbs', 'nonResourceURLs']) {
          expect((rule[field] as string[] | undefined) ?? []).not.toContain('*');
        }
        for (const verb of rule.verbs as string[]) {
          expect(['get', 'list', 'watch']).toContain(verb);
        }
        expect((rule.resources as string[] | undefined) ?? []).not.toContain('secrets');
        expect((rule.resources as string[] | undefined) ?? []).not.toContain('nodes/proxy');
      }
    }
    const prom = roles.find((r) => r.name === 'monitoring-prometheus-role');
    expect(prom?.inputs.rules).toEqual(PROMETHEUS_CLUSTER_RULES);
  });

  it('runs every container restricted, with requests and limits', () => {
    for (const w of workloads(resources, [ns, nodeNs])) {
      const pod = podSpec(w);
      expect(at(pod, 'securityContext.runAsNonRoot')).toBe(true);
      expect(at(pod, 'securityContext.seccompProfile.type')).toBe('RuntimeDefault');
      for (const c of containers(w)) {
        const where = `${at(w.inputs, 'metadata.name') as string}/${c.name as string}`;
        expect([where, c.securityContext]).toEqual([
          where,
          expect.objectContaining({
            allowPrivilegeEscalation: false,
            privileged: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            capabilities: { drop: ['ALL'] },
          }),
        ]);
        for (const kind of ['requests', 'limits']) {
          expect([where, Object.keys((at(c, `resources.${kind}`) as Doc | undefined) ?? {}).sort()]).toEqual([
            where,
            ['cpu', 'ephemeral-storage', 'memory'],
          ]);
        }
        expect(typeof c.image === 'string' && (!production || c.image.includes('@sha256:'))).toBe(true);
      }
    }
  });

  it('closes every monitoring pod behind a NetworkPolicy that names it', () => {
    const policies = ofType(resources, 'kubernetes:networking.k8s.io/v1:NetworkPolicy').filter((p) =>
      [ns, nodeNs].includes(at(p.inputs, 'metadata.namespace') as string),
    );
    for (const w of workloads(resources, [ns, nodeNs])) {
      const labels = at(w.inputs, 'spec.template.metadata.labels') as Record<string, string>;
      const covering = policies.filter((p) => {
        const match = at(p.inputs, 'spec.podSelector.matchLabels') as Record<string, string> | undefined;
        return (
          match !== undefined &&
          Object.keys(match).length > 0 &&
          Object.entries(match).every(([k, v]) => labels[k] === v)
        );
      });
      expect([at(w.inputs, 'metadata.name'), covering.length]).toEqual([at(w.inputs, 'metadata.name'), 1]);
    }
  });

  it('tells kube-state-metrics to expose the slot labels and release annotations', () => {
    const args = containers(byObjectName(resources, DEPLOYMENT, 'kube-state-metrics'))[0].args as string[];
    expect(args).toContain(
      '--metric-labels-allowlist=pods=[app,slot,version],deployments=[app,slot,version]',
    );
    expect(args).toContain(
      '--metric-annotations-allowlist=deployments=[pavemaster.io/release-id,pavemaster.io/released-at]',
    );
  });

  it('scrapes annotated pods keeping slot and version, and probes the public, active and preview URLs', () => {
    const config = parse(
      (
        at(
          byObjectName(resources, 'kubernetes:core/v1:ConfigMap', 'prometheus-config').inputs,
          'data',
        ) as Record<string, string>
      )['prometheus.yml'],
    ) as { scrape_configs: Doc[]; global: Doc };
    expect(at(config.global, 'external_labels.environment')).toBe(settings.environment);
    const pods = config.scrape_configs.find((j) => j.job_name === 'kubernetes-pods');
    const targetLabels = (pods?.relabel_configs as Doc[]).map((r) => r.target_label);
    expect(targetLabels).toEqual(expect.arrayContaining(['slot', 'version', 'app', 'namespace', 'pod']));
    const probes = config.scrape_configs.find((j) => j.job_name === 'blackbox-http');
    const targets = (probes?.static_configs as { targets: string[]; labels: { probe: string } }[]).map(
      (s) => [s.labels.probe, s.targets[0]],
    );
    const app = settings.app;
    expect(targets).toEqual([
      ['public', `${production ? 'https' : 'http'}://${app.host}${app.healthPath}`],
      ['active', `http://${app.appName}.${settings.namespace}.svc${app.healthPath}`],
      ['preview', `http://${app.appName}-preview.${settings.namespace}.svc${app.healthPath}`],
    ]);
  });
});

/** The Monitoring component as the program builds it from a stack's settings, watching a given app. */
function monitoringArgs(stack: string, extra: Partial<MonitoringArgs> = {}): MonitoringArgs {
  const settings = loadSettings(stack, stackConfig(stack));
  return {
    ...settings.monitoring,
    environment: settings.environment,
    app: {
      namespace: settings.namespace,
      name: 'pavemaster',
      healthPath: '/healthz',
      activeService: 'pavemaster',
      previewService: 'pavemaster-preview',
      url: undefined,
    },
    ...extra,
  };
}

describe('receivers without their secrets', () => {
  it('are left out of the Alertmanager config, with a warning, never a placeholder', async () => {
    const warnings: string[] = [];
    const warn = jest.spyOn(pulumi.log, 'warn').mockImplementation((message: string) => {
      warnings.push(message);
      return Promise.resolve();
    });
    let monitoring: Monitoring | undefined;
    const resources = await record(() => {
      monitoring = new Monitoring('monitoring', monitoringArgs('staging'));
    });
    warn.mockRestore();
    const text = (
      at(
        byObjectName(resources, 'kubernetes:core/v1:ConfigMap', 'alertmanager-config').inputs,
        'data',
      ) as Record<string, string>
    )['alertmanager.yml'];
    expect(text).not.toContain('slack_configs');
    expect(text).not.toContain('email_configs');
    expect(monitoring?.receivers).toEqual([]);
    // Grafana's generated admin password is exported, as a secret.
    const password = monitoring?.grafanaAdminPassword;
    expect(password === undefined ? false : await pulumi.isSecret(password)).toBe(true);
    expect(warnings.join('\n')).toContain('pavemaster:slackWebhookUrl is not set');
  });

  it('are decided by one pure function: an SMTP user needs its password, Slack its webhook', () => {
    const o = resolveMonitoringOptions('staging', {
      alerting: {
        email: {
          enabled: true,
          to: ['a@b.example'],
          from: 'c@b.example',
          smarthost: 'smtp.b.example:25',
          username: 'u',
        },
      },
    });
    expect(receivers(o)).toMatchObject({ email: undefined, slack: undefined });
    expect(receivers({ ...o, smtpPassword: 'p', slackWebhookUrl: 'https://hooks.example/x' })).toMatchObject({
      email: { username: 'u', password: 'p', smarthost: 'smtp.b.example:25' },
      slack: {
        webhookUrl: 'https://hooks.example/x',
        channels: { critical: '#pavemaster-staging-critical' },
      },
      warnings: [],
    });
  });
});

/** A self-signed CA certificate made now by openssl (nothing key-shaped in git). */
function makeCaPem(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'monitoring-ca-'));
  try {
    return selfSigned(dir, 'ca', { cn: 'unit test receivers CA', ec: true }).pem;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('receivers behind a private CA (alerting.caPem)', () => {
  it('verify the Slack webhook and the SMTP server against the CA, mounted from the Secret', async () => {
    const caPem = makeCaPem();
    const settings = loadSettings(
      'production',
      stackConfig('production', {
        ...WITH_RECEIVERS,
        monitoring: { alerting: { ...WITH_RECEIVERS.monitoring.alerting, caPem } },
      }),
    );
    expect(settings.monitoring.alerting.caPem).toBe(caPem);
    const resources = await record(() => {
      new Monitoring('monitoring', {
        ...settings.monitoring,
        environment: settings.environment,
        app: {
          namespace: settings.namespace,
          name: 'pavemaster',
          healthPath: '/healthz',
          activeService: 'pavemaster',
          previewService: 'pavemaster-preview',
          url: undefined,
        },
      });
    });
    const config = parse(
      (
        at(
          byObjectName(resources, 'kubernetes:core/v1:ConfigMap', 'alertmanager-config').inputs,
          'data',
        ) as Record<string, string>
      )['alertmanager.yml'],
    ) as { receivers: { name: string; email_configs?: Doc[]; slack_configs?: Doc[] }[] };
    const caFile = '/etc/alertmanager/secrets/receivers-ca.pem';
    const emails = config.receivers.flatMap((r) => r.email_configs ?? []);
    const slacks = config.receivers.flatMap((r) => r.slack_configs ?? []);
    expect(emails.length).toBeGreaterThan(0);
    expect(slacks.length).toBeGreaterThan(0);
    expect(emails.map((e) => e.tls_config)).toEqual(emails.map(() => ({ ca_file: caFile })));
    expect(slacks.map((e) => e.http_config)).toEqual(slacks.map(() => ({ tls_config: { ca_file: caFile } })));
    // The CA is a file of Alertmanager's Secret, beside the credentials, mounted where the config names it.
    const secret = byObjectName(resources, 'kubernetes:core/v1:Secret', 'alertmanager-secrets');
    expect(Object.keys(unsecret(at(secret.inputs, 'stringData')) as Doc).sort()).toEqual([
      'receivers-ca.pem',
      'slack-webhook-url',
      'smtp-password',
    ]);
    expect((unsecret(at(secret.inputs, 'stringData')) as Doc)['receivers-ca.pem']).toBe(caPem);
  });

  it('leave the system CAs in place when unset, and refuse text that is not a certificate', () => {
    const o = resolveMonitoringOptions('staging', {});
    expect(o.alerting.caPem).toBeUndefined();
    const problems = (caPem: string): string[] => {
      try {
        loadSettings('staging', stackConfig('staging', { monitoring: { alerting: { caPem } } }));
      } catch (e) {
        if (e instanceof ConfigError) {
          return e.problems.map((p) => `${p.key}: ${p.allowed}`);
        }
        throw e;
      }
      return [];
    };
    expect(problems('not a certificate')).toEqual([
      expect.stringMatching(
        /^pavemaster:monitoring\.alerting\.caPem: .*PEM text of one or more "BEGIN CERTIFICATE" blocks/,
      ),
    ]);
    const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    expect(problems(broken)).toEqual([expect.stringMatching(/certificate 1 does not parse/)]);
  });
});

describe('the Elasticsearch datasource', () => {
  it('is provisioned from the logging stack outputs, its password only in a Secret', async () => {
    // No receiver is configured here: the warnings about it are expected.
    const warn = jest.spyOn(pulumi.log, 'warn').mockImplementation(() => Promise.resolve());
    const resources = await record(() => {
      new Monitoring(
        'monitoring',
        monitoringArgs('staging', {
          elasticsearch: {
            url: 'http://elasticsearch.pavemaster-staging-logging.svc:9200',
            namespace: 'pavemaster-staging-logging',
            port: 9200,
            username: 'grafana_reader',
            password: pulumi.secret('es-reader-password'),
            index: 'logs-pavemaster-*',
            timeField: '@timestamp',
          },
        }),
      );
    });
    warn.mockRestore();
    const provisioning = byObjectName(resources, 'kubernetes:core/v1:ConfigMap', 'grafana-provisioning');
    const datasources = parse((provisioning.inputs.data as Record<string, string>)['datasources.yml']) as {
      datasources: Doc[];
    };
    expect(datasources.datasources.map((d) => d.type)).toEqual(['prometheus', 'elasticsearch']);
    expect(datasources.datasources[1]).toEqual(
      expect.objectContaining({
        url: 'http://elasticsearch.pavemaster-staging-logging.svc:9200',
        basicAuthUser: 'grafana_reader',
        secureJsonData: { basicAuthPassword: '$__file{/etc/grafana/secrets/elasticsearch-password}' },
      }),
    );
    for (const r of resources) {
      expect(plainStrings(r.inputs).some((s) => s.includes('es-reader-password'))).toBe(false);
    }
    // The file Grafana expands is a key of the Secret mounted at that directory; no secret is in the environment
    // (checkov CKV_K8S_35).
    const grafana = byObjectName(resources, DEPLOYMENT, 'grafana');
    const [container] = containers(grafana);
    const env = container.env as Doc[];
    expect(env.filter((e) => e.valueFrom !== undefined)).toEqual([]);
    expect(env).toContainEqual({
      name: 'GF_SECURITY_ADMIN_PASSWORD__FILE',
      value: '/etc/grafana/secrets/admin-password',
    });
    expect(container.volumeMounts).toContainEqual({
      name: 'secrets',
      mountPath: '/etc/grafana/secrets',
      readOnly: true,
    });
    expect(at(grafana.inputs, 'spec.template.spec.volumes')).toContainEqual({
      name: 'secrets',
      secret: { secretName: 'grafana-secrets', defaultMode: 0o440 },
    });
    const secret = byObjectName(resources, 'kubernetes:core/v1:Secret', 'grafana-secrets');
    expect(Object.keys(unsecret(at(secret.inputs, 'stringData')) as Doc).sort()).toEqual([
      'admin-password',
      'elasticsearch-password',
    ]);
    // A high uid and gid (kube-score, checkov CKV_K8S_40), files of the data emptyDir group-owned by it.
    expect(at(grafana.inputs, 'spec.template.spec.securityContext')).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      fsGroup: 10001,
    });
  });
});

describe('monitoring settings', () => {
  const problems = (overrides: Record<string, unknown>, stack = 'staging'): string[] => {
    try {
      loadSettings(stack, stackConfig(stack, overrides));
    } catch (e) {
      if (e instanceof ConfigError) {
        return e.problems.map((p) => p.key);
      }
      throw e;
    }
    return [];
  };

  it('has per-environment defaults', () => {
    const staging = loadSettings('staging', stackConfig('staging')).monitoring;
    const production = loadSettings('production', stackConfig('production')).monitoring;
    expect([
      staging.prometheus.replicas,
      staging.alertmanager.replicas,
      staging.prometheus.retention,
    ]).toEqual([1, 1, '7d']);
    expect([
      production.prometheus.replicas,
      production.alertmanager.replicas,
      production.prometheus.retention,
    ]).toEqual([2, 3, '30d']);
    expect(production.thresholds.errorRatio).toBeLessThan(staging.thresholds.errorRatio);
  });

  it('reports every bad value with its key', () => {
    expect(
      problems({
        monitoring: {
          scrapeInterval: '30 seconds',
          prometheus: { retention: 'forever', storage: 'big', replicas: 0 },
          alertmanager: { resources: { requests: { cpu: '2' }, limits: { cpu: '1' } } },
          thresholds: { errorRatio: 2, noTrafficMinutes: 0 },
          alerting: {
            email: { enabled: true, to: ['not-an-address'] },
            slack: { channels: { critical: 'alerts' } },
          },
          images: { grafana: 'Grafana:latest' },
          retention: '7d',
        },
        slackWebhookUrl: 'http://insecure.example/hook',
      }).sort(),
    ).toEqual(
      [
        'pavemaster:monitoring.scrapeInterval',
        'pavemaster:monitoring.prometheus.retention',
        'pavemaster:monitoring.prometheus.storage',
        'pavemaster:monitoring.prometheus.replicas',
        'pavemaster:monitoring.alertmanager.resources.requests.cpu',
        'pavemaster:monitoring.thresholds.errorRatio',
        'pavemaster:monitoring.thresholds.noTrafficMinutes',
        'pavemaster:monitoring.alerting.email.to[0]',
        'pavemaster:monitoring.alerting.email.from',
        'pavemaster:monitoring.alerting.email.smarthost',
        'pavemaster:monitoring.alerting.slack.channels.critical',
        'pavemaster:monitoring.images.grafana',
        'pavemaster:monitoring.retention',
        'pavemaster:slackWebhookUrl',
      ].sort(),
    );
  });

  it('refuses a production Alertmanager that is not clustered, or an unpinned production image', () => {
    expect(
      problems(
        { monitoring: { alertmanager: { replicas: 1 }, images: { prometheus: 'prom/prometheus:v3.13.1' } } },
        'production',
      ),
    ).toEqual(['pavemaster:monitoring.alertmanager.replicas', 'pavemaster:monitoring.images.prometheus']);
  });

  it('never shows a secret value in a problem', () => {
    try {
      loadSettings('staging', stackConfig('staging', { slackWebhookUrl: 'not a url but a secret' }));
      throw new Error('expected a ConfigError');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as Error).message).not.toContain('not a url but a secret');
    }
  });
});

describe('runbooks', () => {
  it('docs/runbooks.md has a section per alert, at the anchor each alert links to', () => {
    const doc = fs.readFileSync(path.join(REPO, 'docs', 'runbooks.md'), 'utf8');
    const headings = [...doc.matchAll(/^## (\S+)$/gm)].map((m) => m[1]);
    const groups = alertRuleGroups({
      appNamespace: 'app',
      appName: 'pavemaster',
      logging: { namespace: 'log', shipperNamespace: 'log-node' },
      thresholds: loadSettings('staging', stackConfig('staging')).monitoring.thresholds,
      runbookBase: 'docs/runbooks.md',
    });
    expect(headings.sort()).toEqual(alertNames(groups).sort());
    for (const rule of groups.flatMap((g) => g.rules)) {
      expect(rule.annotations.runbook_url).toBe(`docs/runbooks.md#${rule.alert.toLowerCase()}`);
      for (const part of ['**Meaning**', '**First checks**', '**Fixes**']) {
        const section = doc.split(`## ${rule.alert}\n`)[1]?.split(/^## /m)[0] ?? '';
        expect([rule.alert, section.includes(part)]).toEqual([rule.alert, true]);
      }
    }
  });
});

describe('the Monitoring component', () => {
  it('refuses arguments it cannot default, listing every bad one', () => {
    const args = monitoringArgs('staging', {
      namespace: 'Bad_Namespace',
      thresholds: { errorRatio: 5 },
      alerting: { email: { enabled: true, to: [], from: 'a@b.example', smarthost: 'smtp' } },
    });
    expect(checkMonitoringOptions(resolveMonitoringOptions('staging', args)).map((p) => p.path)).toEqual([
      'namespace',
      'thresholds.errorRatio',
      'alerting.email.to',
      'alerting.email.smarthost',
    ]);
    expect(() => validateMonitoringArgs('m', args)).toThrow(
      [
        'Monitoring m: invalid arguments:',
        '  - namespace = "Bad_Namespace": an RFC 1123 label: at most 58 lowercase letters, digits and "-", starting and ending with a letter or digit',
        '  - thresholds.errorRatio = 5: a ratio in (0, 1]',
        '  - alerting.email.to = []: at least one recipient when alerting.email.enabled is true',
        '  - alerting.email.smarthost = "smtp": a server "host:port", e.g. "smtp.example.com:587"',
      ].join('\n'),
    );
  });
});
