/**
 * Elasticsearch as a StatefulSet: one node with single-node discovery, or an odd number of master-eligible data
 * nodes that find each other through a headless Service. Security is on (the `elastic` password comes from a
 * Secret), node-to-node traffic is TLS with certificates made by `elasticsearch-certutil` in a Job, data lives on
 * per-node PersistentVolumeClaims, and a setup Job applies the ILM policy, index template, roles and users.
 *
 * Kernel settings: `node.store.allow_mmap: false` makes Elasticsearch use NIO instead of memory-mapped files, so
 * no privileged init container has to raise `vm.max_map_count`. The file-descriptor limit (65535) cannot be set
 * from a pod spec; the container runtimes' default (1048576 for containerd and CRI-O) satisfies it.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ContainerResources, toResourceRequirements } from '../shared/resources';
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../shared/security';
import {
  allowPolicy,
  ApiServerPeer,
  contentHash,
  jobAnnotations,
  rolePeer,
  roleLabels,
  roleSelector,
  tcp,
} from './common';
import { ELASTIC_UID, PORTS } from './defaults';
import {
  elasticsearchSetupRequests,
  LifecycleOptions,
  PLACEHOLDERS,
  setupFiles,
  setupScript,
} from './elastic';

/** Generated passwords the Elasticsearch component stores and the setup Job applies. */
export interface ElasticsearchPasswords {
  /** The `elastic` superuser's password (bootstrap password of a new cluster). */
  elastic: pulumi.Input<string>;
  /** Logstash's writer user. */
  writer: pulumi.Input<string>;
  /** The read-only user of the Grafana datasource. */
  reader: pulumi.Input<string>;
  /** The exporter's monitoring user. */
  exporter: pulumi.Input<string>;
  /** The built-in `kibana_system` user. */
  kibanaSystem: pulumi.Input<string>;
}

export interface ElasticsearchArgs {
  /** The namespace (a plain name: it is part of the certificates' DNS names). Required. */
  namespace: string;
  /** Nodes: 1 (single-node discovery) or an odd number of master-eligible data nodes. Required. */
  replicas: number;
  /** The JVM heap, e.g. "1g"; at most half the memory limit. Required. */
  heap: string;
  /** Container requests and limits. Required. */
  resources: ContainerResources;
  /** Each node's data volume size. Required. */
  storageSize: string;
  /** The volumes' StorageClass; the cluster default when unset. */
  storageClass?: string;
  /** The Elasticsearch image (also runs the certificate and setup Jobs, which need its certutil and curl). */
  image: string;
  /** False while the cluster has never formed: only then are `cluster.initial_master_nodes` set. */
  bootstrapped: boolean;
  /** How nodes spread over Kubernetes nodes. */
  antiAffinity: 'none' | 'preferred' | 'required';
  /** Protect the StatefulSet and keep its volumes when it is deleted or scaled down. */
  protect: boolean;
  /** The index lifecycle of the logs. */
  lifecycle: LifecycleOptions;
  /** Wait for the setup and certificate Jobs to complete. */
  awaitJobs: boolean;
  /** The passwords. Required. */
  passwords: ElasticsearchPasswords;
  /** Peers (besides the setup Job) that may reach the HTTP port 9200. */
  httpClients: k8s.types.input.networking.v1.NetworkPolicyPeer[];
  /** The API server, for the certificate Job. */
  apiServer: ApiServerPeer;
}

/** The Elasticsearch cluster of the logging stack. */
export class Elasticsearch extends pulumi.ComponentResource {
  /** The in-cluster HTTP URL. */
  readonly url: pulumi.Output<string>;
  /** The client Service's name. */
  readonly serviceName: pulumi.Output<string>;
  /** The Secret holding the `elastic` password (key `password`). */
  readonly elasticSecretName: pulumi.Output<string>;
  /** The StatefulSet. */
  readonly statefulSet: k8s.apps.v1.StatefulSet;

