/**
 * Kibana, connected to Elasticsearch as the built-in `kibana_system` user, with a setup Job that creates the
 * data view of the app's logs and a saved "errors" search per slot through the saved objects API (fixed ids,
 * `overwrite=true`: re-running changes nothing). Optionally published by an Ingress.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { Resolved, withDefaults } from '../shared/args';
import { allowPolicy, NetworkPeer, networkPeer, tcp } from '../shared/network';
import { ContainerResources } from '../shared/resources';
import * as workload from '../shared/workload';
import {
  CREDENTIALS_CHECKSUM_ANNOTATION,
  generatedSecretsChecksum,
  rolePeer,
  roleLabels,
  TO_ELASTICSEARCH,
} from './common';
import { elasticPodSecurityContext, NAMES, PORTS } from './defaults';
import { kibanaSetupRequests } from './elastic';
import { setupJob } from './setupJob';
import { KIBANA_DEFAULTS } from './options';
import { CA_FILE, caVolume, TLS_GENERATION_ANNOTATION } from './tls';

export { KIBANA_DEFAULTS } from './options';

/** What a stack decides about Kibana (`pavemaster:logging.kibana`). */
export interface KibanaOptions {
  /** The Kibana image. @default the pinned 8.19 image */
  readonly image?: string;
  /** Kibana's requests and limits. @default 100m/768Mi requested, 1/1Gi limit */
  readonly resources?: ContainerResources;
  /** A public host (an Ingress is created). @default none: no Ingress */
  readonly host?: string;
  /** The Ingress' class. @default the cluster's default class */
  readonly ingressClassName?: string;
  /** The TLS Secret of the host. @default no TLS block */
  readonly tlsSecretName?: string;
  /**
   * Who may reach Kibana's port besides its setup Job, as the app's `ingressFrom`: the ingress controller behind
   * `host` (e.g. `{ namespace: "ingress-nginx", podLabels: { "app.kubernetes.io/name": "ingress-nginx" } }`), a
   * load balancer's source range, or `{ podLabels }` alone for pods of the logging namespace. Required (at least
   * one) with `host`: otherwise the Ingress has no controller that can reach Kibana. `kubectl port-forward` needs
   * none (no NetworkPolicy filters it).
   * @default nobody: port-forward only
   */
  readonly ingressFrom?: readonly NetworkPeer[];
}

/** The options with every default applied. */
export type ResolvedKibanaOptions = Resolved<KibanaOptions, 'host' | 'ingressClassName' | 'tlsSecretName'>;

export interface KibanaArgs extends KibanaOptions {
  /** The namespace. Required. */
  readonly namespace: string;
  /** The image of the setup Job (needs curl; the Elasticsearch image is used). Required. */
  readonly setupImage: string;
  /** Elasticsearch's in-cluster URL. Required. */
  readonly elasticsearchUrl: pulumi.Input<string>;
  /** The `kibana_system` password. Required. */
  readonly kibanaSystemPassword: pulumi.Input<string>;
  /** Kibana's encryption keys (each at least 32 characters). Required. */
  readonly encryptionKeys: {
    readonly security: pulumi.Input<string>;
    readonly savedObjects: pulumi.Input<string>;
    readonly reporting: pulumi.Input<string>;
  };
  /** The Secret with the `elastic` password (key `password`), for the setup Job. Required. */
  readonly elasticSecretName: pulumi.Input<string>;
  /** Wait for the setup Job to complete. @default false */
  readonly awaitSetupJob?: boolean;
  /** The certificates' generation: a new one rolls the pod, which reads the CA at start. @default 1 */
  readonly tlsGeneration?: number;
  /** Resources to create the Deployment after (the certificate Job). @default none */
  readonly certificates?: readonly pulumi.Resource[];
}

const APP = 'kibana';

