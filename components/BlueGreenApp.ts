/**
 * The PaveMaster web application in blue/green slots.
 *
 * Two Deployments, `<name>-blue` and `<name>-green`, each run their own image and version. The **active**
 * Service `<name>` selects the active slot's pods and the Ingress routes the public host to it; the **preview**
 * Service `<name>-preview` selects the idle slot's pods so a release can be tested before it takes traffic.
 * Switching traffic changes the two Services' selectors and nothing else: object names, Deployments and the
 * Ingress stay the same, so a promotion or a rollback is one small, instant update.
 *
 * The Services depend on both Deployments, so a selector never moves before Pulumi has seen the slot's rollout
 * complete with every replica Ready (the Deployment await), which is the pre-promotion readiness gate.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { recommendedLabels } from './shared/labels';
import { ContainerResources, toResourceRequirements } from './shared/resources';
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from './shared/security';

/** A blue/green slot. */
export type Slot = 'blue' | 'green';
const SLOTS: readonly Slot[] = ['blue', 'green'];

/** What one slot runs. */
export interface SlotArgs {
  /** The container image, "[registry/]repository[:tag][@sha256:digest]". Required. */
  image: pulumi.Input<string>;
  /** The `version` label of the slot's pods (a Kubernetes label value). Required. */
  version: string;
  /** Annotations on the slot's Deployment, e.g. the release id and time. Default none. */
  annotations?: Record<string, string>;
}

/** A peer the app may talk to (its database, an API), for the egress NetworkPolicy. */
export interface EgressPeer {
  /** Namespace of the peer; default the app's own namespace. */
  namespace?: string;
  /** Labels selecting the peer's pods; default every pod of that namespace. */
  podLabels?: Record<string, string>;
  /** An IP block instead of pods (e.g. a managed database), in CIDR form. */
  cidr?: string;
  /** TCP ports allowed. Required. */
  ports: number[];
}

export interface BlueGreenAppArgs {
  /** The namespace to deploy into. Required. */
  namespace: pulumi.Input<string>;
  /** The application name: Service and Deployment names derive from it. Default: the component's name. */
  appName?: string;
  /** Which slot takes traffic. Required. */
  activeSlot: Slot;
  /** What each slot runs. Required. */
  slots: Record<Slot, SlotArgs>;
  /** Replicas of the active slot. Default 2. */
  replicas?: number;
  /**
   * Replicas of the idle slot. Default: the same as the active slot, so a rollback is instant (Argo Rollouts'
   * behaviour without `scaleDownDelaySeconds`). Lower it to save capacity; the release command scales the idle
   * slot back up before a promotion (Argo's `previewReplicaCount`).
   */
  idleReplicas?: number;
  /** Container requests and limits. Default 100m/128Mi requested, 500m/256Mi limit. */
  resources?: ContainerResources;
  /** The port the app listens on (non-root: 1024 or above). Default 8080. */
  port?: number;
  /** Liveness probe path. Default "/healthz". */
  healthPath?: string;
  /** Readiness probe path. Default "/readyz". */
  readyPath?: string;
  /** Prometheus scrape path. Default "/metrics". */
  metricsPath?: string;
  /** Plain environment variables. Default none. */
  env?: Record<string, string>;
  /** Environment variables from existing Secrets: name -> { secret, key }. Default none. */
  secretEnv?: Record<string, { secret: string; key: string }>;
  /**
   * Secret values the component stores in a Secret `<name>-env` and exposes as environment variables; the
   * names are plain, the values stay Pulumi secrets. Default none.
   */
  secretValues?: { names: string[]; values: pulumi.Input<Record<string, string>> };
  /** The public host of the Ingress. Default: no Ingress. */
  host?: string;
  /** The TLS Secret of the Ingress host. Default: no TLS block. */
  tlsSecretName?: string;
  /** The IngressClass. Default: the cluster's default class. */
  ingressClassName?: string;
  /** Wait for the Ingress to get an address (needs an ingress controller). Default false. */
  awaitIngress?: boolean;
  /** How a slot's pods spread over nodes. Default "preferred". */
  antiAffinity?: 'none' | 'preferred' | 'required';
  /** PodDisruptionBudget maxUnavailable per slot. Default 1. */
  pdbMaxUnavailable?: number;
  /** The Services' type; anything but ClusterIP must be allowed by the stack. Default "ClusterIP". */
  serviceType?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  /** Namespaces whose pods may reach the app (ingress controller, monitoring). Default none besides its own. */
  allowIngressFromNamespaces?: pulumi.Input<string>[];
  /** What the app may reach besides DNS. Default nothing. */
  egress?: EgressPeer[];
  /** Protect the Deployments and Services from deletion. Default false. */
  protect?: boolean;
}

