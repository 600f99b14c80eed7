/**
 * Alertmanager: a StatefulSet whose replicas form one gossip cluster (`--cluster.peer` for every replica, through
 * a headless Service), so that silences and notification state are shared and each alert is sent once. A single
 * replica runs with clustering off. The configuration is a ConfigMap with no credential in it; the SMTP password
 * and the Slack webhook URL live in a Secret mounted as files.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ContainerResources } from '../shared/resources';
import { AlertmanagerConfig } from './alertmanagerConfig';
import {
  allowPolicy,
  ANYWHERE,
  checksum,
  containerBasics,
  imageTag,
  podSecurity,
  serviceLabels,
  spreadOverNodes,
  tcp,
} from './common';
import { toYaml } from './prometheusConfig';

export const ALERTMANAGER_PORT = 9093;
export const ALERTMANAGER_CLUSTER_PORT = 9094;
/** Where the Secret's files are mounted; the configuration refers to them. */
export const ALERTMANAGER_SECRETS_DIR = '/etc/alertmanager/secrets';
/** The Secret keys (file names) of the receivers' credentials. */
export const SMTP_PASSWORD_KEY = 'smtp-password';
export const SLACK_WEBHOOK_KEY = 'slack-webhook-url';

export interface AlertmanagerArgs {
  /** The namespace to run in. Required. */
  namespace: pulumi.Input<string>;
  /** The namespace's name as plain text, for the peers' DNS names. Required. */
  namespaceName: string;
  /** The image. Required. */
  image: string;
  /** The configuration. Required. */
  config: AlertmanagerConfig;
  /** Secret files (key → Pulumi secret value) referenced by the configuration. Default none. */
  secrets?: Record<string, pulumi.Input<string>>;
  /** Replicas; more than one forms a cluster. Default 1. */
  replicas?: number;
  /** The size of each replica's volume (silences, notification log). Default "1Gi". */
  storage?: string;
  /** The StorageClass; default the cluster's default class. */
  storageClass?: string;
  /** Requests and limits. Default 20m/32Mi requested, 100m/64Mi limit. */
  resources?: ContainerResources;
  /** SMTP server port the pods may reach. Default 587. */
  smtpPort?: number;
  /** Pod labels (in this namespace) allowed to send alerts and query, e.g. Prometheus's. Default none. */
  clients?: Record<string, string>[];
  /** Protect the StatefulSet and keep its volume claims. Default false. */
  protect?: boolean;
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
    const replicas = args.replicas ?? 1;
    const storage = args.storage ?? '1Gi';
    const resources = args.resources ?? {
      requests: { cpu: '20m', memory: '32Mi' },
      limits: { cpu: '100m', memory: '64Mi' },
    };
    const protect = args.protect ?? false;
    if (!Number.isInteger(replicas) || replicas < 1) {
      throw new Error(`Alertmanager ${name}: replicas ${replicas} is not a whole number of at least 1`);
    }
    const child = { parent: this };
    const objectName = 'alertmanager';
    const peersService = `${objectName}-cluster`;
    const { labels, selector } = serviceLabels('alertmanager', name, imageTag(args.image));
    this.podLabels = selector;
    const peer = (i: number) => `${objectName}-${i}.${peersService}.${args.namespaceName}.svc`;
    this.endpoints = Array.from({ length: replicas }, (_, i) => `${peer(i)}:${ALERTMANAGER_PORT}`);

