/**
 * Alertmanager: a StatefulSet whose replicas form one gossip cluster (`--cluster.peer` for every replica, through
 * a headless Service), so that silences and notification state are shared and each alert is sent once. A single
 * replica runs with clustering off. The configuration is a ConfigMap with no credential in it; the SMTP password
 * and the Slack webhook URL live in a Secret mounted as files.
 *
 * Both are named by their known names (workload.Referable), so the StatefulSet rolls only when its pod template
 * changes: the template carries a checksum of the configuration and a keyed checksum of the Secret's values
 * (components/shared/secretChecksum.ts, as the app's env Secret), so a rotated credential rolls Alertmanager too.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { Resolved, throwIfNoReplicas, withDefaults } from '../shared/args';
import { checksumKey, keyedSecretChecksum } from '../shared/secretChecksum';
import { imageTag } from '../shared/image';
import { allowPolicy, tcp } from '../shared/network';
import * as workload from '../shared/workload';
import { AlertmanagerConfig } from './alertmanagerConfig';
import { ANYWHERE, checksum, monitoringContainer, podSecurity, podsPeer, serviceLabels } from './common';
import { toYaml } from './prometheusConfig';
import { ALERTMANAGER_DEFAULTS } from './options';

export { ALERTMANAGER_DEFAULTS } from './options';

export const ALERTMANAGER_PORT = 9093;
export const ALERTMANAGER_CLUSTER_PORT = 9094;
/** Where the Secret's files are mounted; the configuration refers to them. */
export const ALERTMANAGER_SECRETS_DIR = '/etc/alertmanager/secrets';
/** The Secret keys (file names) of the receivers' credentials. */
export const SMTP_PASSWORD_KEY = 'smtp-password';
export const SLACK_WEBHOOK_KEY = 'slack-webhook-url';
/** The Secret key (file name) of the CA certificates the receivers verify their servers against. */
export const RECEIVERS_CA_KEY = 'receivers-ca.pem';
/** The pod annotation that carries the keyed checksum of the Secret's values (the receivers' credentials). */
export const SECRETS_CHECKSUM_ANNOTATION = 'pavemaster.io/secrets-checksum';

/**
 * What a stack decides about Alertmanager (`pavemaster:monitoring.alertmanager`). More than one replica forms a
 * gossip cluster (production runs an odd number, at least three); each keeps silences and the notification log on
 * its volume.
 */
export type AlertmanagerOptions = workload.StatefulOptions;

export type ResolvedAlertmanagerOptions = Resolved<AlertmanagerOptions, 'storageClass'>;

export interface AlertmanagerArgs extends AlertmanagerOptions {
  /** The namespace to run in. Required. */
  readonly namespace: pulumi.Input<string>;
  /** The namespace's name as plain text, for the peers' DNS names. Required. */
  readonly namespaceName: string;
  /** The image. Required. */
  readonly image: string;
  /** The configuration. Required. */
  readonly config: AlertmanagerConfig;
  /** Secret files (key → Pulumi secret value) referenced by the configuration. @default none */
  readonly secrets?: Record<string, pulumi.Input<string>>;
  /** SMTP server port the pods may reach. @default 587 */
  readonly smtpPort?: number;
  /** Pod labels (in this namespace) allowed to send alerts and query, e.g. Prometheus's. @default none */
  readonly clients?: readonly Record<string, string>[];
  /** Protect the StatefulSet and keep its volume claims. @default false */
  readonly protect?: boolean;
}

const OBJECT = 'alertmanager';
const PEERS = `${OBJECT}-cluster`;
const WEB = { name: 'web', port: ALERTMANAGER_PORT, targetPort: 'web', protocol: 'TCP' };
const MESH = [
  { protocol: 'TCP', port: ALERTMANAGER_CLUSTER_PORT },
  { protocol: 'UDP', port: ALERTMANAGER_CLUSTER_PORT },
];

/** The DNS name of replica `i` behind the peers Service. */
function peerHost(namespaceName: string, i: number): string {
  return `${OBJECT}-${i}.${PEERS}.${namespaceName}.svc`;
}

