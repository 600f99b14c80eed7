/**
 * The logging stack's certificates (tls.ts lists them), made by a Job that runs `elasticsearch-certutil` from the
 * Elasticsearch image: one CA, then the Elasticsearch nodes' certificate (transport and HTTP, for every name a
 * node or the client Service is reached by) and Logstash's Beats server certificate. It stores them through the
 * Kubernetes API: the two Secrets in the logging namespace, and the public trust bundle as the ConfigMap
 * `logging-ca` in every namespace with a client. The CA's private key never leaves the Job's memory-backed scratch
 * volume: nobody can mint further certificates, and keys are not in the Pulumi state either.
 *
 * Rotation is by config (`pavemaster:logging.tls.rotation`, a generation number). The Secret
 * `elasticsearch-certs` carries the generation and a hash of the names as its annotation `pavemaster.io/tls-spec`;
 * the Job does nothing when it matches, so re-running never replaces working certificates. A new generation
 * changes the script, so the engine replaces (re-runs) the Job, which rotates in two steps:
 * 1. the trust bundle becomes the new CA plus the old one, everywhere, while every server keeps its old
 *    certificate; the Job waits until the kubelets have synced the mounted files (TLS_SYNC_SECONDS) and
 *    Elasticsearch has reloaded them (it watches its certificate files);
 * 2. the servers' certificates are replaced by ones of the new CA (Elasticsearch's Secret last: its annotation says
 *    the generation is complete).
 * Every other pod carries the generation as a pod-template annotation and rolls with the new value; it starts
 * with the new bundle, which trusts the old and the new certificates.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { allowPolicy, tcp } from '../shared/network';
import * as workload from '../shared/workload';
import { ApiServerPeer, contentHash, roleLabels } from './common';
import { scriptJob } from './setupJob';
import {
  CA_CONFIG_MAP,
  CA_KEY,
  CA_WRITER_RULES,
  CERT_WRITER,
  ES_CERT_SECRET,
  grantCaWriter,
  LOGSTASH_CERT_SECRET,
} from './tls';

/** The DNS names of Elasticsearch's node certificate: the headless Service's, the client Service's, localhost. */
export function elasticsearchDnsNames(args: { namespace: string; sts: string; headless: string }): string[] {
  const { namespace: ns, sts, headless } = args;
  return [
    `*.${headless}.${ns}.svc.cluster.local`,
    `*.${headless}.${ns}.svc`,
    `*.${headless}`,
    headless,
    // The HTTP clients: Logstash, Kibana, the exporter and Grafana use the namespaced name, the setup Job the short
    // one, the readiness probe localhost.
    `${sts}.${ns}.svc.cluster.local`,
    `${sts}.${ns}.svc`,
    `${sts}.${ns}`,
    sts,
    'localhost',
  ];
}

/** The DNS names of Logstash's Beats certificate: its client Service's names (Filebeat uses `<svc>.<ns>.svc`). */
export function logstashDnsNames(args: { namespace: string; service: string }): string[] {
  const { namespace: ns, service } = args;
  return [`${service}.${ns}.svc.cluster.local`, `${service}.${ns}.svc`, `${service}.${ns}`, service];
}

