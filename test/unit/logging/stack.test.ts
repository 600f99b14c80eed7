/**
 * The logging stack as both committed stacks register it under Pulumi's mocks: topology, discovery settings,
 * protection, secrets, security contexts and NetworkPolicies.
 */
import * as pulumi from '@pulumi/pulumi';
import { Logging } from '../../../components/logging/Logging';
import { at, find, ofType, record, recordStack, Registered } from '../../support/harness';
import { stackConfig } from '../../support/stackConfig';
import { parse as parseYaml } from 'yaml';

type Env = { name: string; value?: string; valueFrom?: unknown };
type Container = {
  name: string;
  env?: Env[];
  securityContext?: Record<string, unknown>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
};

const STS = 'kubernetes:apps/v1:StatefulSet';
const NETPOL = 'kubernetes:networking.k8s.io/v1:NetworkPolicy';

function envOf(r: Registered, container = 0): Record<string, string | undefined> {
  const containers = at(r.inputs, 'spec.template.spec.containers') as Container[];
  return Object.fromEntries((containers[container].env ?? []).map((e) => [e.name, e.value]));
}

/** The settings of the generated elasticsearch.yml. */
function esConfig(resources: readonly Registered[]): Record<string, unknown> {
  const cm = find(resources, 'kubernetes:core/v1:ConfigMap', 'logging-elasticsearch-config');
  return parseYaml((cm.inputs.data as Record<string, string>)['elasticsearch.yml']) as Record<
    string,
    unknown
  >;
}

function workloads(resources: readonly Registered[]): Registered[] {
  return resources.filter(
    (r) =>
      [
        'kubernetes:apps/v1:StatefulSet',
        'kubernetes:apps/v1:Deployment',
        'kubernetes:apps/v1:DaemonSet',
        'kubernetes:batch/v1:Job',
      ].includes(r.type) &&
      r.parent !== undefined &&
      r.name.startsWith('logging-'),
  );
}

// Pulumi's mocks are process-wide: the two stacks are recorded one after the other, once, before any test.
const recorded: Record<'staging' | 'production', { resources: Registered[] }> = {
  staging: { resources: [] },
  production: { resources: [] },
};
beforeAll(async () => {
  recorded.staging = await recordStack('staging', stackConfig('staging'));
  recorded.production = await recordStack('production', stackConfig('production'));
}, 120_000);
const stacks = {
  get staging() {
    return Promise.resolve(recorded.staging);
  },
  get production() {
    return Promise.resolve(recorded.production);
  },
};

