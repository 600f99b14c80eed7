/**
 * Kibana, connected to Elasticsearch as the built-in `kibana_system` user, with a setup Job that creates the
 * data view of the app's logs and a saved "errors" search per slot through the saved objects API (fixed ids,
 * `overwrite=true`: re-running changes nothing). Optionally published by an Ingress.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ContainerResources, toResourceRequirements } from '../shared/resources';
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../shared/security';
import { allowPolicy, contentHash, namespacePeer, rolePeer, roleLabels, roleSelector, tcp } from './common';
import { ELASTIC_UID, NAMES, PORTS } from './defaults';
import { kibanaSetupRequests, setupFiles, setupScript } from './elastic';
import { setupJob } from './Elasticsearch';

export interface KibanaArgs {
  /** The namespace. Required. */
  namespace: string;
  /** The Kibana image. Required. */
  image: string;
  /** The image of the setup Job (needs curl; the Elasticsearch image is used). Required. */
  setupImage: string;
  /** Kibana's requests and limits. Required. */
  resources: ContainerResources;
  /** Elasticsearch's in-cluster URL. Required. */
  elasticsearchUrl: pulumi.Input<string>;
  /** The `kibana_system` password. Required. */
  kibanaSystemPassword: pulumi.Input<string>;
  /** Kibana's encryption keys (each at least 32 characters). Required. */
  encryptionKeys: {
    security: pulumi.Input<string>;
    savedObjects: pulumi.Input<string>;
    reporting: pulumi.Input<string>;
  };
  /** The Secret with the `elastic` password (key `password`), for the setup Job. Required. */
  elasticSecretName: pulumi.Input<string>;
  /** A public host (an Ingress is created); none when unset. */
  host?: string;
  /** The Ingress' class. */
  ingressClassName?: string;
  /** The TLS Secret of the host. */
  tlsSecretName?: string;
  /** Namespaces of the ingress controllers that may reach Kibana. */
  ingressNamespaces: string[];
  /** Wait for the setup Job to complete. */
  awaitSetupJob: boolean;
}

export class Kibana extends pulumi.ComponentResource {
  /** Kibana's URL: the public one when a host is set, else the in-cluster one. */
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: KibanaArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:logging:Kibana', name, {}, opts);
    const child = { parent: this };
    const ns = args.namespace;
    const app = 'kibana';
    const labels = roleLabels('kibana', app);
    const selector = roleSelector('kibana', app);
    const publicUrl =
      args.host !== undefined ? `${args.tlsSecretName ? 'https' : 'http'}://${args.host}` : undefined;

    const credentials = new k8s.core.v1.Secret(
      `${name}-credentials`,
      {
        metadata: { name: `${app}-elasticsearch`, namespace: ns, labels },
        type: 'Opaque',
        stringData: {
          username: NAMES.kibanaSystemUser,
          password: pulumi.secret(args.kibanaSystemPassword),
          securityKey: pulumi.secret(args.encryptionKeys.security),
          savedObjectsKey: pulumi.secret(args.encryptionKeys.savedObjects),
          reportingKey: pulumi.secret(args.encryptionKeys.reporting),
        },
      },
      child,
    );
    const fromSecret = (name: string, key: string): k8s.types.input.core.v1.EnvVar => ({
      name,
      valueFrom: { secretKeyRef: { name: credentials.metadata.name, key } },
    });