    const configText = toYaml(args.config);
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: { name: `${objectName}-config`, namespace: args.namespace, labels },
        data: { 'alertmanager.yml': configText },
      },
      child,
    );
    const secretKeys = Object.keys(args.secrets ?? {}).sort();
    const secret = new k8s.core.v1.Secret(
      `${name}-secrets`,
      {
        metadata: { name: `${objectName}-secrets`, namespace: args.namespace, labels },
        type: 'Opaque',
        // An empty secret map would read back from the API server as "no stringData" and show as a change
        // (and a replacement) on every preview: leave the field out when no receiver has a secret.
        stringData: secretKeys.length > 0 ? pulumi.secret(args.secrets ?? {}) : undefined,
      },
      { parent: this, additionalSecretOutputs: ['stringData', 'data'] },
    );

    const peers = new k8s.core.v1.Service(
      `${name}-peers`,
      {
        metadata: { name: peersService, namespace: args.namespace, labels },
        spec: {
          clusterIP: 'None',
          // Peers must find each other before they are ready: readiness needs the cluster.
          publishNotReadyAddresses: true,
          selector,
          ports: [
            { name: 'web', port: ALERTMANAGER_PORT, targetPort: 'web', protocol: 'TCP' },
            { name: 'mesh-tcp', port: ALERTMANAGER_CLUSTER_PORT, targetPort: 'mesh-tcp', protocol: 'TCP' },
            { name: 'mesh-udp', port: ALERTMANAGER_CLUSTER_PORT, targetPort: 'mesh-udp', protocol: 'UDP' },
          ],
        },
      },
      child,
    );
    const clusterArgs =
      replicas > 1
        ? [
            `--cluster.listen-address=0.0.0.0:${ALERTMANAGER_CLUSTER_PORT}`,
            ...Array.from(
              { length: replicas },
              (_, i) => `--cluster.peer=${peer(i)}:${ALERTMANAGER_CLUSTER_PORT}`,
            ),
          ]
        : ['--cluster.listen-address='];
    new k8s.apps.v1.StatefulSet(
      `${name}-statefulset`,
      {
        metadata: { name: objectName, namespace: args.namespace, labels },
        spec: {
          replicas,
          serviceName: peers.metadata.name,
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: selector },
          persistentVolumeClaimRetentionPolicy: protect
            ? { whenDeleted: 'Retain', whenScaled: 'Retain' }
            : { whenDeleted: 'Delete', whenScaled: 'Delete' },
          template: {
            metadata: {
              labels,
              annotations: { 'pavemaster.io/config-checksum': checksum(configText, ...secretKeys) },
            },
            spec: {
              serviceAccountName: 'default',
              automountServiceAccountToken: false,
              securityContext: podSecurity(),
              affinity: spreadOverNodes(selector),
              containers: [
                {
                  name: 'alertmanager',
                  image: args.image,
                  ...containerBasics(resources),
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
                },
              ],
              volumes: [
                { name: 'config', configMap: { name: config.metadata.name } },
                { name: 'secrets', secret: { secretName: secret.metadata.name, defaultMode: 0o440 } },
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: 'data', labels },
              spec: {
                accessModes: ['ReadWriteOnce'],
                ...(args.storageClass !== undefined ? { storageClassName: args.storageClass } : {}),
                resources: { requests: { storage } },
              },
            },
          ],
        },
      },
      { parent: this, protect },
    );
    const service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: objectName, namespace: args.namespace, labels },
        spec: {
          selector,
          ports: [{ name: 'web', port: ALERTMANAGER_PORT, targetPort: 'web', protocol: 'TCP' }],
        },
      },
      child,
    );
    if (replicas > 1) {
      new k8s.policy.v1.PodDisruptionBudget(
        `${name}-pdb`,
        {
          metadata: { name: objectName, namespace: args.namespace, labels },
          spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
        },
        child,
      );
    }
    const self = { podSelector: { matchLabels: selector } };
    allowPolicy(
      `${name}-network`,
      {
        objectName: 'alertmanager',
        namespace: args.namespace,
        labels,
        podSelector: selector,
        ingress: [
          {
            from: [self, ...(args.clients ?? []).map((c) => ({ podSelector: { matchLabels: c } }))],
            ports: tcp(ALERTMANAGER_PORT),
          },
          {
            from: [self],
            ports: [
              { protocol: 'TCP', port: ALERTMANAGER_CLUSTER_PORT },
              { protocol: 'UDP', port: ALERTMANAGER_CLUSTER_PORT },
            ],
          },
        ],
        egress: [
          {
            to: [self],
            ports: [
              { protocol: 'TCP', port: ALERTMANAGER_CLUSTER_PORT },
              { protocol: 'UDP', port: ALERTMANAGER_CLUSTER_PORT },
            ],
          },
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
