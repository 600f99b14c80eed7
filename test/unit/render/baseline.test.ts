/**
 * Nothing running is replaced by a change of the code's structure: every render case (both committed stacks, and
 * each with every optional part on; see test/support/render.ts) is rendered from this tree through its entry point
 * under mocks and compared with the baseline recorded from an older revision (fixtures/baseline.json, written by
 * `npx ts-node --transpile-only test/support/recordBaseline.ts <revision>`):
 *
 * - every resource of the baseline is still registered, under its URN or under an alias the engine follows
 *   (explicit aliases, and a parent's aliases inherited by its children), and nothing new appears;
 * - its type, its replacement-deciding options (protect, deleteBeforeReplace, ignoreChanges, additional secret
 *   outputs) and every input are unchanged, and so are its dependencies and the stack's outputs,
 *
 * except for the differences listed in INTENDED below, each with its reason. A difference that is not listed
 * fails the test with the resource, the field and both values. A listed difference on a field whose change makes
 * the Kubernetes provider replace the resource (see forcesReplacement) must say so (`replaces`), and may not be on
 * a protected resource; the real engine's count of them is scripts/upgrade-check's.
 */
import * as fs from 'fs';
import * as path from 'path';
import { previousUrns, Render, RenderedResource, RENDER_CASES } from '../../support/render';
import { renderHere } from '../../support/renderHere';

jest.setTimeout(10 * 60 * 1000);

interface Baseline {
  commit: string;
  cases: Record<string, Render>;
}

/** A difference the change means to make. */
interface Intended {
  /** The URN (in this tree) the difference is on; `*` for the stack's outputs. */
  urn: RegExp;
  /** The field: `aliases`, `dependencies`, `inputs.<path>`, `outputs.<path>`, `new` (a resource added). */
  field: RegExp;
  /** Why, in words: what a reviewer reads. */
  why: string;
  /**
   * The provider replaces the resource for this difference (a field forcesReplacement names): the why says why
   * that disturbs nothing running. Only on resources that are not protected.
   */
  replaces?: true;
}

/**
 * The differences this tree means to make against the baseline. None deletes anything: new aliases keep moved
 * resources' identities and dependencies only order registrations. The ones marked `replaces` have the provider
 * delete a ConfigMap or a Job and create it again under the same name; the rest are updates in place.
 */