  constructor(name: string, args: ElasticsearchArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:logging:Elasticsearch', name, {}, opts);
    const child = { parent: this };
    const ns = args.namespace;
    const sts = 'elasticsearch';
    const headless = `${sts}-headless`;
    const certSecret = `${sts}-certs`;
    const labels = roleLabels('elasticsearch', sts);
    const selector = roleSelector('elasticsearch', sts);
    const url = `http://${sts}.${ns}.svc:${PORTS.elasticsearchHttp}`;

    const elasticSecret = new k8s.core.v1.Secret(
      `${name}-elastic`,
      {
        metadata: { name: `${sts}-elastic`, namespace: ns, labels },
        type: 'Opaque',
        stringData: { username: 'elastic', password: pulumi.secret(args.passwords.elastic) },
      },
      child,
    );
    // Only the setup Job reads this one: the passwords it sets for the service users.
    const usersSecret = new k8s.core.v1.Secret(
      `${name}-users`,
      {
        metadata: { name: `${sts}-service-users`, namespace: ns, labels },
        type: 'Opaque',
        stringData: {
          [PLACEHOLDERS.WRITER_PASSWORD]: pulumi.secret(args.passwords.writer),
          [PLACEHOLDERS.READER_PASSWORD]: pulumi.secret(args.passwords.reader),
          [PLACEHOLDERS.EXPORTER_PASSWORD]: pulumi.secret(args.passwords.exporter),
          [PLACEHOLDERS.KIBANA_SYSTEM_PASSWORD]: pulumi.secret(args.passwords.kibanaSystem),
        },
      },
      child,
    );

    // --- Transport certificates -------------------------------------------------------------------------------
    const certs = this.certificateJob(name, args, certSecret, headless, sts);

    // --- Services ---------------------------------------------------------------------------------------------
    new k8s.core.v1.Service(
      `${name}-headless`,
      {
        metadata: { name: headless, namespace: ns, labels },
        spec: {
          clusterIP: 'None',
          // Discovery must find nodes before they are Ready: a forming cluster is not Ready until it has formed.
          publishNotReadyAddresses: true,
          selector,
          ports: [
            { name: 'http', port: PORTS.elasticsearchHttp, targetPort: 'http' },
            { name: 'transport', port: PORTS.elasticsearchTransport, targetPort: 'transport' },
          ],
        },
      },
      child,
    );
    const service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: sts, namespace: ns, labels },
        spec: {
          type: 'ClusterIP',
          selector,
          ports: [{ name: 'http', port: PORTS.elasticsearchHttp, targetPort: 'http' }],
        },
      },
      child,
    );

    // --- StatefulSet ------------------------------------------------------------------------------------------
    const masters = Array.from({ length: args.replicas }, (_, i) => `${sts}-${i}`);
    const configYml = elasticsearchConfig({
      replicas: args.replicas,
      seedHosts: headless,
      initialMasterNodes: args.bootstrapped ? undefined : masters,
    });
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: { name: `${sts}-config`, namespace: ns, labels },
        data: { 'elasticsearch.yml': configYml },
      },
      child,
    );
    const env: k8s.types.input.core.v1.EnvVar[] = [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'ES_JAVA_OPTS', value: `-Xms${args.heap} -Xmx${args.heap}` },
      {
        name: 'ELASTIC_PASSWORD',
        valueFrom: { secretKeyRef: { name: elasticSecret.metadata.name, key: 'password' } },
      },
    ];
    const affinityTerm = { labelSelector: { matchLabels: selector }, topologyKey: 'kubernetes.io/hostname' };
    const affinity: k8s.types.input.core.v1.Affinity | undefined =
      args.antiAffinity === 'required'
        ? { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [affinityTerm] } }
        : args.antiAffinity === 'preferred'
          ? {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  { weight: 100, podAffinityTerm: affinityTerm },
                ],
              },
            }
          : undefined;
    const retention = args.protect ? 'Retain' : 'Delete';
    const readiness = [
      'sh',
      '-c',
      // The password goes to curl on stdin, not on its command line.
      `printf 'user = "elastic:%s"\\n' "$ELASTIC_PASSWORD" | curl -s -K - -o /dev/null -w '%{http_code}' 'http://127.0.0.1:${PORTS.elasticsearchHttp}/_cluster/health?local=true' | grep -q '^200$'`,
    ];
    this.statefulSet = new k8s.apps.v1.StatefulSet(
      `${name}-statefulset`,
      {
        metadata: { name: sts, namespace: ns, labels },
        spec: {
          serviceName: headless,
          replicas: args.replicas,
          // Every master-eligible node must start for a new cluster to elect a master.
          podManagementPolicy: 'Parallel',
          updateStrategy: { type: 'RollingUpdate' },
          selector: { matchLabels: selector },
          persistentVolumeClaimRetentionPolicy: { whenDeleted: retention, whenScaled: retention },
          template: {
            // A changed elasticsearch.yml (e.g. `bootstrapped`) rolls the nodes one by one.
            metadata: { labels, annotations: { 'pavemaster.io/config-hash': contentHash(configYml) } },
            spec: {
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              securityContext: restrictedPodSecurityContext(ELASTIC_UID),
              terminationGracePeriodSeconds: 120,
              affinity,
              // The root filesystem stays read-only: the image's config directory is copied to an emptyDir, where
              // the entrypoint may write the keystore (bootstrap password) and our elasticsearch.yml replaces its.
              initContainers: [
                {
                  name: 'config',
                  image: args.image,
                  imagePullPolicy: 'IfNotPresent',
                  command: [
                    'sh',
                    '-c',
                    'cp -R /usr/share/elasticsearch/config/. /config/ && cp /es-config/elasticsearch.yml /config/elasticsearch.yml',
                  ],
                  resources: toResourceRequirements(SMALL_JOB_RESOURCES),
                  securityContext: restrictedContainerSecurityContext(),
                  volumeMounts: [
                    { name: 'config', mountPath: '/config' },
                    { name: 'es-config', mountPath: '/es-config', readOnly: true },
                  ],
                },
              ],
              containers: [
                {
                  name: 'elasticsearch',
                  image: args.image,
                  imagePullPolicy: 'IfNotPresent',
                  env,
                  ports: [
                    { name: 'http', containerPort: PORTS.elasticsearchHttp },
                    { name: 'transport', containerPort: PORTS.elasticsearchTransport },
                  ],
                  resources: toResourceRequirements(args.resources),
                  securityContext: restrictedContainerSecurityContext(),
                  startupProbe: {
                    tcpSocket: { port: 'http' },
                    periodSeconds: 5,
                    failureThreshold: 60,
                  },
                  readinessProbe: { exec: { command: readiness }, periodSeconds: 10, timeoutSeconds: 5 },
                  livenessProbe: {
                    tcpSocket: { port: 'transport' },
                    periodSeconds: 20,
                    failureThreshold: 6,
                  },
                  volumeMounts: [
                    { name: 'data', mountPath: '/usr/share/elasticsearch/data' },
                    { name: 'config', mountPath: '/usr/share/elasticsearch/config' },
                    { name: 'certs', mountPath: '/usr/share/elasticsearch/config/certs', readOnly: true },
                    { name: 'logs', mountPath: '/usr/share/elasticsearch/logs' },
                    { name: 'tmp', mountPath: '/tmp' },
                  ],
                },
              ],
              volumes: [
                { name: 'es-config', configMap: { name: config.metadata.name } },
                { name: 'config', emptyDir: { sizeLimit: '64Mi' } },
                { name: 'certs', secret: { secretName: certSecret, defaultMode: 0o440 } },
                { name: 'logs', emptyDir: { sizeLimit: '1Gi' } },
                { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: 'data', labels },
              spec: {
                accessModes: ['ReadWriteOnce'],
                ...(args.storageClass !== undefined ? { storageClassName: args.storageClass } : {}),
                resources: { requests: { storage: args.storageSize } },
              },
            },
          ],
        },
      },
      { parent: this, protect: args.protect, dependsOn: [certs] },
    );

    new k8s.policy.v1.PodDisruptionBudget(
      `${name}-pdb`,
      {
        metadata: { name: sts, namespace: ns, labels },
        // One node at a time: with three nodes the other two keep a quorum; a single node can still be drained.
        spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
      },
      child,
    );

    // --- Setup Job --------------------------------------------------------------------------------------------
    const requests = elasticsearchSetupRequests({ ...args.lifecycle, replicas: args.replicas });
    const files = setupFiles(requests);
    const script = setupScript({ waitPath: '/_cluster/health?wait_for_status=yellow&timeout=5s' });
    const setupConfig = new k8s.core.v1.ConfigMap(
      `${name}-setup`,
      {
        metadata: { name: `${sts}-setup`, namespace: ns, labels: roleLabels('elasticsearch-setup', sts) },
        data: { ...files, 'setup.sh': script },
      },
      child,
    );
    const passwordEnv = Object.values(PLACEHOLDERS).map((key) => ({
      name: key,
      valueFrom: { secretKeyRef: { name: usersSecret.metadata.name, key } },
    }));
    setupJob(
      `${name}-setup-job`,
      {
        namespace: ns,
        objectName: `${sts}-setup`,
        role: 'elasticsearch-setup',
        instance: sts,
        image: args.image,
        configMapName: setupConfig.metadata.name,
        hash: contentHash(script, ...Object.values(files)),
        awaitCompletion: args.awaitJobs,
        env: [
          { name: 'TARGET_URL', value: `http://${sts}:${PORTS.elasticsearchHttp}` },
          { name: 'SETUP_USER', value: 'elastic' },
          {
            name: 'SETUP_PASSWORD',
            valueFrom: { secretKeyRef: { name: elasticSecret.metadata.name, key: 'password' } },
          },
          ...passwordEnv,
        ],
      },
      { parent: this, dependsOn: [service], deleteBeforeReplace: true },
    );

    // --- NetworkPolicies --------------------------------------------------------------------------------------
    allowPolicy(
      `${name}-netpol`,
      {
        namespace: ns,
        objectName: sts,
        podSelector: selector,
        labels,
        ingress: [
          {
            from: [...args.httpClients, rolePeer('elasticsearch-setup', sts)],
            ports: tcp(PORTS.elasticsearchHttp),
          },
          { from: [rolePeer('elasticsearch', sts)], ports: tcp(PORTS.elasticsearchTransport) },
        ],
        egress: [{ to: [rolePeer('elasticsearch', sts)], ports: tcp(PORTS.elasticsearchTransport) }],
      },
      child,
    );
    allowPolicy(
      `${name}-setup-netpol`,
      {
        namespace: ns,
        objectName: `${sts}-setup`,
        podSelector: roleSelector('elasticsearch-setup', sts),
        labels,
        egress: [{ to: [rolePeer('elasticsearch', sts)], ports: tcp(PORTS.elasticsearchHttp) }],
      },
      child,
    );

    this.url = pulumi.output(url);
    this.serviceName = service.metadata.name;
    this.elasticSecretName = elasticSecret.metadata.name;
    this.registerOutputs({
      url: this.url,
      serviceName: this.serviceName,
      elasticSecretName: this.elasticSecretName,
    });
  }

  /**
   * The certificate Job. It runs `elasticsearch-certutil` from the Elasticsearch image: a CA, then one node
   * certificate for every name a node may be reached by, stored as the Secret `<sts>-certs` through the
   * Kubernetes API. It does nothing when the Secret exists, so it never replaces working certificates. The CA's
   * private key never leaves the Job's memory-backed scratch volume: nobody can mint further certificates, and
   * rotating means deleting the Secret, re-running the Job and restarting the nodes (docs/logging.md). Keys are
   * therefore not in the Pulumi state either.
   */
  private certificateJob(
    name: string,
    args: ElasticsearchArgs,
    certSecret: string,
    headless: string,
    sts: string,
  ): k8s.batch.v1.Job {
    const child = { parent: this };
    const ns = args.namespace;
    const labels = roleLabels('elasticsearch-certs', sts);
    const dnsNames = [
      `*.${headless}.${ns}.svc.cluster.local`,
      `*.${headless}.${ns}.svc`,
      `*.${headless}`,
      headless,
      `${sts}.${ns}.svc`,
      sts,
      'localhost',
    ];
    const script = certificateScript({ secretName: certSecret, dnsNames, labels });
    const account = new k8s.core.v1.ServiceAccount(
      `${name}-certs-sa`,
      { metadata: { name: `${sts}-certs`, namespace: ns, labels }, automountServiceAccountToken: false },
      child,
    );
    const role = new k8s.rbac.v1.Role(
      `${name}-certs-role`,
      {
        metadata: { name: `${sts}-certs`, namespace: ns, labels },
        rules: [
          // RBAC cannot limit `create` to a name; `get` is limited to the certificate Secret.
          { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
          { apiGroups: [''], resources: ['secrets'], resourceNames: [certSecret], verbs: ['get'] },
        ],
      },
      child,
    );
    const binding = new k8s.rbac.v1.RoleBinding(
      `${name}-certs-binding`,
      {
        metadata: { name: `${sts}-certs`, namespace: ns, labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name },
        subjects: [{ kind: 'ServiceAccount', name: account.metadata.name, namespace: ns }],
      },
      child,
    );
    const config = new k8s.core.v1.ConfigMap(
      `${name}-certs-script`,
      { metadata: { name: `${sts}-certs`, namespace: ns, labels }, data: { 'certs.sh': script } },
      child,
    );
    allowPolicy(
      `${name}-certs-netpol`,
      {
        namespace: ns,
        objectName: `${sts}-certs`,
        podSelector: roleSelector('elasticsearch-certs', sts),
        labels,
        egress: [{ to: [{ ipBlock: { cidr: args.apiServer.cidr } }], ports: tcp(...args.apiServer.ports) }],
      },
      child,
    );
    return new k8s.batch.v1.Job(
      `${name}-certs-job`,
      {
        metadata: {
          name: `${sts}-certs`,
          namespace: ns,
          labels,
          annotations: jobAnnotations(args.awaitJobs),
        },
        spec: {
          backoffLimit: 6,
          template: {
            metadata: { labels, annotations: { 'pavemaster.io/setup-hash': contentHash(script) } },
            spec: {
              serviceAccountName: account.metadata.name,
              // The only pod of the Elasticsearch namespace that talks to the API server.
              automountServiceAccountToken: true,
              restartPolicy: 'OnFailure',
              enableServiceLinks: false,
              // Jobs only read the image's tools and write to their scratch emptyDir: the project's high uid works.
              securityContext: restrictedPodSecurityContext(),
              containers: [
                {
                  name: 'certutil',
                  image: args.image,
                  imagePullPolicy: 'IfNotPresent',
                  command: ['sh', '/scripts/certs.sh'],
                  env: [
                    { name: 'HOME', value: '/scratch' },
                    { name: 'ES_TMPDIR', value: '/scratch' },
                  ],
                  resources: toResourceRequirements({
                    requests: { cpu: '100m', memory: '256Mi' },
                    limits: { cpu: '1', memory: '512Mi' },
                  }),
                  securityContext: restrictedContainerSecurityContext(),
                  volumeMounts: [
                    { name: 'scripts', mountPath: '/scripts', readOnly: true },
                    { name: 'scratch', mountPath: '/scratch' },
                  ],
                },
              ],
              volumes: [
                { name: 'scripts', configMap: { name: config.metadata.name, defaultMode: 0o555 } },
                { name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
              ],
            },
          },
        },
      },
      { parent: this, dependsOn: [binding], deleteBeforeReplace: true },
    );
  }
}

/** Requests and limits of the init and setup containers. */
const SMALL_JOB_RESOURCES = {
  requests: { cpu: '10m', memory: '32Mi' },
  limits: { cpu: '200m', memory: '64Mi' },
};

/**
 * `elasticsearch.yml` (YAML; values JSON-quoted). Security on, transport TLS with the certificate Job's PEM
 * files, HTTP without TLS (see docs/logging.md), memory-mapped files off so that no privileged sysctl is needed,
 * and the discovery settings of the topology: `single-node` for one node, else seed hosts from the headless
 * Service plus, only until the cluster has formed, the initial master nodes. Exported for tests.
 */
export function elasticsearchConfig(opts: {
  replicas: number;
  seedHosts: string;
  initialMasterNodes?: string[];
}): string {
  const settings: [string, unknown][] = [
    ['cluster.name', 'pavemaster-logs'],
    ['node.name', '${POD_NAME}'],
    ['node.roles', ['master', 'data', 'ingest']],
    ['network.host', '0.0.0.0'],
    ['path.data', '/usr/share/elasticsearch/data'],
    ['path.logs', '/usr/share/elasticsearch/logs'],
    ...(opts.replicas === 1
      ? ([['discovery.type', 'single-node']] as [string, unknown][])
      : ([
          ['discovery.seed_hosts', [opts.seedHosts]],
          ...(opts.initialMasterNodes !== undefined
            ? [['cluster.initial_master_nodes', opts.initialMasterNodes]]
            : []),
        ] as [string, unknown][])),
    ['node.store.allow_mmap', false],
    ['bootstrap.memory_lock', false],
    ['xpack.ml.enabled', false],
    ['xpack.security.enabled', true],
    ['xpack.security.enrollment.enabled', false],
    // Port 9200 is reachable only through the NetworkPolicies, inside the cluster.
    ['xpack.security.http.ssl.enabled', false],
    ['xpack.security.transport.ssl.enabled', true],
    // Peers must present a certificate signed by the stack's CA; host names are not checked, as nodes connect to
    // each other's pod IPs.
    ['xpack.security.transport.ssl.verification_mode', 'certificate'],
    ['xpack.security.transport.ssl.key', 'certs/node.key'],
    ['xpack.security.transport.ssl.certificate', 'certs/node.crt'],
    ['xpack.security.transport.ssl.certificate_authorities', ['certs/ca.crt']],
  ];
  return `# Generated by the PaveMaster logging component.\n${settings
    .map(([key, value]) => `${key}: ${JSON.stringify(value)}`)
    .join('\n')}\n`;
}

/** The script of the certificate Job (see {@link Elasticsearch}). Exported for tests. */
export function certificateScript(opts: {
  secretName: string;
  dnsNames: string[];
  labels: Record<string, string>;
}): string {
  // The heredoc below expands $CA, $CRT and $KEY; nothing else in this JSON holds "$", "`" or "\\".
  const secretJson = JSON.stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: opts.secretName, labels: opts.labels },
    type: 'Opaque',
    data: { 'ca.crt': '$CA', 'node.crt': '$CRT', 'node.key': '$KEY' },
  });
  return `#!/bin/sh
# Generated by the PaveMaster logging component: transport certificates for Elasticsearch, made once.
set -eu
SA=/var/run/secrets/kubernetes.io/serviceaccount
API=https://kubernetes.default.svc
NS=$(cat "$SA/namespace")
printf 'header = "Authorization: Bearer %s"\\n' "$(cat "$SA/token")" > /scratch/curlrc
code=$(curl -s -o /dev/null -w '%{http_code}' -K /scratch/curlrc --cacert "$SA/ca.crt" "$API/api/v1/namespaces/$NS/secrets/${opts.secretName}")
if [ "$code" = 200 ]; then echo "Secret ${opts.secretName} exists: nothing to do"; exit 0; fi
if [ "$code" != 404 ]; then echo "reading Secret ${opts.secretName} answered $code" >&2; exit 1; fi
cd /scratch
elasticsearch-certutil ca --silent --pem --days 3650 --out ca.zip
unzip -q -o ca.zip
elasticsearch-certutil cert --silent --pem --days 1825 --ca-cert ca/ca.crt --ca-key ca/ca.key --name node \\
  --dns ${JSON.stringify(opts.dnsNames.join(','))} --out node.zip
unzip -q -o node.zip
CA=$(base64 -w0 ca/ca.crt)
CRT=$(base64 -w0 node/node.crt)
KEY=$(base64 -w0 node/node.key)
rm -f ca/ca.key
cat > secret.json <<EOF
${secretJson}
EOF
curl -sS --fail-with-body -o /dev/null -K /scratch/curlrc --cacert "$SA/ca.crt" -X POST \\
  -H 'Content-Type: application/json' --data-binary @secret.json "$API/api/v1/namespaces/$NS/secrets"
rm -f secret.json node/node.key
echo "Secret ${opts.secretName} created"
`;
}