describe.each(['staging', 'production'] as const)('%s logging stack', (stack) => {
  let resources: Registered[];
  beforeAll(async () => {
    resources = (await stacks[stack]).resources;
  });

  it('is one Logging component whose every child hangs below it, named after it', () => {
    const root = find(resources, 'pavemaster:logging:Logging', 'logging');
    expect(root.parent).toBeUndefined();
    const children = resources.filter((r) => r.parent?.type.startsWith('pavemaster:logging:'));
    expect(children.length).toBeGreaterThan(30);
    for (const r of children) {
      expect(r.name.startsWith('logging-')).toBe(true);
    }
    for (const type of ['Elasticsearch', 'Logstash', 'LogShipper', 'Kibana', 'ElasticsearchExporter']) {
      expect(ofType(resources, `pavemaster:logging:${type}`)).toHaveLength(1);
    }
  });

  it('names every Kubernetes object explicitly', () => {
    for (const r of resources.filter(
      (x) => x.type.startsWith('kubernetes:') && x.name.startsWith('logging-'),
    )) {
      expect(typeof at(r.inputs, 'metadata.name')).toBe('string');
    }
  });

  it('puts the shipper in its own privileged namespace and everything else in a restricted one', () => {
    const ns = find(resources, 'kubernetes:core/v1:Namespace', 'logging-namespace');
    const nodeNs = find(resources, 'kubernetes:core/v1:Namespace', 'logging-node-namespace');
    expect(at(ns.inputs, 'metadata.name')).toBe(`pavemaster-${stack}-logging`);
    expect(at(nodeNs.inputs, 'metadata.name')).toBe(`pavemaster-${stack}-logging-node`);
    expect(at(ns.inputs, 'metadata.labels')).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    expect(at(nodeNs.inputs, 'metadata.labels')).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'privileged',
      'pod-security.kubernetes.io/warn': 'restricted',
    });
    const ds = find(resources, 'kubernetes:apps/v1:DaemonSet', 'logging-shipper-daemonset');
    expect(at(ds.inputs, 'metadata.namespace')).toBe(`pavemaster-${stack}-logging-node`);
  });

  it('gives every container requests and limits and a restricted security context (the documented exceptions aside)', () => {
    for (const w of workloads(resources)) {
      const containers = [
        ...(at(w.inputs, 'spec.template.spec.containers') as Container[]),
        ...((at(w.inputs, 'spec.template.spec.initContainers') as Container[] | undefined) ?? []),
      ];
      for (const c of containers) {
        expect(c.resources?.requests).toEqual(
          expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }),
        );
        expect(c.resources?.limits).toEqual(
          expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }),
        );
        expect(c.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          privileged: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true });
        if (c.name !== 'filebeat') {
          expect(c.securityContext).toMatchObject({ runAsNonRoot: true });
        }
      }
    }
    // The only root container is Filebeat, without any capability.
    const ds = find(resources, 'kubernetes:apps/v1:DaemonSet', 'logging-shipper-daemonset');
    const [filebeat] = at(ds.inputs, 'spec.template.spec.containers') as Container[];
    expect(filebeat.securityContext).toMatchObject({ runAsUser: 0, readOnlyRootFilesystem: true });
  });

  it('mounts the host log directories read-only; only the registry is writable', () => {
    const ds = find(resources, 'kubernetes:apps/v1:DaemonSet', 'logging-shipper-daemonset');
    const volumes = at(ds.inputs, 'spec.template.spec.volumes') as {
      name: string;
      hostPath?: { path: string };
    }[];
    const mounts = (
      at(ds.inputs, 'spec.template.spec.containers') as {
        volumeMounts: { name: string; readOnly?: boolean }[];
      }[]
    )[0].volumeMounts;
    const hostVolumes = volumes.filter((v) => v.hostPath !== undefined).map((v) => v.name);
    expect(hostVolumes.sort()).toEqual(['containers', 'pods', 'registry']);
    for (const m of mounts.filter((x) => hostVolumes.includes(x.name) && x.name !== 'registry')) {
      expect(m.readOnly).toBe(true);
    }
  });

  it('grants the shipper only get/list/watch on pods, namespaces and nodes', () => {
    const role = find(
      resources,
      'kubernetes:rbac.authorization.k8s.io/v1:ClusterRole',
      'logging-shipper-role',
    );
    expect(role.inputs.rules).toEqual([
      { apiGroups: [''], resources: ['pods', 'namespaces', 'nodes'], verbs: ['get', 'list', 'watch'] },
    ]);
  });

  it('never lets Pulumi wait for the setup Jobs to complete by default, but for their deletion', () => {
    const jobs = ofType(resources, 'kubernetes:batch/v1:Job');
    expect(jobs.map((j) => j.name).sort()).toEqual([
      'logging-elasticsearch-certs-job',
      'logging-elasticsearch-setup-job',
      'logging-kibana-setup-job',
    ]);
    for (const job of jobs) {
      // kwok completes no Job; skipAwait would also skip the wait for a replaced Job's deletion.
      const annotations = at(job.inputs, 'metadata.annotations');
      expect(annotations).toMatchObject({ 'pulumi.com/waitFor': 'jsonpath={.metadata.uid}' });
      expect(annotations).not.toHaveProperty(['pulumi.com/skipAwait']);
    }
  });

  it('annotates the exporters for Prometheus', () => {
    const exporter = find(resources, 'kubernetes:apps/v1:Deployment', 'logging-exporter-deployment');
    expect(at(exporter.inputs, 'spec.template.metadata.annotations')).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '9114',
    });
    const logstash = find(resources, STS, 'logging-logstash-statefulset');
    expect(at(logstash.inputs, 'spec.template.metadata.annotations')).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '9198',
    });
  });

  it("keeps Logstash's persistent queue on a volume claim", () => {
    const logstash = find(resources, STS, 'logging-logstash-statefulset');
    const claims = at(logstash.inputs, 'spec.volumeClaimTemplates') as { metadata: { name: string } }[];
    expect(claims.map((c) => c.metadata.name)).toEqual(['queue']);
    const config = find(resources, 'kubernetes:core/v1:ConfigMap', 'logging-logstash-config');
    const settings = at(config.inputs, 'data.logstash\u002eyml');
    expect(settings).toBeUndefined(); // dotted keys cannot be read with `at`; read directly below
    const data = config.inputs.data as Record<string, string>;
    expect(data['logstash.yml']).toContain('queue.type: persisted');
    expect(data['logstash.yml']).toContain('path.queue: "/usr/share/logstash/data/queue"');
    expect(data['logstash.conf']).toContain(`data_stream_namespace => "${stack}"`);
  });
});