/** Defaults applied in one place. */
export type ResolvedBlueGreenAppArgs = Required<
  Omit<BlueGreenAppArgs, 'host' | 'tlsSecretName' | 'ingressClassName' | 'secretValues'>
> &
  Pick<BlueGreenAppArgs, 'host' | 'tlsSecretName' | 'ingressClassName' | 'secretValues'>;

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Applies the defaults and validates the arguments; throws one error listing every bad argument. */
export function resolveBlueGreenAppArgs(name: string, args: BlueGreenAppArgs): ResolvedBlueGreenAppArgs {
  const replicas = args.replicas ?? 2;
  const resolved: ResolvedBlueGreenAppArgs = {
    namespace: args.namespace,
    appName: args.appName ?? name,
    activeSlot: args.activeSlot,
    slots: args.slots,
    replicas,
    idleReplicas: args.idleReplicas ?? replicas,
    resources: args.resources ?? {
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { cpu: '500m', memory: '256Mi' },
    },
    port: args.port ?? 8080,
    healthPath: args.healthPath ?? '/healthz',
    readyPath: args.readyPath ?? '/readyz',
    metricsPath: args.metricsPath ?? '/metrics',
    env: args.env ?? {},
    secretEnv: args.secretEnv ?? {},
    secretValues: args.secretValues,
    host: args.host,
    tlsSecretName: args.tlsSecretName,
    ingressClassName: args.ingressClassName,
    awaitIngress: args.awaitIngress ?? false,
    antiAffinity: args.antiAffinity ?? 'preferred',
    pdbMaxUnavailable: args.pdbMaxUnavailable ?? 1,
    serviceType: args.serviceType ?? 'ClusterIP',
    allowIngressFromNamespaces: args.allowIngressFromNamespaces ?? [],
    egress: args.egress ?? [],
    protect: args.protect ?? false,
  };
  const errors: string[] = [];
  if (!SLOTS.includes(resolved.activeSlot)) {
    errors.push(`activeSlot "${String(resolved.activeSlot)}" is not "blue" or "green"`);
  }
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(resolved.appName) || resolved.appName.length > 50) {
    errors.push(`appName "${resolved.appName}" is not an RFC 1123 label of at most 50 characters`);
  }
  for (const slot of SLOTS) {
    const version = resolved.slots[slot]?.version;
    if (version === undefined || version.length > 63 || !LABEL_VALUE.test(version)) {
      errors.push(`slots.${slot}.version "${String(version)}" is not a Kubernetes label value`);
    }
  }
  if (!Number.isInteger(resolved.replicas) || resolved.replicas < 1) {
    errors.push(`replicas ${resolved.replicas} is not a whole number of at least 1`);
  }
  if (
    !Number.isInteger(resolved.idleReplicas) ||
    resolved.idleReplicas < 0 ||
    resolved.idleReplicas > resolved.replicas
  ) {
    errors.push(
      `idleReplicas ${resolved.idleReplicas} is not a whole number from 0 to replicas (${resolved.replicas})`,
    );
  }
  if (!Number.isInteger(resolved.port) || resolved.port < 1024 || resolved.port > 65535) {
    errors.push(`port ${resolved.port} is not an unprivileged port (1024-65535)`);
  }
  if (!Number.isInteger(resolved.pdbMaxUnavailable) || resolved.pdbMaxUnavailable < 1) {
    errors.push(`pdbMaxUnavailable ${resolved.pdbMaxUnavailable} must be at least 1, or node drains block`);
  }
  for (const [i, peer] of resolved.egress.entries()) {
    if (peer.ports.length === 0) {
      errors.push(`egress[${i}] names no port`);
    }
  }
  if (errors.length > 0) {
    throw new Error(`BlueGreenApp ${name}: invalid arguments:\n  - ${errors.join('\n  - ')}`);
  }
  return resolved;
}

