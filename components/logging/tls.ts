/**
 * TLS on every hop of the logging stack (ECK's default): the names of what the certificate Job
 * (`certificates.ts`) makes, where each pod mounts it, and the one grant another component gives the Job so that it
 * may publish the public CA into that component's namespace (Grafana's).
 *
 * What the Job makes, all of it from one run:
 * - the Secret `elasticsearch-certs` (logging namespace): `node.crt`/`node.key`, the Elasticsearch nodes' transport
 *   AND HTTP certificate (SANs: the headless Service's names, the client Service's short, namespaced and
 *   fully-qualified names, `localhost`), and `ca.crt`, the trust bundle;
 * - the Secret `logstash-certs` (logging namespace): `logstash.crt`/`logstash.key` (PKCS#8, as the Beats input
 *   requires), Logstash's Beats server certificate for the Logstash Service's names;
 * - the ConfigMap `logging-ca` in every namespace whose pods verify those certificates (logging, the shipper's,
 *   the monitoring namespace's Grafana): `ca.crt` only, no key. A ConfigMap on purpose: it is public.
 *
 * The trust bundle holds the current CA and the one before it (after a rotation), so a client that has not
 * restarted yet keeps trusting a server that already has its new certificate, and the other way round.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';

/** The Secret of Elasticsearch's node (transport and HTTP) certificate and the trust bundle. */
export const ES_CERT_SECRET = 'elasticsearch-certs';
/** The Secret of Logstash's Beats server certificate. */
export const LOGSTASH_CERT_SECRET = 'logstash-certs';
/** The ConfigMap holding only the public trust bundle (`ca.crt`), in every namespace with a client. */
export const CA_CONFIG_MAP = 'logging-ca';
/** The key of the trust bundle in CA_CONFIG_MAP and ES_CERT_SECRET. */
export const CA_KEY = 'ca.crt';
/** The certificate Job's ServiceAccount (logging namespace): the only writer of the objects above. */
export const CERT_WRITER = 'elasticsearch-certs';
/** The pod-template annotation carrying the certificates' generation: a new one rolls the pods. */
export const TLS_GENERATION_ANNOTATION = 'pavemaster.io/tls-generation';

/** Where a client pod mounts CA_CONFIG_MAP (read-only), and the bundle's path in it. */
export const CA_DIR = '/etc/pavemaster/logging-ca';
export const CA_FILE = `${CA_DIR}/${CA_KEY}`;

/** What a stack decides about the logging stack's TLS (`pavemaster:logging.tls`). */
export interface TlsOptions {
  /**
   * The certificates' generation. Every value makes its own certificates: raise it by one to rotate them (new CA,
   * new node and Logstash certificates; the old CA stays trusted until the next rotation), and the pods that read
   * them at start roll. A whole number from 1.
   * @default 1
   */
  readonly rotation?: number;
}

/** The CA a client gets: the ConfigMap's name and key, the generation, and who writes it. */
export interface CaBundle {
  /** The ConfigMap (in the client's namespace) holding the bundle. */
  readonly configMapName: string;
  /** Its key. */
  readonly key: string;
  /** The certificates' generation, for the client's pod-template annotation. */
  readonly generation: number;
  /** The certificate Job's ServiceAccount, which must be allowed to write the ConfigMap there. */
  readonly writer: { readonly serviceAccountName: string; readonly namespace: pulumi.Input<string> };
}

/** The volume and mount of the trust bundle in a client pod. */
export function caVolume(volume = 'logging-ca'): {
  volume: k8s.types.input.core.v1.Volume;
  mount: k8s.types.input.core.v1.VolumeMount;
} {
  return {
    // Not optional: a client must not start without the CA (it would fail every request), so the kubelet holds the
    // pod until the certificate Job has published it.
    volume: { name: volume, configMap: { name: CA_CONFIG_MAP, defaultMode: 0o444 } },
    mount: { name: volume, mountPath: CA_DIR, readOnly: true },
  };
}

/** The RBAC rules of a writer of CA_CONFIG_MAP in one namespace: create it, then read and replace only it. */
export const CA_WRITER_RULES: k8s.types.input.rbac.v1.PolicyRule[] = [
  // RBAC cannot limit `create` to a name; `get` and `update` are limited to the bundle.
  { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
  { apiGroups: [''], resources: ['configmaps'], resourceNames: [CA_CONFIG_MAP], verbs: ['get', 'update'] },
];

/**
 * Lets the certificate Job publish the trust bundle into `namespace` (a Role and its binding there). The
 * component that owns the namespace calls it, so the grant exists only once the namespace does.
 */
export function grantCaWriter(
  name: string,
  args: { namespace: pulumi.Input<string>; labels: Record<string, string>; writer: CaBundle['writer'] },
  opts: pulumi.CustomResourceOptions,
): k8s.rbac.v1.RoleBinding {
  const objectName = `${CA_CONFIG_MAP}-writer`;
  const role = new k8s.rbac.v1.Role(
    `${name}-role`,
    {
      metadata: { name: objectName, namespace: args.namespace, labels: args.labels },
      rules: CA_WRITER_RULES,
    },
    opts,
  );
  return new k8s.rbac.v1.RoleBinding(
    `${name}-binding`,
    {
      metadata: { name: objectName, namespace: args.namespace, labels: args.labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name },
      subjects: [
        {
          kind: 'ServiceAccount',
          name: args.writer.serviceAccountName,
          namespace: args.writer.namespace,
        },
      ],
    },
    opts,
  );
}