describe('Elasticsearch topology', () => {
  it('staging runs one node with single-node discovery and no bootstrap list', async () => {
    const { resources } = await stacks.staging;
    const es = find(resources, STS, 'logging-elasticsearch-statefulset');
    expect(at(es.inputs, 'spec.replicas')).toBe(1);
    const config = esConfig(resources);
    expect(config['discovery.type']).toBe('single-node');
    expect(config['discovery.seed_hosts']).toBeUndefined();
    expect(config['cluster.initial_master_nodes']).toBeUndefined();
    expect(config['node.store.allow_mmap']).toBe(false);
    expect(envOf(es).ES_JAVA_OPTS).toBe('-Xms512m -Xmx512m');
  });

  it('production runs three master-eligible data nodes discovered through the headless Service', async () => {
    const { resources } = await stacks.production;
    const es = find(resources, STS, 'logging-elasticsearch-statefulset');
    expect(at(es.inputs, 'spec.replicas')).toBe(3);
    expect(at(es.inputs, 'spec.podManagementPolicy')).toBe('Parallel');
    const config = esConfig(resources);
    expect(config['discovery.type']).toBeUndefined();
    expect(config['discovery.seed_hosts']).toEqual(['elasticsearch-headless']);
    expect(config['cluster.initial_master_nodes']).toEqual([
      'elasticsearch-0',
      'elasticsearch-1',
      'elasticsearch-2',
    ]);
    expect(config['node.roles']).toEqual(['master', 'data', 'ingest']);
    expect(config['node.name']).toBe('${POD_NAME}');
    expect(config['xpack.security.enabled']).toBe(true);
    expect(config['xpack.security.transport.ssl.enabled']).toBe(true);
    expect(config['xpack.security.transport.ssl.certificate_authorities']).toEqual(['certs/ca.crt']);
    expect(envOf(es).ES_JAVA_OPTS).toBe('-Xms2g -Xmx2g');
    expect(at(es.inputs, 'spec.serviceName')).toBe('elasticsearch-headless');
    const headless = find(resources, 'kubernetes:core/v1:Service', 'logging-elasticsearch-headless');
    expect(at(headless.inputs, 'spec.clusterIP')).toBe('None');
    expect(at(headless.inputs, 'spec.publishNotReadyAddresses')).toBe(true);
  });

  it('drops cluster.initial_master_nodes once the cluster is marked bootstrapped, rolling the nodes', async () => {
    const before = (await stacks.production).resources;
    const { resources } = await recordStack(
      'production',
      stackConfig('production', { logging: { elasticsearch: { bootstrapped: true } } }),
    );
    const config = esConfig(resources);
    expect(config['cluster.initial_master_nodes']).toBeUndefined();
    expect(config['discovery.seed_hosts']).toEqual(['elasticsearch-headless']);
    const hash = (rs: readonly Registered[]) =>
      at(find(rs, STS, 'logging-elasticsearch-statefulset').inputs, 'spec.template.metadata.annotations');
    expect(hash(resources)).not.toEqual(hash(before));
  });

  it('copies the image config to an emptyDir so the root filesystem stays read-only', async () => {
    const { resources } = await stacks.staging;
    const es = find(resources, STS, 'logging-elasticsearch-statefulset');
    const [init] = at(es.inputs, 'spec.template.spec.initContainers') as { command: string[] }[];
    expect(init.command.join(' ')).toContain('cp /es-config/elasticsearch.yml /config/elasticsearch.yml');
    const volumes = at(es.inputs, 'spec.template.spec.volumes') as { name: string; emptyDir?: unknown }[];
    expect(volumes.find((v) => v.name === 'config')?.emptyDir).toBeDefined();
  });

  it('has a PodDisruptionBudget of one node at a time', async () => {
    const { resources } = await stacks.production;
    const pdb = find(resources, 'kubernetes:policy/v1:PodDisruptionBudget', 'logging-elasticsearch-pdb');
    expect(at(pdb.inputs, 'spec.maxUnavailable')).toBe(1);
  });
});