export class BlueGreenApp extends pulumi.ComponentResource {
  /** The slot that takes traffic. */
  readonly activeSlot: pulumi.Output<Slot>;
  /** The slot behind the preview Service. */
  readonly idleSlot: pulumi.Output<Slot>;
  /** The image of each slot. */
  readonly images: pulumi.Output<Record<Slot, string>>;
  /** The version label of each slot. */
  readonly versions: pulumi.Output<Record<Slot, string>>;
  /** The Service that takes production traffic. */
  readonly activeServiceName: pulumi.Output<string>;
  /** The Service that reaches the idle slot, for tests before promotion. */
  readonly previewServiceName: pulumi.Output<string>;
  /** The Deployment of each slot. */
  readonly deploymentNames: pulumi.Output<Record<Slot, string>>;
  /** The public URL, when a host is set. */
  readonly url: pulumi.Output<string | undefined>;
  /** The Deployments, for dependents (gates, dashboards). */
  readonly deployments: Record<Slot, k8s.apps.v1.Deployment>;
  /** The active and preview Services. */
  readonly services: { active: k8s.core.v1.Service; preview: k8s.core.v1.Service };

  constructor(name: string, args: BlueGreenAppArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:app:BlueGreenApp', name, {}, opts);
    const a = resolveBlueGreenAppArgs(name, args);
    const idle: Slot = a.activeSlot === 'blue' ? 'green' : 'blue';
    const app = a.appName;
    const child = { parent: this };
    const stateful = { parent: this, protect: a.protect };

    const base = recommendedLabels({ name: 'pavemaster', instance: app, component: 'web' });
    const serviceAccount = new k8s.core.v1.ServiceAccount(
      `${name}-sa`,
      { metadata: { name: app, namespace: a.namespace, labels: base }, automountServiceAccountToken: false },
      child,
    );

    let envSecretName: pulumi.Output<string> | undefined;
    if (a.secretValues && a.secretValues.names.length > 0) {
      const secret = new k8s.core.v1.Secret(
        `${name}-env`,
        {
          metadata: { name: `${app}-env`, namespace: a.namespace, labels: base },
          type: 'Opaque',
          stringData: pulumi.secret(a.secretValues.values),
        },
        child,
      );
      envSecretName = secret.metadata.name;
    }

    const env: k8s.types.input.core.v1.EnvVar[] = [
      ...Object.entries(a.env)
        .sort(([x], [y]) => x.localeCompare(y))
        .map(([k, v]) => ({ name: k, value: v })),
      ...Object.entries(a.secretEnv)
        .sort(([x], [y]) => x.localeCompare(y))
        .map(([k, ref]) => ({ name: k, valueFrom: { secretKeyRef: { name: ref.secret, key: ref.key } } })),
      ...(envSecretName
        ? [...(a.secretValues?.names ?? [])]
            .sort()
            .map((k) => ({ name: k, valueFrom: { secretKeyRef: { name: envSecretName, key: k } } }))
        : []),
    ];

    const deployments = {} as Record<Slot, k8s.apps.v1.Deployment>;
    for (const slot of SLOTS) {
      const spec = a.slots[slot];
      const selector = { app, slot };
      const labels = { ...base, 'app.kubernetes.io/version': spec.version, app, slot, version: spec.version };
      const affinityTerm = {
        labelSelector: { matchLabels: selector },
        topologyKey: 'kubernetes.io/hostname',
      };
      const affinity: k8s.types.input.core.v1.Affinity | undefined =
        a.antiAffinity === 'required'
          ? { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [affinityTerm] } }
          : a.antiAffinity === 'preferred'
            ? {
                podAntiAffinity: {
                  preferredDuringSchedulingIgnoredDuringExecution: [
                    { weight: 100, podAffinityTerm: affinityTerm },
                  ],
                },
              }
            : undefined;
      const replicas = slot === a.activeSlot ? a.replicas : a.idleReplicas;

      deployments[slot] = new k8s.apps.v1.Deployment(
        `${name}-${slot}`,
        {
          metadata: {
            name: `${app}-${slot}`,
            namespace: a.namespace,
            labels,
            annotations: spec.annotations ?? {},
          },
          spec: {
            replicas,
            revisionHistoryLimit: 5,
            minReadySeconds: 0,
            progressDeadlineSeconds: 600,
            selector: { matchLabels: selector },
            // With required anti-affinity every node may already hold a pod of the slot: a surge pod could never
            // schedule, so roll by replacing one pod at a time instead.
            strategy: {
              type: 'RollingUpdate',
              rollingUpdate:
                a.antiAffinity === 'required'
                  ? { maxSurge: 0, maxUnavailable: 1 }
                  : { maxSurge: '25%', maxUnavailable: 0 },
            },
            template: {
              metadata: {
                labels,
                annotations: {
                  'prometheus.io/scrape': 'true',
                  'prometheus.io/port': String(a.port),
                  'prometheus.io/path': a.metricsPath,
                },
              },
              spec: {
                serviceAccountName: serviceAccount.metadata.name,
                automountServiceAccountToken: false,
                securityContext: restrictedPodSecurityContext(),
                terminationGracePeriodSeconds: 30,
                affinity,
                containers: [
                  {
                    name: 'web',
                    image: spec.image,
                    imagePullPolicy: 'IfNotPresent',
                    ports: [{ name: 'http', containerPort: a.port, protocol: 'TCP' }],
                    env: [
                      ...env,
                      { name: 'PAVEMASTER_SLOT', value: slot },
                      { name: 'PAVEMASTER_VERSION', value: spec.version },
                      { name: 'PORT', value: String(a.port) },
                    ],
                    resources: toResourceRequirements(a.resources),
                    securityContext: restrictedContainerSecurityContext(),
                    startupProbe: {
                      httpGet: { path: a.healthPath, port: 'http' },
                      periodSeconds: 5,
                      failureThreshold: 30,
                    },
                    livenessProbe: {
                      httpGet: { path: a.healthPath, port: 'http' },
                      periodSeconds: 10,
                      timeoutSeconds: 2,
                      failureThreshold: 3,
                    },
                    readinessProbe: {
                      httpGet: { path: a.readyPath, port: 'http' },
                      periodSeconds: 5,
                      timeoutSeconds: 2,
                      failureThreshold: 2,
                    },
                    // Drain in-flight requests before the pod leaves the endpoints.
                    lifecycle: { preStop: { sleep: { seconds: 5 } } },
                    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
                  },
                ],
                volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
              },
            },
          },
        },
        stateful,
      );

      new k8s.policy.v1.PodDisruptionBudget(
        `${name}-${slot}-pdb`,
        {
          metadata: { name: `${app}-${slot}`, namespace: a.namespace, labels },
          spec: { maxUnavailable: a.pdbMaxUnavailable, selector: { matchLabels: selector } },
        },
        child,
      );
    }
    this.deployments = deployments;