/** Kibana's public URL when it has a host, else its in-cluster URL. */
export function kibanaUrl(namespace: string, o: Pick<KibanaOptions, 'host' | 'tlsSecretName'>): string {
  return o.host !== undefined
    ? `${o.tlsSecretName ? 'https' : 'http'}://${o.host}`
    : `http://${APP}.${namespace}.svc:${PORTS.kibana}`;
}

/** Kibana's Deployment spec: one replica, its Elasticsearch credentials and encryption keys from its Secret. */
export function kibanaDeploymentSpec(
  o: ResolvedKibanaOptions & { elasticsearchUrl: pulumi.Input<string> },
  credentialsSecret: pulumi.Input<string>,
  tlsGeneration = 1,
  /** {@link generatedSecretsChecksum} of the Secret's values: their change rolls the pods. */
  credentialsChecksum?: pulumi.Input<string>,
): k8s.types.input.apps.v1.DeploymentSpec {
  const { labels, selector } = roleLabels('kibana', APP);
  const ca = caVolume();
  return workload.deploymentSpec({
    replicas: 1,
    labels,
    selector,
    annotations: {
      [TLS_GENERATION_ANNOTATION]: String(tlsGeneration),
      ...(credentialsChecksum !== undefined
        ? { [CREDENTIALS_CHECKSUM_ANNOTATION]: credentialsChecksum }
        : {}),
    },
    pod: {
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: elasticPodSecurityContext(),
      containers: [
        workload.restrictedContainer({
          name: 'kibana',
          image: o.image,
          env: [
            { name: 'SERVER_HOST', value: '0.0.0.0' },
            { name: 'SERVER_NAME', value: APP },
            ...(o.host !== undefined ? [{ name: 'SERVER_PUBLICBASEURL', value: kibanaUrl('', o) }] : []),
            {
              name: 'ELASTICSEARCH_HOSTS',
              value: pulumi.output(o.elasticsearchUrl).apply((u) => `["${u}"]`),
            },
            // elasticsearch.ssl.*: Elasticsearch's certificate must chain to the stack's CA and name the host.
            { name: 'ELASTICSEARCH_SSL_CERTIFICATEAUTHORITIES', value: CA_FILE },
            { name: 'ELASTICSEARCH_SSL_VERIFICATIONMODE', value: 'full' },
            ...workload.envFromSecret(credentialsSecret, {
              ELASTICSEARCH_USERNAME: 'username',
              ELASTICSEARCH_PASSWORD: 'password',
              XPACK_SECURITY_ENCRYPTIONKEY: 'securityKey',
              XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY: 'savedObjectsKey',
              XPACK_REPORTING_ENCRYPTIONKEY: 'reportingKey',
            }),
            // /api/status answers without credentials (overall level only), so it can be the readiness probe.
            { name: 'STATUS_ALLOWANONYMOUS', value: 'true' },
            { name: 'TELEMETRY_OPTIN', value: 'false' },
            { name: 'TELEMETRY_ENABLED', value: 'false' },
          ],
          ports: [{ name: 'http', containerPort: PORTS.kibana }],
          resources: o.resources,
          startupProbe: { tcpSocket: { port: 'http' }, periodSeconds: 5, failureThreshold: 60 },
          // Ready when Kibana reports itself available (503 while it is not); alive while it listens.
          readinessProbe: { httpGet: { path: '/api/status', port: 'http' }, periodSeconds: 10 },
          livenessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 20, failureThreshold: 6 },
          volumeMounts: [
            { name: 'data', mountPath: '/usr/share/kibana/data' },
            { name: 'tmp', mountPath: '/tmp' },
            ca.mount,
          ],
        }),
      ],
      volumes: [workload.scratchVolume('data', '1Gi'), workload.scratchVolume('tmp', '1Gi'), ca.volume],
    },
  });
}

export class Kibana extends pulumi.ComponentResource {
  /** Kibana's URL: the public one when a host is set, else the in-cluster one. */
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: KibanaArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:logging:Kibana', name, {}, opts);
    const o = { ...withDefaults(KIBANA_DEFAULTS, args), elasticsearchUrl: args.elasticsearchUrl };
    const child = { parent: this };
    const ns = args.namespace;
    const { labels, selector } = roleLabels('kibana', APP);
    const scope = (objectName: string) => ({ objectName, namespace: ns, labels });