describe('TLS on every hop', () => {
  /** Every input of every resource, as text (Pulumi secrets unwrapped). */
  const text = (resources: readonly Registered[]) => JSON.stringify(resources.map((r) => r.inputs));

  it.each(['staging', 'production'] as const)(
    '%s: no plaintext http:// URL to Elasticsearch or Logstash anywhere in the rendered objects',
    async (stack) => {
      const { resources } = await stacks[stack];
      const all = text(resources);
      // By Service name, short or qualified, and the loopback address the readiness probe used.
      expect(all).not.toMatch(/http:\/\/(elasticsearch|logstash)([.:/"]|\\")/);
      expect(all).not.toMatch(/http:\/\/(127\.0\.0\.1|localhost):9200/);
      expect(all).toContain(`https://elasticsearch.pavemaster-${stack}-logging.svc:9200`);
    },
  );

  it('Elasticsearch serves HTTPS with the node certificate; every client verifies it with the mounted bundle', async () => {
    const { resources } = await stacks.production;
    const config = esConfig(resources);
    expect(config['xpack.security.http.ssl.enabled']).toBe(true);
    expect(config['xpack.security.http.ssl.certificate']).toBe('certs/node.crt');
    expect(config['xpack.security.http.ssl.key']).toBe('certs/node.key');
    expect(config['xpack.security.http.ssl.certificate_authorities']).toEqual(['certs/ca.crt']);
    const es = find(resources, STS, 'logging-elasticsearch-statefulset');
    const probe = JSON.stringify(at(es.inputs, 'spec.template.spec.containers.0.readinessProbe'));
    expect(probe).toContain('--cacert /usr/share/elasticsearch/config/certs/ca.crt');
    expect(probe).toContain("'https://localhost:9200/_cluster/health?local=true'");

    const mountsBundle = (r: Registered, container = 0) => {
      const spec = at(r.inputs, 'spec.template.spec') as {
        containers: { volumeMounts?: { name: string; mountPath: string }[] }[];
        volumes: { name: string; configMap?: { name: string } }[];
      };
      const volume = spec.volumes.find((v) => v.configMap?.name === 'logging-ca');
      return (
        volume !== undefined &&
        (spec.containers[container].volumeMounts ?? []).some(
          (m) => m.name === volume.name && m.mountPath === '/etc/pavemaster/logging-ca',
        )
      );
    };
    const kibana = find(resources, 'kubernetes:apps/v1:Deployment', 'logging-kibana-deployment');
    expect(envOf(kibana).ELASTICSEARCH_SSL_CERTIFICATEAUTHORITIES).toBe('/etc/pavemaster/logging-ca/ca.crt');
    expect(envOf(kibana).ELASTICSEARCH_SSL_VERIFICATIONMODE).toBe('full');
    expect(envOf(kibana).ELASTICSEARCH_HOSTS).toBe(
      '["https://elasticsearch.pavemaster-production-logging.svc:9200"]',
    );
    const exporter = find(resources, 'kubernetes:apps/v1:Deployment', 'logging-exporter-deployment');
    const args = at(exporter.inputs, 'spec.template.spec.containers.0.args') as string[];
    expect(args).toContain('--es.ca=/etc/pavemaster/logging-ca/ca.crt');
    expect(args.some((a) => a.includes('skip-verify'))).toBe(false);
    const setup = find(resources, 'kubernetes:batch/v1:Job', 'logging-elasticsearch-setup-job');
    expect(envOf(setup).TARGET_URL).toBe('https://elasticsearch:9200');
    expect(envOf(setup).CA_FILE).toBe('/etc/pavemaster/logging-ca/ca.crt');
    const logstash = find(resources, STS, 'logging-logstash-statefulset');
    const shipper = find(resources, 'kubernetes:apps/v1:DaemonSet', 'logging-shipper-daemonset');
    const grafana = find(resources, 'kubernetes:apps/v1:Deployment', 'monitoring-grafana-deployment');
    for (const r of [kibana, exporter, setup, logstash, shipper, grafana]) {
      expect([r.name, mountsBundle(r)]).toEqual([r.name, true]);
    }
    const logstashVolumes = at(logstash.inputs, 'spec.template.spec.volumes') as {
      secret?: { secretName: string };
    }[];
    expect(logstashVolumes.map((v) => v.secret?.secretName).filter(Boolean)).toEqual(['logstash-certs']);

    const datasources = parseYaml(
      (
        find(resources, 'kubernetes:core/v1:ConfigMap', 'monitoring-grafana-provisioning').inputs
          .data as Record<string, string>
      )['datasources.yml'],
    ) as {
      datasources: {
        type: string;
        url: string;
        jsonData: Record<string, unknown>;
        secureJsonData: Record<string, string>;
      }[];
    };
    const ds = datasources.datasources.find((d) => d.type === 'elasticsearch');
    expect(ds?.url).toBe('https://elasticsearch.pavemaster-production-logging.svc:9200');
    expect(ds?.jsonData.tlsAuthWithCACert).toBe(true);
    expect(ds?.secureJsonData.tlsCACert).toBe('$__file{/etc/pavemaster/logging-ca/ca.crt}');
    const filebeat = parseYaml(
      (
        find(resources, 'kubernetes:core/v1:ConfigMap', 'logging-shipper-config').inputs.data as Record<
          string,
          string
        >
      )['filebeat.yml'],
    ) as Record<string, { ssl: Record<string, unknown> }>;
    expect(filebeat['output.logstash'].ssl).toEqual({
      enabled: true,
      certificate_authorities: ['/etc/pavemaster/logging-ca/ca.crt'],
      verification_mode: 'full',
    });
  });

  it('the certificate Job publishes the CA to the logging, shipper and monitoring namespaces it is granted', async () => {
    const { resources } = await stacks.staging;
    const script = (
      find(resources, 'kubernetes:core/v1:ConfigMap', 'logging-elasticsearch-certs-script').inputs
        .data as Record<string, string>
    )['certs.sh'];
    expect(script).toContain(
      'publish_ca pavemaster-staging-logging pavemaster-staging-logging-node pavemaster-staging-monitoring',
    );
    const bindings = ofType(resources, 'kubernetes:rbac.authorization.k8s.io/v1:RoleBinding').filter(
      (b) => at(b.inputs, 'metadata.name') === 'logging-ca-writer',
    );
    expect(bindings.map((b) => at(b.inputs, 'metadata.namespace')).sort()).toEqual([
      'pavemaster-staging-logging-node',
      'pavemaster-staging-monitoring',
    ]);
    for (const b of bindings) {
      expect(at(b.inputs, 'subjects')).toEqual([
        { kind: 'ServiceAccount', name: 'elasticsearch-certs', namespace: 'pavemaster-staging-logging' },
      ]);
    }
    const role = ofType(resources, 'kubernetes:rbac.authorization.k8s.io/v1:Role').find(
      (r) => at(r.inputs, 'metadata.name') === 'logging-ca-writer',
    );
    // Create, and read or replace only the bundle: no other ConfigMap, no Secret of those namespaces.
    expect(at(role?.inputs, 'rules')).toEqual([
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['logging-ca'], verbs: ['get', 'update'] },
    ]);
  });

  it('publishes the CA only where a client of it runs: no own Grafana, no shipper, no grant there', async () => {
    const { resources } = await recordStack(
      'staging',
      stackConfig('staging', {
        monitoring: { grafana: { enabled: false } },
        logging: { shipper: { enabled: false } },
      }),
    );
    const script = (
      find(resources, 'kubernetes:core/v1:ConfigMap', 'logging-elasticsearch-certs-script').inputs
        .data as Record<string, string>
    )['certs.sh'];
    expect(script).toMatch(/^publish_ca pavemaster-staging-logging$/m);
    expect(
      ofType(resources, 'kubernetes:rbac.authorization.k8s.io/v1:RoleBinding').filter(
        (b) => at(b.inputs, 'metadata.name') === 'logging-ca-writer',
      ),
    ).toEqual([]);
  });

  it('a new logging.tls.rotation re-runs the certificate Job and rolls every client, never replacing a workload', async () => {
    const before = (await stacks.production).resources;
    const { resources } = await recordStack(
      'production',
      stackConfig('production', { logging: { tls: { rotation: 2 } } }),
    );
    const hashOf = (rs: readonly Registered[], type: string, name: string) =>
      at(find(rs, type, name).inputs, 'spec.template.metadata.annotations');
    const job = (rs: readonly Registered[]) =>
      at(find(rs, 'kubernetes:batch/v1:Job', 'logging-elasticsearch-certs-job').inputs, 'spec.template');
    expect(job(resources)).not.toEqual(job(before));
    for (const [type, name] of [
      [STS, 'logging-logstash-statefulset'],
      ['kubernetes:apps/v1:Deployment', 'logging-kibana-deployment'],
      ['kubernetes:apps/v1:Deployment', 'logging-exporter-deployment'],
      ['kubernetes:apps/v1:DaemonSet', 'logging-shipper-daemonset'],
      ['kubernetes:apps/v1:Deployment', 'monitoring-grafana-deployment'],
    ]) {
      expect([name, hashOf(resources, type, name)]).not.toEqual([name, hashOf(before, type, name)]);
    }
    // Elasticsearch reloads its certificate files itself: its nodes do not restart.
    expect(hashOf(resources, STS, 'logging-elasticsearch-statefulset')).toEqual(
      hashOf(before, STS, 'logging-elasticsearch-statefulset'),
    );
    // Everything refers to the certificate objects by their known names: the only object replaced is the Job
    // (and its script's ConfigMap).
    // By type and name: a component and its Kubernetes object may share a name (the namespaces do).
    const inputsOf = (rs: readonly Registered[], r: Registered) =>
      JSON.stringify(rs.find((o) => o.type === r.type && o.name === r.name)?.inputs);
    const changed = resources
      .filter((r) => inputsOf(before, r) !== JSON.stringify(r.inputs))
      .map((r) => r.name);
    expect(changed.sort()).toEqual(
      [
        'logging-elasticsearch-certs-job',
        'logging-elasticsearch-certs-script',
        'logging-exporter-deployment',
        'logging-kibana-deployment',
        'logging-logstash-statefulset',
        'logging-shipper-daemonset',
        'monitoring-grafana-deployment',
      ].sort(),
    );
  });
});