const INTENDED: readonly Intended[] = [
  {
    urn: /BlueGreenApp\$pavemaster:platform:Namespace(\$[^:]+:[^:]+:[A-Za-z]+)?::pavemaster-namespace/,
    field: /^aliases$/,
    why:
      'the app namespace moves under the BlueGreenApp that now creates it ("app-namespace" at the top of the ' +
      'stack before), with an alias: each stack component creates its own namespaces',
  },
  {
    urn: /Monitoring\$pavemaster:platform:Namespace(\$[^:]+:[^:]+:[A-Za-z]+)?::monitoring(-node)?-namespace/,
    field: /^aliases$/,
    why: 'the monitoring namespaces move under the Monitoring component that now creates them, with an alias',
  },
  {
    urn: /LogShipper\$kubernetes:rbac\.authorization\.k8s\.io\/v1:ClusterRole(Binding)?::logging-shipper-(role|binding)$/,
    field: /^aliases$/,
    why:
      "Filebeat's ClusterRole and binding take the workload toolkit's names (<name>-role, <name>-binding, as " +
      "Prometheus's and kube-state-metrics' always had) with an alias from -clusterrole/-clusterrolebinding",
  },
  {
    urn: /pavemaster:(app:BlueGreenApp::pavemaster(-1)?|monitoring:Monitoring::monitoring)$/,
    field: /^dependencies$/,
    why:
      'the component no longer depends on a namespace created before it (it creates its own, or, for a bench ' +
      'app, runs in one); every child still depends on its Namespace through the namespace name it uses',
  },
  {
    urn: /^urn:pulumi:staging::pavemaster::.*\$pavemaster:monitoring:(Prometheus|Alertmanager|NodeExporter|BlackboxExporter)\$kubernetes:apps\/v1:(StatefulSet|DaemonSet|Deployment)::/,
    field: /^inputs\.spec\.template\.spec\.containers\.\d+\.image$/,
    why:
      'staging names Prometheus, Alertmanager, node-exporter and the blackbox exporter by tag (stacks/profiles.ts): ' +
      "the local registry serves its own builds under those tags, and a local build can never have upstream's " +
      'digest, so on the local cluster these pods run for real; production keeps the digests',
  },
  {
    urn: /::/,
    field:
      /^inputs\.spec\.(jobTemplate\.spec\.)?template\.spec\.(initContainers|containers)\.\d+\.imagePullPolicy$/,
    why:
      'issue 18: every container pulls `Always`, digest or tag (components/shared/image.ts IMAGE_PULL_POLICY; ' +
      'the default checks checkov CKV_K8S_15 and kube-score container-image-pull-policy): each pod start ' +
      're-checks its pull authorisation, so a pod never runs an image only cached on its node; a changed pod ' +
      'template rolls the pods of a workload (an update), and replaces a Job (its template is immutable), which ' +
      'runs the idempotent setup again',
    replaces: true,
  },
  {
    urn: /::/,
    field:
      /^inputs\.spec\.(jobTemplate\.spec\.)?template\.spec\.(initContainers|containers)\.\d+\.resources\.(requests|limits)\.ephemeral-storage$/,
    why:
      'issue 18: every container requests and limits its local disk (kube-score ' +
      'container-ephemeral-storage-request-and-limit; components/shared/resources.ts EPHEMERAL_STORAGE); a ' +
      'changed pod template rolls the pods (a Job whose template changes is replaced, as every edit of a Job is)',
    replaces: true,
  },
  {
    urn: /kubernetes:batch\/v1:Job::/,
    field: /^inputs\.metadata\.annotations\.pulumi\.com\/(skipAwait|waitFor)$/,
    why:
      'a setup Job that Pulumi does not wait for carries `pulumi.com/waitFor` instead of `pulumi.com/skipAwait` ' +
      '(components/logging/common.ts jobAnnotations): skipAwait also skipped the wait for the old Job to be ' +
      'deleted when a changed Job is replaced, and the new one then hit the terminating old one; an annotation ' +
      'change of a Job is an update, not a replacement',
  },
  {
    urn: /::(logging-elasticsearch-statefulset|logging-(elasticsearch|kibana)-setup-job|monitoring-grafana-deployment)$/,
    field: /^inputs\.spec\.template\.(metadata\.annotations|spec\.)/,
    why:
      'issue 18: secrets as files, not environment variables (checkov CKV_K8S_35): Elasticsearch reads ' +
      'ELASTIC_PASSWORD_FILE (copied by its config init container to a memory volume), the setup Jobs read ' +
      '/secrets/<NAME> from a projected volume, Grafana expands $__file{} in its provisioning; Grafana runs as ' +
      'uid/gid 10001 (CKV_K8S_40, kube-score). A changed pod template rolls the pods (a Job whose template ' +
      'changes is replaced, as every edit of a Job is); no data volume changes',
    replaces: true,
  },
  {
    urn: /::(logging-(elasticsearch|kibana)-setup|monitoring-grafana-provisioning)$/,
    field: /^inputs\.data\.(setup\.sh|datasources\.yml)$/,
    why:
      'issue 18: the setup script reads its passwords from files under $SECRETS; the Grafana datasource takes ' +
      'the Elasticsearch password as $__file{/etc/grafana/secrets/elasticsearch-password}. A ConfigMap data ' +
      'change replaces the ConfigMap (CONFIG_MAP_DATA_REPLACES): it is deleted and created again under its ' +
      'fixed name, and what mounts it is replaced with it (EXPECTED_REPLACED): the setup Jobs (re-run) and ' +
      "Grafana's Deployment",
    replaces: true,
  },
  {
    urn: /kubernetes:core\/v1:ConfigMap::monitoring-grafana-dashboards$/,
    field: /^inputs\.data\.[a-z-]+\.json$/,
    why:
      'issue 19: every provisioned dashboard carries a "Releases" annotation query on the tags the release ' +
      'command posts with each promote, flip-back and rollback (components/monitoring/dashboard.ts, ' +
      'release/annotations.ts). A ConfigMap data change replaces the ConfigMap (CONFIG_MAP_DATA_REPLACES): ' +
      'it is deleted and created again under its fixed name, and so is the Deployment that mounts it ' +
      '(EXPECTED_REPLACED): Grafana is down until its new pod is ready; it keeps nothing (an emptyDir), the ' +
      'dashboards are provisioned files',
    replaces: true,
  },
  {
    urn: /::pulumi:providers:kubernetes::kubernetes$/,
    field: /^new$/,
    why:
      'every Kubernetes object goes through one explicit provider bound to the checked kubeconfig context ' +
      '(infra/cluster.ts) instead of the default provider; the engine moves each resource to it without a ' +
      'replacement because both reach the same cluster (proved on the local cluster by scripts/upgrade-check)',
  },
  {
    urn: /(Grafana\$kubernetes:networking\.k8s\.io\/v1:NetworkPolicy::monitoring-grafana-network|Kibana\$kubernetes:networking\.k8s\.io\/v1:NetworkPolicy::logging-kibana-netpol)$/,
    field: /^inputs\.spec\.ingress(\.\d+(\.from(\.\d+(\.[A-Za-z.\-/]+)?)?)?)?$/,
    why:
      'issue 17: Grafana and Kibana admit only the configured sources (monitoring.grafana.ingressFrom, ' +
      "logging.kibana.ingressFrom, peers as in the app's ingressFrom); Grafana admitted any peer and Kibana " +
      'every pod of the ingress-nginx namespace before; a NetworkPolicy spec change is an update in place',
  },
  {
    urn: /::logging-(elasticsearch-statefulset|logstash-statefulset|kibana-deployment)$/,
    field:
      /^inputs\.spec\.template\.spec\.securityContext\.(runAsUser|runAsGroup|fsGroup|supplementalGroups(\.\d+)?)$/,
    why:
      "issue 18: Elasticsearch, Logstash and Kibana run as uid/gid 10001 with the images' group 0 as a " +
      'supplementary group (checkov CKV_K8S_40, kube-score container-security-context-user-group-id; Elastic ' +
      'documents any uid with group 0, "--group-add 0"); a pod template change rolls the pods, the claims stay ' +
      '(the kubelet gives their files to the new fsGroup)',
  },
  {
    urn: /BlueGreenApp\$random:index\/randomPassword:RandomPassword::pavemaster(-\d+)?-env-checksum-key$/,
    field: /^new$/,
    why:
      "the key of the app's env-secret checksum (HMAC-SHA256, so the pod annotation is no plain hash of a " +
      'secret): a new random value, nothing running changes for it',
  },
  {
    urn: /BlueGreenApp\$kubernetes:apps\/v1:Deployment::pavemaster(-\d+)?-(blue|green)$/,
    field:
      /^(inputs\.spec\.template\.metadata\.annotations\.pavemaster\.io\/env-secret-checksum|dependencies)$/,
    why:
      'the slots name `<app>-env` by its known name and only dependsOn it, with a checksum of its values on the ' +
      'pod template: a changed secret value rolls both slots in place (maxUnavailable 0) where it replaced ' +
      'both Deployments (deleted, then created: an outage); the first update rolls them once',
  },
  {
    urn: /Alertmanager\$random:index\/randomPassword:RandomPassword::monitoring-alertmanager-secrets-checksum-key$/,
    field: /^new$/,
    why:
      "the key of Alertmanager's secrets checksum (HMAC-SHA256 of the receivers' credentials, as the app's " +
      'env-secret checksum): a new random value, nothing running changes for it',
  },
  {
    urn: /Alertmanager\$kubernetes:apps\/v1:StatefulSet::monitoring-alertmanager-statefulset$/,
    field: /^(inputs\.spec\.template\.metadata\.annotations\.pavemaster\.io\/secrets-checksum|dependencies)$/,
    why:
      "Alertmanager's pod template carries a keyed checksum of its Secret's values (the config checksum covered " +
      'only their key names), so a rotated Slack webhook or SMTP password rolls it, and so it depends on the ' +
      "checksum's key; the first update rolls Alertmanager once (a StatefulSet template change is an update, " +
      'its volumes stay; the key is created, never replaced, so it cascades nothing)',
  },
  {
    urn: /::(logging-elasticsearch-certs-ca-\d+|monitoring-grafana-logging-ca)-(role|binding)$/,
    field: /^new$/,
    why:
      'issue 17, TLS on every hop: the certificate Job publishes the public CA (ConfigMap logging-ca) into the ' +
      "shipper's and Grafana's namespaces, through a Role there that allows creating it and reading or replacing " +
      'only it, granted by the component that creates the namespace',
  },
  {
    urn: /::(logging-elasticsearch-certs-job|logging-(exporter|kibana)-deployment|logging-logstash-statefulset|logging-shipper-daemonset|monitoring-grafana-deployment)$/,
    field: /^dependencies$/,
    why:
      'issue 17: the clients of the certificates start after the certificate Job (and the Job after its grants), ' +
      'so they find the CA ConfigMap; an ordering only, by dependsOn (no property dependency, no cascade)',
  },
  {
    urn: /::(logging-elasticsearch-(certs-script|config|setup)|logging-logstash-config|logging-shipper-config|monitoring-grafana-provisioning)$/,
    field: /^inputs\.data\.[a-z.]+$/,
    why:
      'issue 17, TLS on every hop: HTTPS on Elasticsearch (xpack.security.http.ssl), the Beats input with TLS ' +
      "and the Elasticsearch output verifying with the CA (Logstash), Filebeat's output.logstash.ssl, Grafana's " +
      'datasource over https with tlsCACert, the setup script verifying with CA_FILE, and the certificate script ' +
      'that makes the CA, the node/HTTP and the Logstash certificates. A ConfigMap data change replaces the ' +
      'ConfigMap (CONFIG_MAP_DATA_REPLACES) under its fixed name; the workloads refer to it by that name and roll',
    replaces: true,
  },
  {
    urn: /::logging-elasticsearch-(certs|setup)-job$/,
    field: /^inputs\.spec\.template\./,
    why:
      'issue 17: the certificate Job runs the new script (its hash), the setup Job mounts the CA bundle and ' +
      'names it in CA_FILE; a Job whose template changes is replaced (re-run): both are idempotent',
    replaces: true,
  },
  {
    urn: /::(logging-elasticsearch-statefulset|logging-(exporter|kibana)-deployment|logging-logstash-statefulset|logging-shipper-daemonset|monitoring-grafana-deployment)$/,
    field: /^inputs\.spec\.template\.(metadata\.annotations|spec\.)/,
    why:
      'issue 17: the clients mount the CA bundle (ConfigMap logging-ca, by its known name) and carry the ' +
      "certificates' generation (pavemaster.io/tls-generation) so a rotation rolls them; Kibana, the exporter " +
      "and Logstash verify Elasticsearch's certificate, Logstash serves its Beats certificate; Elasticsearch's " +
      'readiness probe speaks HTTPS. A pod template change rolls the pods (an update, no replacement)',
  },
  {
    urn: /^\*$/,
    field: /^outputs\.logging\.elasticsearchUrl$/,
    why: "issue 17: the stack's Elasticsearch URL is https (its HTTP layer is TLS now)",
  },
  {
    urn: /::logging-elasticsearch-certs-role$/,
    field: /^inputs\.rules/,
    why:
      'issue 17: the certificate Job may also read and replace (rotation) its two Secrets and create, read and ' +
      'replace the CA ConfigMap; a Role change is an update in place',
  },
];

