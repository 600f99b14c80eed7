/**
 * A stack that ships its logs to an existing Elasticsearch (`pavemaster:logging.elasticsearch.external`), as the
 * program registers it under Pulumi's mocks: none of the stack's own Elasticsearch nor what only serves it, and a
 * Logstash that writes to the external endpoints with the given CA and the credentials of the given Secret, by
 * reference, allowed out only to the given destinations.
 */
import * as pulumi from '@pulumi/pulumi';
import { parse as parseYaml } from 'yaml';
import { Logging } from '../../../components/logging/Logging';
import { EXTERNAL_CA_FILE } from '../../../components/logging/Logstash';
import { CA_CONFIG_MAP, ES_CERT_SECRET, LOGSTASH_CERT_SECRET } from '../../../components/logging/tls';
import { at, find, isSecret, ofType, record, recordStack, Registered } from '../../support/harness';
import { stackConfig } from '../../support/stackConfig';

const STS = 'kubernetes:apps/v1:StatefulSet';
const NETPOL = 'kubernetes:networking.k8s.io/v1:NetworkPolicy';
const CONFIG_MAP = 'kubernetes:core/v1:ConfigMap';

const API_KEY_EXTERNAL = {
  hosts: ['https://logs.example.com:9243', 'https://logs-2.example.com:9243'],
  ca: { configMap: 'logs-ca', key: 'root.pem' },
  credentials: { secret: 'logs-writer', type: 'apiKey', apiKeyKey: 'key' },
  egress: [{ cidr: '203.0.113.0/24', except: ['203.0.113.128/25'], ports: [9243] }],
  dataStream: { dataset: 'pavemaster.app', namespace: 'team_a' },
};
const ECK_EXTERNAL = {
  hosts: ['https://logs-es-http.elastic-system.svc:9200'],
  ca: { secret: 'logs-es-http-certs-public', key: 'ca.crt' },
  credentials: { secret: 'logs-writer', type: 'basic' },
  egress: [
    {
      namespace: 'elastic-system',
      podLabels: { 'elasticsearch.k8s.elastic.co/cluster-name': 'logs' },
      ports: [9200],
    },
  ],
};
const SYSTEM_TRUST_EXTERNAL = { ...API_KEY_EXTERNAL, ca: { systemTrustStore: true } };

type Container = {
  name: string;
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
};
type Volume = {
  name: string;
  configMap?: { name: string; items?: { key: string; path: string }[] };
  secret?: { secretName: string; items?: { key: string; path: string }[] };
};

const recorded: Record<string, { resources: Registered[]; outputs: Record<string, unknown> }> = {};
beforeAll(async () => {
  const run = async (id: string, stack: string, external: unknown) => {
    recorded[id] = await recordStack(stack, stackConfig(stack, { logging: { elasticsearch: { external } } }));
  };
  // Pulumi's mocks are process-wide: one stack after the other.
  await run('apiKey', 'staging', API_KEY_EXTERNAL);
  await run('eck', 'production', ECK_EXTERNAL);
  await run('system', 'staging', SYSTEM_TRUST_EXTERNAL);
}, 180_000);

const logging = (rs: readonly Registered[]) =>
  rs.filter((r) => r.name.startsWith('logging-') || r.name === 'logging');

function logstashPod(rs: readonly Registered[]): { containers: Container[]; volumes: Volume[] } {
  const sts = find(rs, STS, 'logging-logstash-statefulset');
  return at(sts.inputs, 'spec.template.spec') as { containers: Container[]; volumes: Volume[] };
}

function pipeline(rs: readonly Registered[]): string {
  return (find(rs, CONFIG_MAP, 'logging-logstash-config').inputs.data as Record<string, string>)[
    'logstash.conf'
  ];
}