    const service = (suffix: string, slot: Slot, role: 'active' | 'preview'): k8s.core.v1.Service =>
      new k8s.core.v1.Service(
        `${name}-${role}`,
        {
          metadata: {
            name: `${app}${suffix}`,
            namespace: a.namespace,
            labels: { ...base, 'pavemaster.io/role': role },
            annotations: {
              // The provider's Service await proves nothing about the selected slot (an empty endpoint set can
              // pass) and costs seconds per switch; readiness is gated by the Deployments' own await instead
              // (dependsOn below) and the release command checks the EndpointSlices itself.
              'pulumi.com/skipAwait': 'true',
              'prometheus.io/probe': 'true',
            },
          },
          spec: {
            type: a.serviceType,
            selector: { app, slot },
            ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
          },
        },
        { ...stateful, dependsOn: [deployments.blue, deployments.green] },
      );
    const active = service('', a.activeSlot, 'active');
    const preview = service('-preview', idle, 'preview');
    this.services = { active, preview };

    if (a.host !== undefined) {
      new k8s.networking.v1.Ingress(
        `${name}-ingress`,
        {
          metadata: {
            name: app,
            namespace: a.namespace,
            labels: base,
            annotations: a.awaitIngress ? {} : { 'pulumi.com/skipAwait': 'true' },
          },
          spec: {
            ingressClassName: a.ingressClassName,
            tls: a.tlsSecretName ? [{ hosts: [a.host], secretName: a.tlsSecretName }] : undefined,
            rules: [
              {
                host: a.host,
                http: {
                  paths: [
                    {
                      path: '/',
                      pathType: 'Prefix',
                      backend: { service: { name: active.metadata.name, port: { name: 'http' } } },
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

    new k8s.networking.v1.NetworkPolicy(
      `${name}-ingress-policy`,
      {
        metadata: { name: `${app}-allow-ingress`, namespace: a.namespace, labels: base },
        spec: {
          podSelector: { matchLabels: { app } },
          policyTypes: ['Ingress'],
          ingress: [
            {
              from: [
                { podSelector: {} },
                ...a.allowIngressFromNamespaces.map((ns) => ({
                  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
                })),
              ],
              ports: [{ protocol: 'TCP', port: a.port }],
            },
          ],
        },
      },
      child,
    );
    if (a.egress.length > 0) {
      new k8s.networking.v1.NetworkPolicy(
        `${name}-egress-policy`,
        {
          metadata: { name: `${app}-allow-egress`, namespace: a.namespace, labels: base },
          spec: {
            podSelector: { matchLabels: { app } },
            policyTypes: ['Egress'],
            egress: a.egress.map((peer) => ({
              to: [
                peer.cidr !== undefined
                  ? { ipBlock: { cidr: peer.cidr } }
                  : {
                      namespaceSelector: peer.namespace
                        ? { matchLabels: { 'kubernetes.io/metadata.name': peer.namespace } }
                        : undefined,
                      podSelector: { matchLabels: peer.podLabels ?? {} },
                    },
              ],
              ports: peer.ports.map((port) => ({ protocol: 'TCP', port })),
            })),
          },
        },
        child,
      );
    }

    this.activeSlot = pulumi.output(a.activeSlot);
    this.idleSlot = pulumi.output(idle);
    this.images = pulumi
      .all([a.slots.blue.image, a.slots.green.image])
      .apply(([blue, green]) => ({ blue, green }));
    this.versions = pulumi.output({ blue: a.slots.blue.version, green: a.slots.green.version });
    this.activeServiceName = active.metadata.name;
    this.previewServiceName = preview.metadata.name;
    this.deploymentNames = pulumi
      .all([deployments.blue.metadata.name, deployments.green.metadata.name])
      .apply(([blue, green]) => ({ blue, green }));
    this.url = pulumi.output(
      a.host === undefined ? undefined : `${a.tlsSecretName ? 'https' : 'http'}://${a.host}`,
    );

    this.registerOutputs({
      activeSlot: this.activeSlot,
      idleSlot: this.idleSlot,
      images: this.images,
      versions: this.versions,
      activeServiceName: this.activeServiceName,
      previewServiceName: this.previewServiceName,
      deploymentNames: this.deploymentNames,
      url: this.url,
    });
  }
}