const baseline = JSON.parse(
  fs.readFileSync(path.join(__dirname, 'fixtures', 'baseline.json'), 'utf8'),
) as Baseline;

/** Every leaf path where two JSON values differ ("spec.template.metadata.labels.version"). */
function differences(a: unknown, b: unknown, at = ''): string[] {
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    if (Array.isArray(a) !== Array.isArray(b)) {
      return [at];
    }
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) =>
      differences(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        at ? `${at}.${k}` : k,
      ),
    );
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [at];
}

function intended(urn: string, field: string): Intended | undefined {
  return INTENDED.find((i) => i.urn.test(urn) && i.field.test(field));
}

/**
 * The input fields whose change makes the Kubernetes provider replace a resource instead of updating it, for the
 * kinds this program registers, as the provider decides it (pulumi-kubernetes, provider/pkg/provider/forcenew.go:
 * its Diff reports these as replace-forcing, and it deletes before it creates again when the name is fixed).
 * Every kind: its name and namespace. A ConfigMap's or a Secret's data: only while the provider is not configured
 * mutable for them (enableConfigMapMutable, enableSecretMutable, both off by default), which
 * CONFIG_MAP_DATA_REPLACES holds true of the stack's provider.
 */
const REPLACE_FORCING: Readonly<Record<string, readonly string[]>> = {
  '*': ['metadata.name', 'metadata.namespace'],
  'kubernetes:apps/v1:Deployment': ['spec.selector'],
  'kubernetes:apps/v1:DaemonSet': ['spec.selector'],
  'kubernetes:apps/v1:StatefulSet': [
    'spec.podManagementPolicy',
    'spec.revisionHistoryLimit',
    'spec.selector',
    'spec.serviceName',
    'spec.volumeClaimTemplates',
  ],
  'kubernetes:batch/v1:Job': ['spec.completions', 'spec.parallelism', 'spec.selector', 'spec.template'],
  'kubernetes:core/v1:ConfigMap': ['data', 'binaryData'],
  'kubernetes:core/v1:Secret': ['type', 'data', 'stringData'],
  'kubernetes:core/v1:PersistentVolumeClaim': [
    'spec.accessModes',
    'spec.selector',
    'spec.storageClassName',
    'spec.volumeName',
  ],
  'kubernetes:core/v1:Service': ['spec.clusterIP'],
  'kubernetes:rbac.authorization.k8s.io/v1:RoleBinding': ['roleRef'],
  'kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding': ['roleRef'],
};