/** A setup Job running `setup.sh` from its ConfigMap (see `elastic.ts`). */
export function setupJob(
  name: string,
  args: {
    namespace: string;
    objectName: string;
    role: 'elasticsearch-setup' | 'kibana-setup';
    instance: string;
    image: string;
    configMapName: pulumi.Input<string>;
    hash: string;
    awaitCompletion: boolean;
    env: k8s.types.input.core.v1.EnvVar[];
  },
  opts: pulumi.CustomResourceOptions,
): k8s.batch.v1.Job {
  const labels = roleLabels(args.role, args.instance);
  return new k8s.batch.v1.Job(
    name,
    {
      metadata: {
        name: args.objectName,
        namespace: args.namespace,
        labels,
        annotations: jobAnnotations(args.awaitCompletion),
      },
      spec: {
        backoffLimit: 10,
        template: {
          metadata: { labels, annotations: { 'pavemaster.io/setup-hash': args.hash } },
          spec: {
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            restartPolicy: 'OnFailure',
            // Jobs only read the image's tools and write to their scratch emptyDir: the project's high uid works.
            securityContext: restrictedPodSecurityContext(),
            containers: [
              {
                name: 'setup',
                image: args.image,
                imagePullPolicy: 'IfNotPresent',
                command: ['sh', '/setup/setup.sh'],
                env: [
                  ...args.env,
                  { name: 'BODIES', value: '/setup' },
                  { name: 'SCRATCH', value: '/scratch' },
                ],
                resources: toResourceRequirements({
                  requests: { cpu: '10m', memory: '32Mi' },
                  limits: { cpu: '200m', memory: '64Mi' },
                }),
                securityContext: restrictedContainerSecurityContext(),
                volumeMounts: [
                  { name: 'setup', mountPath: '/setup', readOnly: true },
                  { name: 'scratch', mountPath: '/scratch' },
                ],
              },
            ],
            volumes: [
              { name: 'setup', configMap: { name: args.configMapName, defaultMode: 0o444 } },
              { name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
            ],
          },
        },
      },
    },
    opts,
  );
}