describe('switched off', () => {
  it('registers nothing of the logging stack and gives monitoring no logging outputs', async () => {
    const { resources } = await recordStack(
      'staging',
      stackConfig('staging', { logging: { enabled: false } }),
    );
    expect(resources.filter((r) => r.name.startsWith('logging'))).toEqual([]);
    const monitoring = resources.filter((r) => JSON.stringify(r.inputs).includes('logs-pavemaster'));
    expect(monitoring).toEqual([]);
  });
});

describe('protection', () => {
  it('production protects the data and retains the volumes; staging does not', async () => {
    const prod = (await stacks.production).resources;
    const staging = (await stacks.staging).resources;
    for (const name of ['logging-elasticsearch-statefulset', 'logging-logstash-statefulset']) {
      const p = find(prod, STS, name);
      const s = find(staging, STS, name);
      expect(p.protect).toBe(true);
      expect(s.protect).toBe(false);
      expect(at(p.inputs, 'spec.persistentVolumeClaimRetentionPolicy')).toEqual({
        whenDeleted: 'Retain',
        whenScaled: 'Retain',
      });
      expect(at(s.inputs, 'spec.persistentVolumeClaimRetentionPolicy')).toEqual({
        whenDeleted: 'Delete',
        whenScaled: 'Delete',
      });
    }
    expect(find(prod, 'kubernetes:core/v1:Namespace', 'logging-namespace').protect).toBe(true);
    expect(find(prod, 'random:index/randomPassword:RandomPassword', 'logging-elastic-password').protect).toBe(
      true,
    );
    expect(
      find(staging, 'random:index/randomPassword:RandomPassword', 'logging-elastic-password').protect,
    ).toBe(false);
  });
});