/** Whether a difference on `field` (`inputs.<path>`) of a resource of `type` makes the provider replace it. */
function forcesReplacement(type: string, field: string): boolean {
  if (!field.startsWith('inputs.')) {
    return false;
  }
  const p = field.slice('inputs.'.length);
  return [...REPLACE_FORCING['*'], ...(REPLACE_FORCING[type] ?? [])].some(
    (f) => p === f || p.startsWith(`${f}.`),
  );
}

/**
 * Every resource the engine replaces for the differences `direct` forces: the provider deletes a resource with a
 * fixed `metadata.name` before it creates it again (it cannot exist twice), and the engine then replaces every
 * custom resource whose inputs take a value from one it deletes first (Pulumi's dependent replacement of a
 * delete-before-replace: the value is unknown until the new object exists, and the provider answers a workload
 * whose pod template holds an unknown with a replacement), and so on. A dependency through `dependsOn` alone does
 * not cascade (Elasticsearch's StatefulSet waits for its certificate Job, which is re-run, and stays). Every
 * object here has a fixed name, so the closure over the property dependencies is the set; scripts/upgrade-check
 * measured the same set on the local cluster (docs/architecture.md, "Changing the structure").
 */
function replacedWith(direct: ReadonlySet<string>, render: Render): Set<string> {
  const replaced = new Set(direct);
  let grew = true;
  while (grew) {
    grew = false;
    for (const r of render.resources) {
      const from = r.propertyDependencies ?? r.dependencies;
      if (r.custom && !replaced.has(r.urn) && from.some((d) => replaced.has(d))) {
        replaced.add(r.urn);
        grew = true;
      }
    }
  }
  return replaced;
}