/** The StatefulSet's spec: the replicas, clustered through the peers Service when there are several. */
export function alertmanagerStatefulSetSpec(
  o: ResolvedAlertmanagerOptions & { image: string; protect: boolean; namespaceName: string },
  labels: Record<string, string>,
  selector: Record<string, string>,
  refs: {
    serviceName: pulumi.Input<string>;
    configMapName: pulumi.Input<string>;
    secretName: pulumi.Input<string>;
    configChecksum: string;
    /** The keyed checksum of the Secret's values, when it has any. */
    secretsChecksum?: pulumi.Input<string>;
  },
): k8s.types.input.apps.v1.StatefulSetSpec {
  const clusterArgs =
    o.replicas > 1
      ? [
          `--cluster.listen-address=0.0.0.0:${ALERTMANAGER_CLUSTER_PORT}`,
          ...Array.from(
            { length: o.replicas },
            (_, i) => `--cluster.peer=${peerHost(o.namespaceName, i)}:${ALERTMANAGER_CLUSTER_PORT}`,
          ),
        ]
      : ['--cluster.listen-address='];
  return {
    ...workload.parallelStatefulSet({ ...o, serviceName: refs.serviceName, selector }),
    template: {
      metadata: {
        labels,
        annotations: {
          // The configuration's checksum covers the Secret's key names only; its values roll the pods through
          // their own: a Secret volume's files follow a changed Secret only eventually (and the provider replaces
          // a Secret whose data changes), so a rotated credential is certain to be in use only after a restart.
          'pavemaster.io/config-checksum': refs.configChecksum,
          ...(refs.secretsChecksum !== undefined
            ? { [SECRETS_CHECKSUM_ANNOTATION]: refs.secretsChecksum }
            : {}),
        },
      },
      spec: {
        serviceAccountName: 'default',
        automountServiceAccountToken: false,
        securityContext: podSecurity(),
        affinity: workload.antiAffinity('preferred', selector),
        containers: [
          monitoringContainer({
            name: 'alertmanager',
            image: o.image,
            resources: o.resources,
            args: [
              '--config.file=/etc/alertmanager/alertmanager.yml',
              '--storage.path=/alertmanager',
              `--web.listen-address=:${ALERTMANAGER_PORT}`,
              ...clusterArgs,
            ],
            ports: [
              { name: 'web', containerPort: ALERTMANAGER_PORT, protocol: 'TCP' },
              { name: 'mesh-tcp', containerPort: ALERTMANAGER_CLUSTER_PORT, protocol: 'TCP' },
              { name: 'mesh-udp', containerPort: ALERTMANAGER_CLUSTER_PORT, protocol: 'UDP' },
            ],
            readinessProbe: { httpGet: { path: '/-/ready', port: 'web' }, periodSeconds: 10 },
            livenessProbe: {
              httpGet: { path: '/-/healthy', port: 'web' },
              periodSeconds: 15,
              failureThreshold: 6,
            },
            volumeMounts: [
              {
                name: 'config',
                mountPath: '/etc/alertmanager/alertmanager.yml',
                subPath: 'alertmanager.yml',
                readOnly: true,
              },
              { name: 'secrets', mountPath: ALERTMANAGER_SECRETS_DIR, readOnly: true },
              { name: 'data', mountPath: '/alertmanager' },
            ],
          }),
        ],
        volumes: [
          { name: 'config', configMap: { name: refs.configMapName } },
          { name: 'secrets', secret: { secretName: refs.secretName, defaultMode: 0o440 } },
        ],
      },
    },
    volumeClaimTemplates: [
      workload.volumeClaim({ name: 'data', labels, storage: o.storage, storageClass: o.storageClass }),
    ],
  };
}

export class Alertmanager extends pulumi.ComponentResource {
  /** The in-cluster URL, "http://alertmanager.<namespace>.svc:9093". */
  readonly url: pulumi.Output<string>;
  /** Each replica's address "host:port", for Prometheus's alerting section. */
  readonly endpoints: string[];
  /** The labels that select Alertmanager's pods. */
  readonly podLabels: Record<string, string>;