describe('with an external Elasticsearch', () => {
  it.each(['apiKey', 'eck', 'system'])(
    '%s: deploys none of its own Elasticsearch, Kibana, exporter, setup Job, node certificate or passwords',
    (id) => {
      const rs = logging(recorded[id].resources);
      for (const type of ['Elasticsearch', 'Kibana', 'ElasticsearchExporter']) {
        expect(ofType(rs, `pavemaster:logging:${type}`)).toEqual([]);
      }
      expect(ofType(rs, 'random:index/randomPassword:RandomPassword')).toEqual([]);
      expect(ofType(rs, 'kubernetes:batch/v1:Job').map((j) => j.name)).toEqual([
        'logging-elasticsearch-certs-job',
      ]);
      expect(ofType(rs, STS).map((s) => s.name)).toEqual(['logging-logstash-statefulset']);
      expect(ofType(rs, 'kubernetes:apps/v1:Deployment')).toEqual([]);
      expect(ofType(rs, 'kubernetes:networking.k8s.io/v1:Ingress')).toEqual([]);
      // Still there: both namespaces, Logstash, the shipper and its certificates.
      for (const type of ['Logstash', 'LogShipper']) {
        expect(ofType(rs, `pavemaster:logging:${type}`)).toHaveLength(1);
      }
      expect(
        ofType(rs, 'kubernetes:core/v1:Namespace').map((n) => at(n.inputs, 'metadata.name')),
      ).toHaveLength(2);
      // No credential of any kind is registered: the external cluster's stays in its Secret.
      expect(ofType(rs, 'kubernetes:core/v1:Secret')).toEqual([]);
      const secrets = JSON.stringify(
        rs.map((r) => r.inputs),
        (_k, v: unknown) => (isSecret(v) ? '<<secret>>' : v),
      );
      expect(secrets).not.toContain('<<secret>>');
    },
  );

  it("makes only Logstash's certificate, for the logging and shipper namespaces (not monitoring's)", () => {
    const rs = recorded.apiKey.resources;
    const script = (
      find(rs, CONFIG_MAP, 'logging-elasticsearch-certs-script').inputs.data as Record<string, string>
    )['certs.sh'];
    expect(script).toContain(`/secrets/${LOGSTASH_CERT_SECRET}"`);
    expect(script).not.toContain(`secrets ${ES_CERT_SECRET}`);
    expect(script).not.toContain(`"name":"${ES_CERT_SECRET}"`);
    expect(script).not.toContain('--name node');
    expect(script).toContain(`publish_ca pavemaster-staging-logging pavemaster-staging-logging-node\n`);
    const role = find(rs, 'kubernetes:rbac.authorization.k8s.io/v1:Role', 'logging-elasticsearch-certs-role');
    expect(JSON.stringify(role.inputs.rules)).toContain(`"resourceNames":["${LOGSTASH_CERT_SECRET}"]`);
    // The monitoring namespace grants the Job nothing and gets no bundle: its Grafana has no logging datasource.
    const writers = ofType(rs, 'kubernetes:rbac.authorization.k8s.io/v1:RoleBinding').filter(
      (b) => at(b.inputs, 'metadata.name') === `${CA_CONFIG_MAP}-writer`,
    );
    expect(writers.map((b) => at(b.inputs, 'metadata.namespace'))).toEqual([
      'pavemaster-staging-logging-node',
    ]);
    const grafanaDatasources = ofType(rs, CONFIG_MAP)
      .map((c) => JSON.stringify(c.inputs.data ?? {}))
      .filter((d) => d.includes('datasources'));
    expect(grafanaDatasources.length).toBeGreaterThan(0);
    for (const d of grafanaDatasources) {
      expect(d).not.toContain('elasticsearch');
    }
  });

  it('writes to every external host with an API key from the Secret and the CA from the ConfigMap', () => {
    const rs = recorded.apiKey.resources;
    const conf = pipeline(rs);
    expect(conf).toContain('hosts => ["https://logs.example.com:9243", "https://logs-2.example.com:9243"]');
    expect(conf).toContain('api_key => "${ES_API_KEY}"');
    expect(conf).not.toMatch(/\buser =>|\bpassword =>/);
    expect(conf).toContain(`ssl_certificate_authorities => ["${EXTERNAL_CA_FILE}"]`);
    expect(conf).toContain('ssl_verification_mode => "full"');
    expect(conf).toContain('data_stream_dataset => "pavemaster.app"');
    expect(conf).toContain('data_stream_namespace => "team_a"');
    const pod = logstashPod(rs);
    const [ls] = pod.containers;
    const credentialEnv = (ls.env ?? []).filter((e) => e.valueFrom?.secretKeyRef !== undefined);
    expect(credentialEnv).toEqual([
      { name: 'ES_API_KEY', valueFrom: { secretKeyRef: { name: 'logs-writer', key: 'key' } } },
    ]);
    // The ConfigMap's key becomes the file the pipeline names; the stack's own bundle is not mounted.
    const ca = pod.volumes.find((v) => v.name === 'elasticsearch-ca');
    expect(ca?.configMap).toMatchObject({ name: 'logs-ca', items: [{ key: 'root.pem', path: 'ca.crt' }] });
    const mount = (ls.volumeMounts ?? []).find((m) => m.name === 'elasticsearch-ca');
    expect(`${mount?.mountPath}/ca.crt`).toBe(EXTERNAL_CA_FILE);
    expect(mount?.readOnly).toBe(true);
    expect(pod.volumes.some((v) => v.configMap?.name === CA_CONFIG_MAP)).toBe(false);
  });

  it("takes ECK's public CA Secret and a basic-auth Secret's username and password", () => {
    const rs = recorded.eck.resources;
    const conf = pipeline(rs);
    expect(conf).toContain('hosts => ["https://logs-es-http.elastic-system.svc:9200"]');
    expect(conf).toContain('user => "${ES_USER}"');
    expect(conf).toContain('password => "${ES_PASSWORD}"');
    expect(conf).toContain('data_stream_namespace => "production"');
    const pod = logstashPod(rs);
    expect((pod.containers[0].env ?? []).filter((e) => e.valueFrom !== undefined)).toEqual([
      { name: 'ES_USER', valueFrom: { secretKeyRef: { name: 'logs-writer', key: 'username' } } },
      { name: 'ES_PASSWORD', valueFrom: { secretKeyRef: { name: 'logs-writer', key: 'password' } } },
    ]);
    expect(pod.volumes.find((v) => v.name === 'elasticsearch-ca')?.secret).toMatchObject({
      secretName: 'logs-es-http-certs-public',
      items: [{ key: 'ca.crt', path: 'ca.crt' }],
    });
  });

  it('with the system trust store names no CA file, and still verifies fully', () => {
    const rs = recorded.system.resources;
    const conf = pipeline(rs);
    expect(conf).not.toContain('ssl_certificate_authorities');
    expect(conf).toContain('ssl_enabled => true');
    expect(conf).toContain('ssl_verification_mode => "full"');
    const pod = logstashPod(rs);
    expect(pod.volumes.map((v) => v.name)).not.toContain('elasticsearch-ca');
    expect(pod.volumes.map((v) => v.name)).not.toContain('logging-ca');
  });

  it('lets Logstash out only to the given destinations, and no one else in than before', () => {
    const apiKey = find(recorded.apiKey.resources, NETPOL, 'logging-logstash-netpol');
    expect(at(apiKey.inputs, 'spec.egress')).toEqual([
      {
        to: [{ ipBlock: { cidr: '203.0.113.0/24', except: ['203.0.113.128/25'] } }],
        ports: [{ protocol: 'TCP', port: 9243 }],
      },
    ]);
    const eck = find(recorded.eck.resources, NETPOL, 'logging-logstash-netpol');
    expect(at(eck.inputs, 'spec.egress')).toEqual([
      {
        to: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'elastic-system' } },
            podSelector: { matchLabels: { 'elasticsearch.k8s.elastic.co/cluster-name': 'logs' } },
          },
        ],
        ports: [{ protocol: 'TCP', port: 9200 }],
      },
    ]);
    // Ingress is what it is with the stack's own Elasticsearch: Beats from the shipper, metrics from monitoring.
    expect(JSON.stringify(at(eck.inputs, 'spec.ingress'))).toContain('"port":5044');
    // Nothing else of the logging namespace may leave it besides DNS and the certificate Job's API server.
    const egressPolicies = logging(recorded.apiKey.resources)
      .filter((r) => r.type === NETPOL && at(r.inputs, 'spec.egress') !== undefined)
      .map((r) => r.name)
      .sort();
    expect(egressPolicies).toEqual(
      [
        'logging-elasticsearch-certs-netpol',
        'logging-logstash-netpol',
        'logging-namespace-allow-dns',
        'logging-node-namespace-allow-dns',
        'logging-shipper-netpol',
      ].sort(),
    );
  });

  it("outputs the external endpoint and no Kibana URL or password; monitoring keeps Logstash's alerts", () => {
    const out = recorded.apiKey.outputs as { logging: Record<string, unknown> };
    const l = out.logging;
    expect(l.kibanaUrl).toBeUndefined();
    expect(l.elasticPassword).toBeUndefined();
    expect(l.grafanaCredentials).toBeUndefined();
    const rules = ofType(recorded.apiKey.resources, CONFIG_MAP)
      .flatMap((c) => Object.values((c.inputs.data ?? {}) as Record<string, string>))
      .find((d) => d.includes('LogstashDown'));
    expect(rules).toBeDefined();
    const groups = (parseYaml(rules ?? '') as { groups?: { name: string }[] } | null)?.groups;
    expect(groups?.map((g) => g.name)).toContain('logging');
  });

  it('a stack switching over keeps its certificate objects: same names, aliased to their place under Elasticsearch', async () => {
    const seen = new Map<string, string[]>();
    const pending: Promise<void>[] = [];
    await record(
      () => {
        pulumi.runtime.registerStackTransformation((args) => {
          if (args.name.startsWith('logging-elasticsearch-certs')) {
            // Ours: those with a parent (the Kubernetes SDK adds its own, of earlier API versions, as URNs).
            const parents = (args.opts.aliases ?? [])
              .map((alias) =>
                typeof alias === 'object' ? (alias as { parent?: pulumi.Input<string> }).parent : undefined,
              )
              .filter((p) => p !== undefined);
            pending.push(
              new Promise((resolve) =>
                pulumi.all(parents.map((p) => pulumi.output(p ?? ''))).apply((urns) => {
                  seen.set(`${args.type}::${args.name}`, urns);
                  resolve();
                }),
              ),
            );
          }
          return undefined;
        });
        new Logging('logging', {
          namespace: 'logs',
          environment: 'staging',
          appNamespaces: ['app'],
          elasticsearch: { external: { ...API_KEY_EXTERNAL, credentials: { secret: 'w', type: 'apiKey' } } },
        });
      },
      { stack: 'staging' },
    );
    await Promise.all(pending);
    // The names the stack's own Elasticsearch gives them (stack.test.ts), and its component as the earlier parent.
    expect([...seen.keys()].sort()).toEqual(
      [
        'kubernetes:batch/v1:Job::logging-elasticsearch-certs-job',
        'kubernetes:core/v1:ConfigMap::logging-elasticsearch-certs-script',
        'kubernetes:core/v1:ServiceAccount::logging-elasticsearch-certs-sa',
        'kubernetes:networking.k8s.io/v1:NetworkPolicy::logging-elasticsearch-certs-netpol',
        'kubernetes:rbac.authorization.k8s.io/v1:Role::logging-elasticsearch-certs-ca-0-role',
        'kubernetes:rbac.authorization.k8s.io/v1:Role::logging-elasticsearch-certs-role',
        'kubernetes:rbac.authorization.k8s.io/v1:RoleBinding::logging-elasticsearch-certs-binding',
        'kubernetes:rbac.authorization.k8s.io/v1:RoleBinding::logging-elasticsearch-certs-ca-0-binding',
      ].sort(),
    );
    // The Logging component's URN with the Elasticsearch component below it (the mocks' URNs carry the root stack's
    // type before it, the engine's do not: the alias is derived from the Logging component's URN either way).
    for (const urns of seen.values()) {
      expect(urns).toHaveLength(1);
      expect(urns[0]).toMatch(
        /^urn:pulumi:staging::pavemaster::(pulumi:pulumi:Stack\$)?pavemaster:logging:Logging\$pavemaster:logging:Elasticsearch::logging-elasticsearch$/,
      );
    }
  });
});