/**
 * What this tree replaces against the baseline, by resource name, in every render case: the ConfigMaps whose data
 * changed (issue 19's dashboards, issue 18's setup scripts and Grafana datasource) and the setup Jobs (their pod
 * templates changed, and they mount those ConfigMaps). Nothing protected, nothing with a volume claim, no
 * long-running workload: Grafana's Deployment refers to its ConfigMaps and Secret by their known names
 * (components/shared/workload.ts Referable), so it is rolled, not replaced.
 *
 * The engine computes dependent replacements from the property dependencies of the stack's last snapshot, not the
 * program's: this set is what these differences replace in a stack updated once with this tree. A stack last
 * updated by the baseline still holds Grafana's old property dependencies on its ConfigMaps, and its first
 * update replaces `monitoring-grafana-deployment` as well (the 8th name measured before the fix).
 */
const EXPECTED_REPLACED = [
  'logging-elasticsearch-certs-job',
  // Issue 17's TLS: the certificate script, elasticsearch.yml, the Logstash pipeline and filebeat.yml. Their
  // workloads (Elasticsearch's and Logstash's protected StatefulSets among them) refer to them by their known
  // names and roll.
  'logging-elasticsearch-certs-script',
  'logging-elasticsearch-config',
  'logging-elasticsearch-setup',
  'logging-elasticsearch-setup-job',
  'logging-kibana-setup',
  'logging-kibana-setup-job',
  'logging-logstash-config',
  'logging-shipper-config',
  'monitoring-grafana-dashboards',
  'monitoring-grafana-provisioning',
];