describe('secrets', () => {
  it.each(['staging', 'production'] as const)(
    '%s: generated passwords appear only in Secrets',
    async (stack) => {
      const { resources } = await stacks[stack];
      const passwords = ofType(resources, 'random:index/randomPassword:RandomPassword')
        .filter((r) => r.parent?.type === 'pavemaster:logging:Logging')
        .map((r) => `mock-password-${r.name}`);
      // Five users' passwords and Kibana's three encryption keys.
      expect(passwords.length).toBe(8);
      const secretsHolding = new Set<string>();
      for (const r of resources) {
        const text = JSON.stringify(r.inputs);
        for (const pw of passwords) {
          if (text.includes(pw)) {
            expect(`${r.type} ${r.name}`).toMatch(/^kubernetes:core\/v1:Secret /);
            secretsHolding.add(pw);
          }
        }
      }
      // Every generated password is stored in some Secret.
      expect(secretsHolding.size).toBe(passwords.length);
    },
  );

  it.each(['staging', 'production'] as const)(
    '%s: Elasticsearch and the setup Jobs read their passwords from files, not the environment',
    async (stack) => {
      const { resources } = await stacks[stack];
      type Pod = {
        containers: (Container & { volumeMounts?: { name: string; mountPath: string }[] })[];
        initContainers?: { command: string[]; volumeMounts: { name: string; mountPath: string }[] }[];
        volumes: { name: string; projected?: { sources: unknown[] }; secret?: unknown }[];
      };
      const pod = (type: string, name: string) =>
        at(find(resources, type, name).inputs, 'spec.template.spec') as Pod;
      const secretEnv = (p: Pod) =>
        p.containers.flatMap((c) =>
          (c.env ?? []).filter((e) => JSON.stringify(e.valueFrom ?? {}).includes('secretKeyRef')),
        );

      const es = pod(STS, 'logging-elasticsearch-statefulset');
      expect(secretEnv(es)).toEqual([]);
      const file = envOf(find(resources, STS, 'logging-elasticsearch-statefulset')).ELASTIC_PASSWORD_FILE;
      expect(file).toBe('/run/elasticsearch-secrets/elastic-password');
      // The init container writes that file, readable by the node's user only, on a
      // memory-backed volume the node mounts read-only.
      const [init] = es.initContainers ?? [];
      expect(init.command.join(' ')).toContain(`(umask 077 && cat /elastic-secret/password > ${file})`);
      expect(init.volumeMounts).toContainEqual({ name: 'secrets', mountPath: '/run/elasticsearch-secrets' });
      expect(es.containers[0].volumeMounts).toContainEqual({
        name: 'secrets',
        mountPath: '/run/elasticsearch-secrets',
        readOnly: true,
      });
      expect(es.volumes).toContainEqual({
        name: 'secrets',
        emptyDir: { medium: 'Memory', sizeLimit: '1Mi' },
      });
      expect(es.volumes).toContainEqual({
        name: 'elastic-secret',
        secret: { secretName: 'elasticsearch-elastic', defaultMode: 0o440 },
      });
      expect(es.containers[0].volumeMounts?.map((m) => m.name)).not.toContain('elastic-secret');

      const jobs = {
        'logging-elasticsearch-setup-job': [
          'SETUP_PASSWORD',
          'WRITER_PASSWORD',
          'READER_PASSWORD',
          'EXPORTER_PASSWORD',
          'KIBANA_SYSTEM_PASSWORD',
        ],
        'logging-kibana-setup-job': ['SETUP_PASSWORD'],
      };
      for (const [name, files] of Object.entries(jobs)) {
        const job = pod('kubernetes:batch/v1:Job', name);
        expect(secretEnv(job)).toEqual([]);
        expect(envOf(find(resources, 'kubernetes:batch/v1:Job', name)).SECRETS).toBe('/secrets');
        const volume = job.volumes.find((v) => v.name === 'secrets');
        const paths = (volume?.projected?.sources ?? []).map(
          (src) => (src as { secret: { items: { path: string }[] } }).secret.items[0].path,
        );
        expect(paths).toEqual(files);
      }
    },
  );

  it('outputs the elastic password and the Grafana reader password as Pulumi secrets', async () => {
    const checks: Promise<unknown>[] = [];
    await record(() => {
      const logging = new Logging('logging', {
        namespace: 'logs',
        environment: 'staging',
        appNamespaces: ['app'],
      });
      const { elasticPassword, grafanaCredentials } = logging;
      if (elasticPassword === undefined || grafanaCredentials === undefined) {
        throw new Error('the stack with its own Elasticsearch outputs both passwords');
      }
      checks.push(
        pulumi.isSecret(elasticPassword).then((s) => expect(s).toBe(true)),
        pulumi.isSecret(grafanaCredentials.password).then((s) => expect(s).toBe(true)),
        pulumi.isSecret(logging.elasticsearchUrl).then((s) => expect(s).toBe(false)),
      );
      expect(grafanaCredentials.username).toBe('grafana');
    });
    await Promise.all(checks);
  });
});