    new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata: { name: app, namespace: ns, labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: selector },
          template: {
            metadata: { labels },
            spec: {
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              securityContext: restrictedPodSecurityContext(ELASTIC_UID),
              containers: [
                {
                  name: 'kibana',
                  image: args.image,
                  imagePullPolicy: 'IfNotPresent',
                  env: [
                    { name: 'SERVER_HOST', value: '0.0.0.0' },
                    { name: 'SERVER_NAME', value: app },
                    ...(publicUrl !== undefined ? [{ name: 'SERVER_PUBLICBASEURL', value: publicUrl }] : []),
                    {
                      name: 'ELASTICSEARCH_HOSTS',
                      value: pulumi.output(args.elasticsearchUrl).apply((u) => `["${u}"]`),
                    },
                    fromSecret('ELASTICSEARCH_USERNAME', 'username'),
                    fromSecret('ELASTICSEARCH_PASSWORD', 'password'),
                    fromSecret('XPACK_SECURITY_ENCRYPTIONKEY', 'securityKey'),
                    fromSecret('XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY', 'savedObjectsKey'),
                    fromSecret('XPACK_REPORTING_ENCRYPTIONKEY', 'reportingKey'),
                    // /api/status answers without credentials (overall level only), so it can be the readiness probe.
                    { name: 'STATUS_ALLOWANONYMOUS', value: 'true' },
                    { name: 'TELEMETRY_OPTIN', value: 'false' },
                    { name: 'TELEMETRY_ENABLED', value: 'false' },
                  ],
                  ports: [{ name: 'http', containerPort: PORTS.kibana }],
                  resources: toResourceRequirements(args.resources),
                  securityContext: restrictedContainerSecurityContext(),
                  startupProbe: { tcpSocket: { port: 'http' }, periodSeconds: 5, failureThreshold: 60 },
                  // Ready when Kibana reports itself available (503 while it is not); alive while it listens.
                  readinessProbe: { httpGet: { path: '/api/status', port: 'http' }, periodSeconds: 10 },
                  livenessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 20, failureThreshold: 6 },
                  volumeMounts: [
                    { name: 'data', mountPath: '/usr/share/kibana/data' },
                    { name: 'tmp', mountPath: '/tmp' },
                  ],
                },
              ],
              volumes: [
                { name: 'data', emptyDir: { sizeLimit: '1Gi' } },
                { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
              ],
            },
          },
        },
      },
      child,
    );

    const service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: app, namespace: ns, labels },
        spec: {
          type: 'ClusterIP',
          selector,
          ports: [{ name: 'http', port: PORTS.kibana, targetPort: 'http' }],
        },
      },
      child,
    );

    if (args.host !== undefined) {
      new k8s.networking.v1.Ingress(
        `${name}-ingress`,
        {
          metadata: { name: app, namespace: ns, labels, annotations: { 'pulumi.com/skipAwait': 'true' } },
          spec: {
            ...(args.ingressClassName !== undefined ? { ingressClassName: args.ingressClassName } : {}),
            ...(args.tlsSecretName !== undefined
              ? { tls: [{ hosts: [args.host], secretName: args.tlsSecretName }] }
              : {}),
            rules: [
              {
                host: args.host,
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

    // --- Setup Job: data view and saved searches ---------------------------------------------------------------
    const files = setupFiles(kibanaSetupRequests());
    const script = setupScript({ waitPath: '/api/status', headers: ['kbn-xsrf: true'] });
    const setupConfig = new k8s.core.v1.ConfigMap(
      `${name}-setup`,
      {
        metadata: { name: `${app}-setup`, namespace: ns, labels: roleLabels('kibana-setup', app) },
        data: { ...files, 'setup.sh': script },
      },
      child,
    );
    setupJob(
      `${name}-setup-job`,
      {
        namespace: ns,
        objectName: `${app}-setup`,
        role: 'kibana-setup',
        instance: app,
        image: args.setupImage,
        configMapName: setupConfig.metadata.name,
        hash: contentHash(script, ...Object.values(files)),
        awaitCompletion: args.awaitSetupJob,
        env: [
          { name: 'TARGET_URL', value: `http://${app}:${PORTS.kibana}` },
          { name: 'SETUP_USER', value: 'elastic' },
          {
            name: 'SETUP_PASSWORD',
            valueFrom: { secretKeyRef: { name: args.elasticSecretName, key: 'password' } },
          },
        ],
      },
      { parent: this, dependsOn: [service], deleteBeforeReplace: true },
    );

    allowPolicy(
      `${name}-netpol`,
      {
        namespace: ns,
        objectName: app,
        podSelector: selector,
        labels,
        ingress: [
          {
            from: [...args.ingressNamespaces.map((n) => namespacePeer(n)), rolePeer('kibana-setup', app)],
            ports: tcp(PORTS.kibana),
          },
        ],
        egress: [{ to: [rolePeer('elasticsearch', 'elasticsearch')], ports: tcp(PORTS.elasticsearchHttp) }],
      },
      child,
    );
    allowPolicy(
      `${name}-setup-netpol`,
      {
        namespace: ns,
        objectName: `${app}-setup`,
        podSelector: roleSelector('kibana-setup', app),
        labels,
        egress: [{ to: [rolePeer('kibana', app)], ports: tcp(PORTS.kibana) }],
      },
      child,
    );

    this.url = pulumi.output(publicUrl ?? `http://${app}.${ns}.svc:${PORTS.kibana}`);
    this.registerOutputs({ url: this.url });
  }
}