/**
 * What a change of one ConfigMap's or Secret's data alone replaces besides the object itself, by the name of the
 * object changed, in every render case. No StatefulSet, DaemonSet or Deployment of the monitoring and logging
 * components: their pod specs refer to ConfigMaps and Secrets by their known names and only `dependsOn` them.
 * What remains, all of it unprotected:
 * - the Elasticsearch and Kibana setup Jobs, which read their passwords from Secrets by the output name on
 *   purpose (a password change re-runs the idempotent setup; a Job keeps nothing);
 *
 * No Deployment takes a Secret as environment variables by its output name any more: the app's slots, Kibana and
 * the Elasticsearch exporter name theirs by its known name and roll on a checksum of its values.
 */
function configKnockOn(): Record<string, string[]> {
  const logging: Record<string, string[]> = {
    'logging-elasticsearch-elastic': ['logging-elasticsearch-setup-job', 'logging-kibana-setup-job'],
    'logging-elasticsearch-users': ['logging-elasticsearch-setup-job'],
  };
  // The app's slots (the fully-optioned cases give it an environment Secret) name it by its known name: none.
  return logging;
}

/** One difference an INTENDED entry accounts for. */
interface Seen {
  urn: string;
  field: string;
  intended: Intended;
}

const show = (v: unknown) => {
  const text = JSON.stringify(v);
  return text === undefined ? '(absent)' : text.length > 300 ? `${text.slice(0, 297)}...` : text;
};