/** The certificate Job and what it needs (ServiceAccount, Roles, bindings, script, NetworkPolicy). */
export function certificateJob(
  name: string,
  args: {
    namespace: string;
    /**
     * The Elasticsearch StatefulSet's name and its headless Service's, whose node certificate the Job makes;
     * undefined with an external Elasticsearch: then only Logstash's certificate and the trust bundle.
     */
    elasticsearch?: { sts: string; headless: string };
    /** Logstash's client Service. */
    logstashService: string;
    /** The certificates' generation (`logging.tls.rotation`). */
    generation: number;
    /** The namespaces besides the logging one whose Roles this component grants: the shipper's. */
    ownedCaNamespaces: readonly { name: string; resource: pulumi.Resource }[];
    /** Namespaces whose owner grants the Job (grantCaWriter) after creating them: the monitoring one. */
    grantedCaNamespaces: readonly string[];
    image: string;
    awaitCompletion: boolean;
    apiServer: ApiServerPeer;
  },
  parent: pulumi.Resource,
  /** What the Job's objects wait for besides their parent (the logging namespace, without the Elasticsearch component). */
  dependsOn: readonly pulumi.Resource[] = [],
  /** Earlier identities of the Job's objects (the same objects under the stack's own Elasticsearch). @default none */
  aliases: readonly pulumi.Input<pulumi.Alias>[] = [],
): k8s.batch.v1.Job {
  const known = aliases.length > 0 ? { aliases: [...aliases] } : {};
  const child = dependsOn.length > 0 ? { parent, dependsOn: [...dependsOn], ...known } : { parent, ...known };
  const { namespace: ns, elasticsearch: es } = args;
  // The same names with an external Elasticsearch, where the Job makes Logstash's certificate only: the scanners'
  // accepted findings (policy/scanners/accepted.yaml) and the Grafana grant name the Job by them.
  const objectName = CERT_WRITER;
  const { labels, selector } = roleLabels('elasticsearch-certs', es?.sts ?? 'elasticsearch');
  const scope = { objectName, namespace: ns, labels };
  const script = certificateScript({
    generation: args.generation,
    elasticsearchDnsNames:
      es !== undefined ? elasticsearchDnsNames({ namespace: ns, sts: es.sts, headless: es.headless }) : [],
    logstashDnsNames: logstashDnsNames({ namespace: ns, service: args.logstashService }),
    caNamespaces: [ns, ...args.ownedCaNamespaces.map((n) => n.name), ...args.grantedCaNamespaces],
    labels,
  });
  const account = workload.serviceAccount(`${name}-certs-sa`, { ...scope, automount: false }, child);
  const role = new k8s.rbac.v1.Role(
    `${name}-certs-role`,
    {
      metadata: { name: objectName, namespace: ns, labels },
      rules: [
        // RBAC cannot limit `create` to a name; `get` and `update` are limited to the certificate Secrets.
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
        {
          apiGroups: [''],
          resources: ['secrets'],
          resourceNames: es !== undefined ? [ES_CERT_SECRET, LOGSTASH_CERT_SECRET] : [LOGSTASH_CERT_SECRET],
          verbs: ['get', 'update'],
        },
        ...CA_WRITER_RULES,
      ],
    },
    child,
  );
  const binding = new k8s.rbac.v1.RoleBinding(
    `${name}-certs-binding`,
    {
      metadata: { name: objectName, namespace: ns, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name },
      subjects: [{ kind: 'ServiceAccount', name: account.metadata.name, namespace: ns }],
    },
    child,
  );
  const grants = args.ownedCaNamespaces.map((n, i) =>
    grantCaWriter(
      `${name}-certs-ca-${i}`,
      { namespace: n.name, labels, writer: { serviceAccountName: objectName, namespace: ns } },
      { parent, dependsOn: [n.resource], ...known },
    ),
  );
  const config = workload.configFiles(
    `${name}-certs-script`,
    { ...scope, data: { 'certs.sh': script } },
    child,
  );
  allowPolicy(
    `${name}-certs-netpol`,
    {
      ...scope,
      podSelector: selector,
      egress: [{ to: [{ ipBlock: { cidr: args.apiServer.cidr } }], ports: tcp(...args.apiServer.ports) }],
    },
    child,
  );
  return scriptJob(
    `${name}-certs-job`,
    {
      ...scope,
      image: args.image,
      container: 'certutil',
      configMapName: config.objectName,
      dir: 'scripts',
      file: 'certs.sh',
      mode: 0o555,
      hash: contentHash(script),
      env: [
        { name: 'HOME', value: '/scratch' },
        { name: 'ES_TMPDIR', value: '/scratch' },
      ],
      resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } },
      scratchSize: '64Mi',
      backoffLimit: 6,
      awaitCompletion: args.awaitCompletion,
      // The only pod of the logging namespace that talks to the API server.
      serviceAccountName: account.metadata.name,
    },
    { parent, dependsOn: [binding, config, ...grants], deleteBeforeReplace: true, ...known },
  );
}