describe('network policies', () => {
  function rules(resources: readonly Registered[], name: string): { ingress: unknown; egress: unknown } {
    const np = find(resources, NETPOL, name);
    return { ingress: at(np.inputs, 'spec.ingress'), egress: at(np.inputs, 'spec.egress') };
  }

  it('Elasticsearch: 9200 from Logstash, Kibana, the exporter, Grafana and its setup Job; 9300 between nodes', async () => {
    const { resources } = await stacks.production;
    const { ingress, egress } = rules(resources, 'logging-elasticsearch-netpol');
    const text = JSON.stringify(ingress);
    for (const component of ['logstash', 'kibana', 'exporter', 'elasticsearch-setup']) {
      expect(text).toContain(`"app.kubernetes.io/component":"${component}"`);
    }
    expect(text).toContain('"kubernetes.io/metadata.name":"pavemaster-production-monitoring"');
    expect(text).toContain('"app.kubernetes.io/name":"grafana"');
    expect(ingress).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ports: [{ protocol: 'TCP', port: 9200 }] }),
        expect.objectContaining({ ports: [{ protocol: 'TCP', port: 9300 }] }),
      ]),
    );
    expect(egress).toEqual([expect.objectContaining({ ports: [{ protocol: 'TCP', port: 9300 }] })]);
  });

  it('Logstash: 5044 from the shipper namespace only, metrics from monitoring, out to Elasticsearch', async () => {
    const { resources } = await stacks.staging;
    const { ingress, egress } = rules(resources, 'logging-logstash-netpol');
    expect(ingress).toEqual([
      {
        from: [
          {
            podSelector: {
              matchLabels: {
                'app.kubernetes.io/instance': 'filebeat',
                'app.kubernetes.io/component': 'shipper',
              },
            },
            namespaceSelector: {
              matchLabels: { 'kubernetes.io/metadata.name': 'pavemaster-staging-logging-node' },
            },
          },
        ],
        ports: [{ protocol: 'TCP', port: 5044 }],
      },
      {
        from: [
          {
            namespaceSelector: {
              matchLabels: { 'kubernetes.io/metadata.name': 'pavemaster-staging-monitoring' },
            },
          },
        ],
        ports: [{ protocol: 'TCP', port: 9198 }],
      },
    ]);
    expect(JSON.stringify(egress)).toContain('"port":9200');
  });

  it('the shipper may only reach Logstash and the API server', async () => {
    const { resources } = await stacks.staging;
    const { ingress, egress } = rules(resources, 'logging-shipper-netpol');
    expect(ingress).toEqual([]);
    expect(egress).toEqual([
      expect.objectContaining({ ports: [{ protocol: 'TCP', port: 5044 }] }),
      expect.objectContaining({
        ports: [
          { protocol: 'TCP', port: 443 },
          { protocol: 'TCP', port: 6443 },
        ],
      }),
    ]);
  });

  it('Kibana: from its setup Job only by default; the exporter: from monitoring', async () => {
    const { resources } = await stacks.staging;
    const kibana = JSON.stringify(rules(resources, 'logging-kibana-netpol').ingress);
    // Nobody else by default (issue 17: logging.kibana.ingressFrom names the ingress controller).
    expect(kibana).not.toContain('"kubernetes.io/metadata.name":"ingress-nginx"');
    expect(kibana).toContain('"app.kubernetes.io/component":"kibana-setup"');
    expect(kibana).toContain('"port":5601');
    const exporter = JSON.stringify(rules(resources, 'logging-exporter-netpol').ingress);
    expect(exporter).toContain('"kubernetes.io/metadata.name":"pavemaster-staging-monitoring"');
    expect(exporter).toContain('"port":9114');
  });
});