/** Compares one case; returns the unintended differences, one line each, and the intended ones seen. */
function compare(
  before: Render,
  after: Render,
): { unintended: string[]; seen: Set<Intended>; seenAt: Seen[] } {
  const unintended: string[] = [];
  const seen = new Set<Intended>();
  const seenAt: Seen[] = [];
  const note = (urn: string, field: string, line: string) => {
    const i = intended(urn, field);
    if (i) {
      seen.add(i);
      seenAt.push({ urn, field, intended: i });
    } else {
      unintended.push(line);
    }
  };
  const oldByUrn = new Map(before.resources.map((r) => [r.urn, r]));
  const newByUrn = new Map(after.resources.map((r) => [r.urn, r]));
  const matched = new Map<string, RenderedResource>();
  const oldToNew = new Map<string, string>();
  for (const r of after.resources) {
    const candidates = previousUrns(r, newByUrn).filter((u) => oldByUrn.has(u));
    if (candidates.length === 0) {
      note(r.urn, 'new', `new resource ${r.urn}`);
      continue;
    }
    if (candidates.length > 1) {
      unintended.push(`${r.urn} matches several old resources: ${candidates.join(', ')}`);
    }
    const old = candidates[0];
    if (matched.has(old)) {
      unintended.push(`${old} is claimed by both ${matched.get(old)?.urn ?? '?'} and ${r.urn}`);
    }
    matched.set(old, r);
    oldToNew.set(old, r.urn);
  }
  for (const r of before.resources) {
    if (!matched.has(r.urn)) {
      unintended.push(`resource gone (would be deleted): ${r.urn}`);
    }
  }
  for (const [oldUrn, r] of matched) {
    const old = oldByUrn.get(oldUrn) as RenderedResource;
    if (old.urn !== r.urn && !r.aliases.includes(old.urn) && !previousUrns(r, newByUrn).includes(old.urn)) {
      unintended.push(`${r.urn} moved from ${old.urn} without an alias`);
    }
    if (old.urn !== r.urn) {
      note(r.urn, 'aliases', `${r.urn} moved from ${old.urn}`);
    }
    for (const field of [
      'type',
      'custom',
      'protect',
      'deleteBeforeReplace',
      'ignoreChanges',
      'additionalSecretOutputs',
    ] as const) {
      if (JSON.stringify(old[field]) !== JSON.stringify(r[field])) {
        note(r.urn, field, `${r.urn} ${field}: ${show(old[field])} -> ${show(r[field])}`);
      }
    }
    const oldDeps = old.dependencies.map((u) => oldToNew.get(u) ?? `(gone) ${u}`).sort();
    if (JSON.stringify(oldDeps) !== JSON.stringify(r.dependencies)) {
      const added = r.dependencies.filter((d) => !oldDeps.includes(d));
      const removed = oldDeps.filter((d) => !r.dependencies.includes(d));
      note(r.urn, 'dependencies', `${r.urn} dependencies: +[${added.join(', ')}] -[${removed.join(', ')}]`);
    }
    for (const p of differences(old.inputs, r.inputs)) {
      note(
        r.urn,
        `inputs.${p}`,
        `${r.urn} inputs.${p}: ${show(pick(old.inputs, p))} -> ${show(pick(r.inputs, p))}`,
      );
    }
  }
  for (const p of differences(before.outputs, after.outputs)) {
    note(
      '*',
      `outputs.${p}`,
      `stack output ${p}: ${show(pick(before.outputs, p))} -> ${show(pick(after.outputs, p))}`,
    );
  }
  return { unintended, seen, seenAt };
}