/** What the certificate script makes. */
export interface CertificatePlan {
  /** The generation (`logging.tls.rotation`), a whole number from 1. */
  generation: number;
  /** The node certificate's names; none (an external Elasticsearch): no node certificate. */
  elasticsearchDnsNames: readonly string[];
  logstashDnsNames: readonly string[];
  /** Namespaces that get the trust bundle ConfigMap. */
  caNamespaces: readonly string[];
  labels: Record<string, string>;
}

/** The value of the `pavemaster.io/tls-spec` annotation: the generation and a hash of every name. */
export function certificateSpec(plan: Omit<CertificatePlan, 'labels' | 'caNamespaces'>): string {
  return `${plan.generation}-${contentHash(
    plan.elasticsearchDnsNames.join(','),
    plan.logstashDnsNames.join(','),
  )}`;
}

const DNS_NAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * The script of the certificate Job. Exported for tests, which run it with a stand-in certutil (openssl) against a
 * stand-in API server: SA_DIR, KUBE_API and SCRATCH override the in-pod paths, TLS_SYNC_SECONDS the wait.
 */
export function certificateScript(plan: CertificatePlan): string {
  if (!Number.isInteger(plan.generation) || plan.generation < 1) {
    throw new Error(`certificate generation ${plan.generation} is not a whole number from 1`);
  }
  for (const n of [...plan.elasticsearchDnsNames, ...plan.logstashDnsNames]) {
    if (!DNS_NAME.test(n)) {
      throw new Error(`"${n}" is not a DNS name for a certificate`);
    }
  }
  for (const n of plan.caNamespaces) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(n)) {
      throw new Error(`"${n}" is not a namespace name`);
    }
  }
  const spec = certificateSpec(plan);
  // The heredocs below expand $CA, $CRT, $KEY and $SPEC_NOW; nothing else in this JSON holds "$", "`" or "\\".
  const labels = JSON.stringify(plan.labels);
  const meta = (objectName: string) =>
    `"metadata":{"name":"${objectName}","labels":${labels},"annotations":{"pavemaster.io/tls-spec":"$SPEC_NOW"}}`;
  const esSecret = `{"apiVersion":"v1","kind":"Secret",${meta(ES_CERT_SECRET)},"type":"Opaque","data":{"${CA_KEY}":"$CA","node.crt":"$CRT","node.key":"$KEY"}}`;
  // Without Elasticsearch (an external one), Logstash's Secret is the one that says which generation is done,
  // so it carries the bundle too: a rotation reads the CA in use back from it.
  const es = plan.elasticsearchDnsNames.length > 0;
  const lsBundle = es ? '' : `"${CA_KEY}":"$CA",`;
  const lsSecret = `{"apiVersion":"v1","kind":"Secret",${meta(LOGSTASH_CERT_SECRET)},"type":"Opaque","data":{${lsBundle}"logstash.crt":"$CRT","logstash.key":"$KEY"}}`;
  const marker = es ? ES_CERT_SECRET : LOGSTASH_CERT_SECRET;
  const markerCert = es ? 'node' : 'logstash';
  // binaryData: the PEM text as base64, so no JSON escaping; the kubelet writes the decoded bytes to the file.
  const caMap = `{"apiVersion":"v1","kind":"ConfigMap",${meta(CA_CONFIG_MAP)},"binaryData":{"${CA_KEY}":"$CA"}}`;
  // A stack that ran its own Elasticsearch before: its Logstash Secret holds no bundle, the CA ConfigMap does. The
  // CA in use stays trusted through the switch, as through a rotation.
  const oldCaFallback = es
    ? ''
    : `    if [ ! -s old-ca.crt ] && [ "$(api GET "/api/v1/namespaces/$NS/configmaps/${CA_CONFIG_MAP}")" = 200 ]; then
      field 'ca\\.crt' | base64 -d | sed -n '1,/-----END CERTIFICATE-----/p' > old-ca.crt
    fi
`;
  const nodeCert = es
    ? `elasticsearch-certutil cert --silent --pem --days 1825 --ca-cert ca/ca.crt --ca-key ca/ca.key --name node \\
  --dns ${JSON.stringify(plan.elasticsearchDnsNames.join(','))} --out node.zip
`
    : '';
  const lsFunction = `ls_secret() {
  cat > logstash.json <<EOF
${lsSecret}
EOF
}`;
  const markerFunction = es
    ? `es_secret() {
  cat > es.json <<EOF
${esSecret}
EOF
}`
    : lsFunction;
  const markerStep1 = es
    ? `  es_secret
  put "$NS" secrets ${ES_CERT_SECRET} es.json`
    : `  ls_secret
  put "$NS" secrets ${LOGSTASH_CERT_SECRET} logstash.json`;
  const lsStep2 = `CRT=$(base64 -w0 logstash/logstash.crt)
KEY=$(base64 -w0 logstash/logstash.pkcs8.key)`;
  const step2 = es
    ? `# Step 2 (the only one of a first run): the new certificates; Elasticsearch's Secret last, its annotation says done.
SPEC_NOW=$SPEC
ca_map
publish_ca ${plan.caNamespaces.join(' ')}
${lsStep2}
cat > logstash.json <<EOF
${lsSecret}
EOF
put "$NS" secrets ${LOGSTASH_CERT_SECRET} logstash.json
CRT=$(base64 -w0 node/node.crt)
KEY=$(base64 -w0 node/node.key)
es_secret
put "$NS" secrets ${ES_CERT_SECRET} es.json`
    : `# Step 2 (the only one of a first run): the new certificate; its Secret's annotation says done.
SPEC_NOW=$SPEC
ca_map
publish_ca ${plan.caNamespaces.join(' ')}
${lsStep2}
ls_secret
put "$NS" secrets ${LOGSTASH_CERT_SECRET} logstash.json`;
  return `#!/bin/sh
# Generated by the PaveMaster logging component: the logging stack's certificates, generation ${plan.generation}
# (docs/logging.md, "TLS").
set -eu
SA="\${SA_DIR:-/var/run/secrets/kubernetes.io/serviceaccount}"
API="\${KUBE_API:-https://kubernetes.default.svc}"
SCRATCH="\${SCRATCH:-/scratch}"
# How long the old certificates keep serving once the new CA is published: the kubelet's sync of mounted Secrets
# and ConfigMaps (about a minute) plus Elasticsearch's reload of its certificate files (every 5 s).
SYNC_SECONDS="\${TLS_SYNC_SECONDS:-120}"
SPEC='${spec}'
NS=$(cat "$SA/namespace")
cd "$SCRATCH"
umask 077
{
  printf 'header = "Authorization: Bearer %s"\\n' "$(cat "$SA/token")"
  printf 'cacert = "%s"\\n' "$SA/ca.crt"
} > curlrc

# api METHOD PATH [BODY]: prints the HTTP status; the answer is in ./answer.
api() {
  if [ $# -eq 3 ]; then
    curl -sS -o answer -w '%{http_code}' -K curlrc -X "$1" -H 'Content-Type: application/json' \\
      --data-binary "@$3" "$API$2"
  else
    curl -sS -o answer -w '%{http_code}' -K curlrc -X "$1" "$API$2"
  fi
}

# put NAMESPACE RESOURCE NAME BODY: replaces the object or creates it. Retried for five minutes while the
# namespace or this Job's grant there is missing: the monitoring component creates both, maybe after this started.
put() {
  tries=0
  while :; do
    code=$(api PUT "/api/v1/namespaces/$1/$2/$3" "$4")
    if [ "$code" = 404 ]; then code=$(api POST "/api/v1/namespaces/$1/$2" "$4"); fi
    case "$code" in 2??) echo "$2 $1/$3 written"; return 0 ;; esac
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then echo "writing $2 $1/$3 answered $code:" >&2; cat answer >&2; exit 1; fi
    sleep 5
  done
}

# field NAME: a base64 value of the last answer (the API server's JSON is compact, base64 has no , { or }).
field() {
  # shellcheck disable=SC2020 # each of the three characters becomes a newline, on purpose
  tr ',{}' '\\n\\n\\n' < answer | sed -n "s/^\\"$1\\":\\"\\(.*\\)\\"$/\\1/p"
}

# pkcs8 IN OUT: the Beats input reads only PKCS#8 keys; certutil writes RSA keys as PKCS#1. PKCS#8 is the PKCS#1
# key in an OCTET STRING after version 0 and the rsaEncryption algorithm identifier (RFC 5208), both with two-byte
# DER lengths (a 2048-bit key is about 1.2 kB).
bytes() {
  for b in "$@"; do printf '%b' "\\\\0$(printf '%o' "$b")"; done
}
pkcs8() {
  # The armour's label from a variable: the script's ConfigMap holds no key, and the policy pack's scan for
  # private keys in ConfigMaps would otherwise take the literal armour for one.
  label='PRIVATE KEY'
  if grep -q "BEGIN $label" "$1"; then cp "$1" "$2"; return 0; fi
  sed '/^-----/d' "$1" | base64 -d > key.der
  n=$(wc -c < key.der)
  t=$((n + 22))
  {
    bytes 48 130 $((t / 256)) $((t % 256)) 2 1 0 48 13 6 9 42 134 72 134 247 13 1 1 1 5 0 4 130 $((n / 256)) $((n % 256))
    cat key.der
  } > key8.der
  { echo "-----BEGIN $label-----"; base64 -w 64 key8.der; echo "-----END $label-----"; } > "$2"
  rm -f key.der key8.der
}

code=$(api GET "/api/v1/namespaces/$NS/secrets/${marker}")
ROTATING=
case "$code" in
  200)
    if grep -q "\\"pavemaster.io/tls-spec\\":\\"$SPEC\\"" answer; then
      echo "certificates of generation ${plan.generation} exist: nothing to do"
      exit 0
    fi
    ROTATING=yes
    OLD_CRT=$(field '${markerCert}\\.crt')
    OLD_KEY=$(field '${markerCert}\\.key')
    # The CA in use stays trusted: the first of the old bundle, or all of it when a rotation was cut short (its
    # servers may still hold certificates of either).
    if grep -q '"pavemaster.io/tls-spec":"rotating"' answer; then
      field 'ca\\.crt' | base64 -d > old-ca.crt
    else
      field 'ca\\.crt' | base64 -d | sed -n '1,/-----END CERTIFICATE-----/p' > old-ca.crt
    fi
${oldCaFallback}    ;;
  404) ;;
  *) echo "reading Secret ${marker} answered $code:" >&2; cat answer >&2; exit 1 ;;
esac

rm -rf ca node logstash ca.zip node.zip logstash.zip
elasticsearch-certutil ca --silent --pem --days 3650 --out ca.zip
unzip -q -o ca.zip
${nodeCert}elasticsearch-certutil cert --silent --pem --days 1825 --ca-cert ca/ca.crt --ca-key ca/ca.key --name logstash \\
  --dns ${JSON.stringify(plan.logstashDnsNames.join(','))} --out logstash.zip
${es ? 'unzip -q -o node.zip\n' : ''}unzip -q -o logstash.zip
rm -f ca/ca.key ca.zip node.zip logstash.zip
pkcs8 logstash/logstash.key logstash/logstash.pkcs8.key
cp ca/ca.crt bundle.crt
if [ -n "$ROTATING" ]; then cat old-ca.crt >> bundle.crt; fi
CA=$(base64 -w0 bundle.crt)

ca_map() {
  cat > ca.json <<EOF
${caMap}
EOF
}
# publish_ca NAMESPACE...: the trust bundle ConfigMap in each client namespace.
publish_ca() {
  for ns in "$@"; do put "$ns" configmaps ${CA_CONFIG_MAP} ca.json; done
}
${markerFunction}

if [ -n "$ROTATING" ]; then
  # Step 1: every pod learns the new CA while every server keeps its old certificate.
  SPEC_NOW=rotating
  CRT=$OLD_CRT
  KEY=$OLD_KEY
${markerStep1}
  ca_map
  publish_ca ${plan.caNamespaces.join(' ')}
  echo "waiting \${SYNC_SECONDS}s for the pods' mounted files to hold the new CA"
  sleep "$SYNC_SECONDS"
fi

${step2}
rm -rf ca node logstash bundle.crt es.json logstash.json ca.json old-ca.crt answer
echo "certificates of generation ${plan.generation} written"
`;
}