  constructor(name: string, args: AlertmanagerArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:monitoring:Alertmanager', name, {}, opts);
    const o = {
      ...withDefaults(ALERTMANAGER_DEFAULTS, args),
      image: args.image,
      protect: args.protect ?? false,
      namespaceName: args.namespaceName,
    };
    throwIfNoReplicas(`Alertmanager ${name}`, o.replicas);
    const child = { parent: this };
    const { labels, selector } = serviceLabels('alertmanager', name, imageTag(args.image));
    const scope = (objectName: string) => ({ objectName, namespace: args.namespace, labels });
    this.podLabels = selector;
    this.endpoints = Array.from(
      { length: o.replicas },
      (_, i) => `${peerHost(o.namespaceName, i)}:${ALERTMANAGER_PORT}`,
    );

    const configText = toYaml(args.config);
    const config = workload.configFiles(
      `${name}-config`,
      { ...scope(`${OBJECT}-config`), data: { 'alertmanager.yml': configText } },
      child,
    );
    const secretKeys = Object.keys(args.secrets ?? {}).sort();
    const secret = workload.referable(
      new k8s.core.v1.Secret(
        `${name}-secrets`,
        {
          metadata: { name: `${OBJECT}-secrets`, namespace: args.namespace, labels },
          type: 'Opaque',
          // An empty secret map would read back from the API server as "no stringData" and show as a change
          // (and a replacement) on every preview: leave the field out when no receiver has a secret.
          stringData: secretKeys.length > 0 ? pulumi.secret(args.secrets ?? {}) : undefined,
        },
        { parent: this, additionalSecretOutputs: ['stringData', 'data'] },
      ),
      `${OBJECT}-secrets`,
    );

    const peers = workload.headlessService(
      `${name}-peers`,
      {
        ...scope(PEERS),
        // Peers must find each other before they are ready: readiness needs the cluster.
        publishNotReadyAddresses: true,
        selector,
        ports: [
          WEB,
          { name: 'mesh-tcp', port: ALERTMANAGER_CLUSTER_PORT, targetPort: 'mesh-tcp', protocol: 'TCP' },
          { name: 'mesh-udp', port: ALERTMANAGER_CLUSTER_PORT, targetPort: 'mesh-udp', protocol: 'UDP' },
        ],
      },
      child,
    );
    workload.statefulSet(
      name,
      scope(OBJECT),
      alertmanagerStatefulSetSpec(o, labels, selector, {
        serviceName: peers.metadata.name,
        configMapName: config.objectName,
        secretName: secret.objectName,
        configChecksum: checksum(configText, ...secretKeys),
        secretsChecksum:
          secretKeys.length > 0
            ? keyedSecretChecksum(
                checksumKey(`${name}-secrets-checksum-key`, child),
                pulumi.all(args.secrets ?? {}),
              )
            : undefined,
      }),
      workload.dependingOn({ parent: this, protect: o.protect }, config, secret),
    );
    const service = workload.serviceWithPdb(
      name,
      { ...scope(OBJECT), selector, ports: [WEB], replicas: o.replicas },
      child,
    );

    const self = podsPeer(selector);
    allowPolicy(
      `${name}-network`,
      {
        ...scope(OBJECT),
        podSelector: selector,
        ingress: [
          { from: [self, ...(args.clients ?? []).map(podsPeer)], ports: tcp(ALERTMANAGER_PORT) },
          { from: [self], ports: MESH },
        ],
        egress: [
          { to: [self], ports: MESH },
          // Notifications: the SMTP server and Slack's HTTPS webhooks are outside the cluster.
          { to: [ANYWHERE], ports: tcp(...new Set([args.smtpPort ?? 587, 443])) },
        ],
      },
      child,
    );

    this.url = pulumi.interpolate`http://${service.metadata.name}.${args.namespace}.svc:${ALERTMANAGER_PORT}`;
    this.registerOutputs({ url: this.url });
  }
}