function pick(value: unknown, p: string): unknown {
  let current = value;
  for (const part of p === '' ? [] : p.split('.')) {
    if (current === null || typeof current !== 'object') {
      return undefined;
    }
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

const seenOverall = new Set<Intended>();
const replacingOverall = new Set<Intended>();

/**
 * The premise of every `replaces` on a ConfigMap: the provider the stack's objects go through (infra/cluster.ts)
 * is not configured to update ConfigMaps or Secrets in place, so a change of their data replaces them.
 */
const CONFIG_MAP_DATA_REPLACES =
  'no Kubernetes provider of the stack updates ConfigMaps or Secrets in place (a data change replaces them)';

/** The kinds whose data change replaces them (CONFIG_MAP_DATA_REPLACES). */
const CONFIG_KINDS = new Set(['kubernetes:core/v1:ConfigMap', 'kubernetes:core/v1:Secret']);
/** Workloads with per-pod identity or per-node state: replacing one is never a config change's business. */
const STATEFUL_KINDS = new Set(['kubernetes:apps/v1:StatefulSet', 'kubernetes:apps/v1:DaemonSet']);

/** Each case rendered once, for the tests that read it. */
const renders = new Map<string, Promise<Render>>();
function rendered(id: string): Promise<Render> {
  const r = renders.get(id) ?? renderHere(id);
  renders.set(id, r);
  return r;
}

/** A provider input as the engine receives it: a boolean may arrive JSON-encoded as text. */
const isOn = (v: unknown) => v === true || v === 'true';

describe(`the render against the baseline of ${baseline.commit.slice(0, 12)}`, () => {
  it('covers every render case', () => {
    expect(Object.keys(baseline.cases).sort()).toEqual(RENDER_CASES.map((c) => c.id).sort());
  });

  it.each(RENDER_CASES.map((c) => c.id))('%s: same resources, options and inputs', async (id) => {
    const after = await rendered(id);
    const { unintended, seen, seenAt } = compare(baseline.cases[id], after);
    seen.forEach((i) => seenOverall.add(i));
    expect(unintended).toEqual([]);
    // Replacement-deciding facts, stated directly: no protected resource lost its protection.
    const protectedBefore = baseline.cases[id].resources.filter((r) => r.protect).length;
    expect(after.resources.filter((r) => r.protect).length).toBe(protectedBefore);

    // An intended difference the provider answers with a replacement says so, and is never on protected data.
    const byUrn = new Map(after.resources.map((r) => [r.urn, r]));
    const replacing = seenAt.filter((d) => {
      const r = byUrn.get(d.urn);
      return r !== undefined && forcesReplacement(r.type, d.field);
    });
    replacing.forEach((d) => replacingOverall.add(d.intended));
    expect(replacing.filter((d) => d.intended.replaces !== true).map((d) => `${d.urn} ${d.field}`)).toEqual(
      [],
    );
    expect(replacing.filter((d) => byUrn.get(d.urn)?.protect === true).map((d) => d.urn)).toEqual([]);

    // With the engine's dependent replacements: exactly the expected set, none of it protected.
    const replaced = [...replacedWith(new Set(replacing.map((d) => d.urn)), after)].map((u) => byUrn.get(u));
    expect(replaced.map((r) => r?.name).sort()).toEqual(EXPECTED_REPLACED);
    expect(replaced.filter((r) => r?.protect === true).map((r) => r?.urn)).toEqual([]);
  });

  it.each(RENDER_CASES.map((c) => c.id))(
    '%s: a change of one ConfigMap or Secret replaces no protected or stateful workload',
    async (id) => {
      const after = await rendered(id);
      const byUrn = new Map(after.resources.map((r) => [r.urn, r]));
      const knockOn: Record<string, string[]> = {};
      for (const object of after.resources.filter((r) => CONFIG_KINDS.has(r.type))) {
        const others = [...replacedWith(new Set([object.urn]), after)]
          .filter((u) => u !== object.urn)
          .map((u) => byUrn.get(u) as RenderedResource);
        // The rule itself, whatever the list below says: nothing protected, no StatefulSet or DaemonSet.
        expect(others.filter((r) => r.protect || STATEFUL_KINDS.has(r.type)).map((r) => r.urn)).toEqual([]);
        if (others.length > 0) {
          knockOn[object.name] = others.map((r) => r.name).sort();
        }
      }
      expect(knockOn).toEqual(configKnockOn());
    },
  );

  it.each(RENDER_CASES.map((c) => c.id))(`%s: ${CONFIG_MAP_DATA_REPLACES}`, async (id) => {
    const after = await rendered(id);
    const providers = after.resources.filter((r) => r.type === 'pulumi:providers:kubernetes');
    // Every Kubernetes object goes through the explicit provider; a default provider would read the stack's
    // kubernetes:* config instead, which no stack file sets.
    expect(providers.map((r) => r.name)).toEqual(['kubernetes']);
    const mutable = providers.flatMap((r) => {
      const inputs = r.inputs as Record<string, unknown>;
      return ['enableConfigMapMutable', 'enableSecretMutable'].filter((k) => isOn(inputs[k]));
    });
    expect(mutable).toEqual([]);
    const stackFile = fs.readFileSync(
      path.join(__dirname, '..', '..', '..', `Pulumi.${after.stack}.yaml`),
      'utf8',
    );
    expect(stackFile).not.toMatch(/^\s*kubernetes:/m);
  });

  it('lists no intended difference that no case shows (the list stays true)', () => {
    expect(INTENDED.filter((i) => !seenOverall.has(i)).map((i) => i.why)).toEqual([]);
  });

  it('marks as replacing only differences the provider replaces for (the marks stay true)', () => {
    expect(INTENDED.filter((i) => i.replaces === true && !replacingOverall.has(i)).map((i) => i.why)).toEqual(
      [],
    );
  });
});
