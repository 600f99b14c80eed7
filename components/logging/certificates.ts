/**
 * Elasticsearch's transport certificates, made once by a Job. It runs `elasticsearch-certutil` from the
 * Elasticsearch image: a CA, then one node certificate for every name a node may be reached by, stored as the
 * Secret `<sts>-certs` through the Kubernetes API. It does nothing when the Secret exists, so it never replaces
 * working certificates. The CA's private key never leaves the Job's memory-backed scratch volume: nobody can mint
 * further certificates, and rotating means deleting the Secret, re-running the Job and restarting the nodes
 * (docs/logging.md). Keys are therefore not in the Pulumi state either.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { allowPolicy, tcp } from '../shared/network';
import { restrictedPodSecurityContext } from '../shared/security';
import { configFiles, restrictedContainer, scratchVolume, serviceAccount } from '../shared/workload';
import { ApiServerPeer, contentHash, jobAnnotations, roleLabels } from './common';

/** The certificate Job and what it needs (ServiceAccount, Role, binding, script, NetworkPolicy). */
export function certificateJob(
  name: string,
  args: {
    namespace: string;
    /** The StatefulSet's name, its headless Service's and the Secret's. */
    sts: string;
    headless: string;
    secretName: string;
    image: string;
    awaitCompletion: boolean;
    apiServer: ApiServerPeer;
  },
  parent: pulumi.Resource,
): k8s.batch.v1.Job {
  const child = { parent };
  const { namespace: ns, sts, headless } = args;
  const objectName = `${sts}-certs`;
  const { labels, selector } = roleLabels('elasticsearch-certs', sts);
  const scope = { objectName, namespace: ns, labels };
  const dnsNames = [
    `*.${headless}.${ns}.svc.cluster.local`,
    `*.${headless}.${ns}.svc`,
    `*.${headless}`,
    headless,
    `${sts}.${ns}.svc`,
    sts,
    'localhost',
  ];
  const script = certificateScript({ secretName: args.secretName, dnsNames, labels });
  const account = serviceAccount(`${name}-certs-sa`, { ...scope, automount: false }, child);
  const role = new k8s.rbac.v1.Role(
    `${name}-certs-role`,
    {
      metadata: { name: objectName, namespace: ns, labels },
      rules: [
        // RBAC cannot limit `create` to a name; `get` is limited to the certificate Secret.
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
        { apiGroups: [''], resources: ['secrets'], resourceNames: [args.secretName], verbs: ['get'] },
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
  const config = configFiles(`${name}-certs-script`, { ...scope, data: { 'certs.sh': script } }, child);
  allowPolicy(
    `${name}-certs-netpol`,
    {
      ...scope,
      podSelector: selector,
      egress: [{ to: [{ ipBlock: { cidr: args.apiServer.cidr } }], ports: tcp(...args.apiServer.ports) }],
    },
    child,
  );
  return new k8s.batch.v1.Job(
    `${name}-certs-job`,
    {
      metadata: {
        name: objectName,
        namespace: ns,
        labels,
        annotations: jobAnnotations(args.awaitCompletion),
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
              restrictedContainer({
                name: 'certutil',
                image: args.image,
                command: ['sh', '/scripts/certs.sh'],
                env: [
                  { name: 'HOME', value: '/scratch' },
                  { name: 'ES_TMPDIR', value: '/scratch' },
                ],
                resources: {
                  requests: { cpu: '100m', memory: '256Mi' },
                  limits: { cpu: '1', memory: '512Mi' },
                },
                volumeMounts: [
                  { name: 'scripts', mountPath: '/scripts', readOnly: true },
                  { name: 'scratch', mountPath: '/scratch' },
                ],
              }),
            ],
            volumes: [
              { name: 'scripts', configMap: { name: config.metadata.name, defaultMode: 0o555 } },
              scratchVolume('scratch', '64Mi', 'Memory'),
            ],
          },
        },
      },
    },
    { parent, dependsOn: [binding], deleteBeforeReplace: true },
  );
}

/** The script of the certificate Job. Exported for tests. */
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