    const credentials = workload.opaqueSecret(
      `${name}-credentials`,
      {
        ...scope(`${APP}-elasticsearch`),
        data: {
          username: NAMES.kibanaSystemUser,
          password: pulumi.secret(args.kibanaSystemPassword),
          securityKey: pulumi.secret(args.encryptionKeys.security),
          savedObjectsKey: pulumi.secret(args.encryptionKeys.savedObjects),
          reportingKey: pulumi.secret(args.encryptionKeys.reporting),
        },
      },
      child,
    );
    workload.deployment(
      name,
      scope(APP),
      kibanaDeploymentSpec(
        o,
        credentials.objectName,
        args.tlsGeneration ?? 1,
        generatedSecretsChecksum(
          args.kibanaSystemPassword,
          args.encryptionKeys.security,
          args.encryptionKeys.savedObjects,
          args.encryptionKeys.reporting,
        ),
      ),
      // By its known name and dependsOn: a replaced Secret must not replace the Deployment (workload.Referable).
      { parent: this, dependsOn: [credentials, ...(args.certificates ?? [])] },
    );
    const service = workload.clusterService(
      `${name}-service`,
      {
        ...scope(APP),
        explicitType: true,
        selector,
        ports: [{ name: 'http', port: PORTS.kibana, targetPort: 'http' }],
      },
      child,
    );

    if (o.host !== undefined) {
      new k8s.networking.v1.Ingress(
        `${name}-ingress`,
        {
          metadata: { name: APP, namespace: ns, labels, annotations: { 'pulumi.com/skipAwait': 'true' } },
          spec: {
            ...(o.ingressClassName !== undefined ? { ingressClassName: o.ingressClassName } : {}),
            ...(o.tlsSecretName !== undefined
              ? { tls: [{ hosts: [o.host], secretName: o.tlsSecretName }] }
              : {}),
            rules: [
              {
                host: o.host,
                http: {
                  paths: [
                    {
                      path: '/',
                      pathType: 'Prefix',
                      backend: { service: { name: service.metadata.name, port: { name: 'http' } } },
                    },
                  ],
                },
              },
            ],
          },
        },
        child,
      );
    }

    // The data view and saved searches.
    setupJob(
      `${name}-setup`,
      {
        namespace: ns,
        objectName: `${APP}-setup`,
        role: 'kibana-setup',
        instance: APP,
        image: args.setupImage,
        requests: kibanaSetupRequests(),
        script: { waitPath: '/api/status', headers: ['kbn-xsrf: true'] },
        awaitCompletion: args.awaitSetupJob ?? false,
        env: [
          { name: 'TARGET_URL', value: `http://${APP}:${PORTS.kibana}` },
          { name: 'SETUP_USER', value: 'elastic' },
        ],
        secretFiles: [{ secret: args.elasticSecretName, key: 'password', file: 'SETUP_PASSWORD' }],
      },
      { parent: this, dependsOn: [service], deleteBeforeReplace: true },
    );

    allowPolicy(
      `${name}-netpol`,
      {
        ...scope(APP),
        podSelector: selector,
        ingress: [
          {
            from: [...(args.ingressFrom ?? []).map(networkPeer), rolePeer('kibana-setup', APP)],
            ports: tcp(PORTS.kibana),
          },
        ],
        egress: [TO_ELASTICSEARCH],
      },
      child,
    );
    allowPolicy(
      `${name}-setup-netpol`,
      {
        ...scope(`${APP}-setup`),
        podSelector: roleLabels('kibana-setup', APP).selector,
        egress: [{ to: [rolePeer('kibana', APP)], ports: tcp(PORTS.kibana) }],
      },
      child,
    );

    this.url = pulumi.output(kibanaUrl(ns, o));
    this.registerOutputs({ url: this.url });
  }
}
