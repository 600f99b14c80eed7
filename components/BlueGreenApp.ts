/**
 * The PaveMaster web application in blue/green slots (the contract itself is components/shared/slots.ts).
 *
 * Two Deployments, `<app>-blue` and `<app>-green`, each run their own image and version. The **active**
 * Service `<app>` selects the active slot's pods and the Ingress routes the public host to it; the **preview**
 * Service `<app>-preview` selects the idle slot's pods so a release can be tested before it takes traffic.
 * Switching traffic changes the two Services' selectors and nothing else: object names, Deployments and the
 * Ingress stay the same, so a promotion or a rollback is one small, instant update.
 *
 * The Services depend on both Deployments, so a selector never moves before Pulumi has seen the slot's rollout
 * complete with every replica Ready (the Deployment await), which is the pre-promotion readiness gate.
 *
 * The constructor only registers objects; what each object says is built by the exported `*Spec` functions,
 * which the tests call directly.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { namespaceBaselinePolicies, PlatformNamespace } from './PlatformNamespace';
import { checkBlueGreenAppOptions, resolveBlueGreenAppOptions } from './appOptions';
import { ArgChecks, Resolved, throwIfInvalid } from './shared/args';
import { checkLabelValue } from './shared/checks';
import { recommendedLabels } from './shared/labels';
import { namespacePeer, NetworkPeer, networkPeer, tcp } from './shared/network';
import { ContainerResources } from './shared/resources';
import { checksumKey, keyedSecretChecksum } from './shared/secretChecksum';
import { restrictedPodSecurityContext } from './shared/security';
import { appSelector, otherSlot, perSlot, Slot, SLOTS, slotObjectNames, slotSelector } from './shared/slots';
import {
  AntiAffinity,
  antiAffinity,
  dependingOn,
  deploymentSpec,
  envFromSecret,
  envFromSecretRefs,
  envValues,
  opaqueSecret,
  podDisruptionBudget,
  restrictedContainer,
  scratchVolume,
} from './shared/workload';

export { BLUE_GREEN_APP_DEFAULTS, checkBlueGreenAppOptions, resolveBlueGreenAppOptions } from './appOptions';
export type { Slot } from './shared/slots';
export type { NetworkPeer } from './shared/network';

/** What one slot runs. */
export interface SlotArgs {
  /** The container image, "[registry/]repository[:tag][@sha256:digest]". Required. */
  readonly image: pulumi.Input<string>;
  /** The `version` label of the slot's pods (a Kubernetes label value). Required. */
  readonly version: string;
  /** Annotations on the slot's Deployment, e.g. the release id and time. @default none */
  readonly annotations?: Record<string, string>;
}

/**
 * A peer the app may open connections to (its database, an API), for the egress NetworkPolicy: pods (by
 * namespace and labels; `podLabels` alone: pods of the app's namespace) or an IP block, on some ports.
 */
export interface EgressPeer extends NetworkPeer {
  /** The destination ports. Required, at least one, each from 1 to 65535. */
  readonly ports: readonly number[];
  /** The ports' protocol. @default "TCP" */
  readonly protocol?: 'TCP' | 'UDP';
}

/** A reference to a key of an existing Kubernetes Secret, exposed to the app as an environment variable. */
export interface SecretRef {
  readonly secret: string;
  readonly key: string;
}

/**
 * What a stack decides about its app (stacks/app.ts produces exactly this, from `pavemaster:*` config). Every
 * field has a default, applied once by {@link resolveBlueGreenAppOptions}.
 */
export interface BlueGreenAppOptions {
  /** The application name: Service and Deployment names derive from it (at most 50 characters). @default the component's name */
  readonly appName?: string;
  /** Which slot takes traffic. @default "blue" */
  readonly activeSlot?: Slot;
  /** Replicas of the active slot. @default 2 */
  readonly replicas?: number;
  /**
   * Replicas of the idle slot: the same as the active slot keeps a rollback instant (Argo Rollouts' behaviour
   * without `scaleDownDelaySeconds`); fewer saves capacity, and the release command scales the idle slot back up
   * before a promotion (Argo's `previewReplicaCount`).
   * @default replicas
   */
  readonly idleReplicas?: number;
  /** Container requests and limits. @default 100m/128Mi requested, 500m/256Mi limit */
  readonly resources?: ContainerResources;
  /** The port the app listens on (non-root: 1024 or above). @default 8080 */
  readonly port?: number;
  /** Liveness probe path. @default "/healthz" */
  readonly healthPath?: string;
  /** Readiness probe path. @default "/readyz" */
  readonly readyPath?: string;
  /** Prometheus scrape path. @default "/metrics" */
  readonly metricsPath?: string;
  /** Plain environment variables. @default none */
  readonly env?: Record<string, string>;
  /** Environment variables from existing Secrets: name -> { secret, key }. @default none */
  readonly secretEnv?: Record<string, SecretRef>;
  /** The public host of the Ingress. @default no Ingress */
  readonly host?: string;
  /** The TLS Secret of the Ingress host. @default no TLS block */
  readonly tlsSecretName?: string;
  /** The IngressClass. @default the cluster's default class */
  readonly ingressClassName?: string;
  /** Wait for the Ingress to get an address (needs an ingress controller). @default false */
  readonly awaitIngress?: boolean;
  /** How a slot's pods spread over nodes. @default "preferred" */
  readonly antiAffinity?: AntiAffinity;
  /** PodDisruptionBudget maxUnavailable per slot (at least 1: zero would block every node drain). @default 1 */
  readonly pdbMaxUnavailable?: number;
  /**
   * Seconds a slot's rollout may go without progress before Kubernetes marks it failed (the Deployments'
   * `progressDeadlineSeconds`, condition `Progressing=False`, reason `ProgressDeadlineExceeded`), from 30 to 3600.
   * The Deployment await of `pulumi up` is given this plus a minute (and never less than the provider's own ten
   * minutes), so it reports Kubernetes' verdict instead of timing out first; the release command's readiness wait
   * defaults to the same (`pavemaster:release.readyTimeoutSeconds`). Raise it for images that pull or start slowly.
   * @default 600
   */
  readonly progressDeadlineSeconds?: number;
  /** The Services' type; anything but ClusterIP must be allowed by the stack. @default "ClusterIP" */
  readonly serviceType?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  /**
   * Who else may reach the app's pods on its port, besides its own namespace and the monitoring namespace the
   * program wires in: the ingress controller behind the Ingress (e.g. ingress-nginx's
   * `{ namespace: "ingress-nginx", podLabels: { "app.kubernetes.io/name": "ingress-nginx" } }`), a load
   * balancer's source range. Without one the Ingress has no controller that can reach the app.
   * @default nobody else
   */
  readonly ingressFrom?: readonly NetworkPeer[];
  /** What the app may open connections to besides cluster DNS (its database, APIs). @default nothing */
  readonly egress?: readonly EgressPeer[];
  /** Protect the Deployments and Services from deletion. @default false */
  readonly protect?: boolean;
}

/** The arguments: the stack's options, plus what the program wires in. */
export interface BlueGreenAppArgs extends BlueGreenAppOptions {
  /** The namespace to deploy into. Required. */
  readonly namespace: pulumi.Input<string>;
  /**
   * Create the namespace (restricted Pod Security, default-deny NetworkPolicies) as `<name>-namespace`; it must
   * then be a plain name. False when the namespace exists already: a platform team's
   * (`pavemaster:createNamespace false`), or one another app of the program created.
   * @default true
   */
  readonly createNamespace?: boolean;
  /**
   * In a namespace the component does not create (`createNamespace` false), create the namespace's default-deny
   * NetworkPolicy and DNS allowance anyway, as `<app>-default-deny` and `<app>-allow-dns`: the app's pods must
   * not depend on whoever made the namespace for being closed by default. False only for an app whose namespace
   * another app of the same program made or closed already (the bench's extra apps). Ignored when the component
   * creates the namespace (its {@link PlatformNamespace} has them).
   * @default true
   */
  readonly namespacePolicies?: boolean;
  /** What each slot runs. Required. */
  readonly slots: Readonly<Record<Slot, SlotArgs>>;
  /**
   * Secret values the component stores in a Secret `<app>-env` and exposes as environment variables; the names
   * are plain, the values stay Pulumi secrets. @default none
   */
  readonly secretValues?: {
    readonly names: readonly string[];
    readonly values: pulumi.Input<Record<string, string>>;
  };
  /** Namespaces whose pods may reach the app (ingress controller, monitoring). @default none besides its own */
  readonly allowIngressFromNamespaces?: readonly pulumi.Input<string>[];
}

/** The options with every default applied. */
export type ResolvedBlueGreenAppOptions = Resolved<
  BlueGreenAppOptions,
  'host' | 'tlsSecretName' | 'ingressClassName'
>;

/** The arguments with every default applied, checked; throws one error listing every bad argument. */
export function resolveBlueGreenAppArgs(
  name: string,
  args: BlueGreenAppArgs,
): ResolvedBlueGreenAppOptions & BlueGreenAppArgs {
  const a = { ...args, ...resolveBlueGreenAppOptions(name, args) };
  const c = new ArgChecks();
  for (const slot of SLOTS) {
    c.check(`slots.${slot}.version`, a.slots[slot]?.version ?? '', checkLabelValue);
  }
  if ((a.createNamespace ?? true) && typeof a.namespace !== 'string') {
    c.fail('namespace', '(an output)', 'a plain namespace name when the component creates the namespace');
  }
  throwIfInvalid(`BlueGreenApp ${name}`, [...checkBlueGreenAppOptions(a), ...c.problems]);
  return a;
}

type AppArgs = ReturnType<typeof resolveBlueGreenAppArgs>;

/** The labels of the app's objects. */
export function appLabels(app: string): Record<string, string> {
  return recommendedLabels({ name: 'pavemaster', instance: app, component: 'web' });
}

/** The labels of one slot's Deployment and pods: the app's, the slot's selector and its version. */
export function slotLabels(app: string, slot: Slot, version: string): Record<string, string> {
  return { ...appLabels(app), 'app.kubernetes.io/version': version, ...slotSelector(app, slot), version };
}

/** The app's environment: plain values, references to existing Secrets, then the values of `<app>-env`. */
export function appEnv(a: AppArgs, envSecretName?: pulumi.Input<string>): k8s.types.input.core.v1.EnvVar[] {
  const stored = envSecretName !== undefined ? [...(a.secretValues?.names ?? [])].sort() : [];
  return [
    ...envValues(a.env),
    ...envFromSecretRefs(a.secretEnv),
    ...envFromSecret(envSecretName ?? '', Object.fromEntries(stored.map((k) => [k, k]))),
  ];
}

/** The pod annotation that carries {@link envSecretChecksum}. */
export const ENV_CHECKSUM_ANNOTATION = 'pavemaster.io/env-secret-checksum';

/**
 * A checksum of the app's secret environment values, for the pod template (components/shared/secretChecksum.ts:
 * keyed under a per-stack random key, so the annotation is no searchable hash of a short secret, and not a
 * Pulumi secret, so previews show the slots' specs). Stable for the same values in any order.
 */
export const envSecretChecksum = keyedSecretChecksum;

/** The Kubernetes provider's own Deployment await timeout when none is given: ten minutes. */
const PROVIDER_DEPLOYMENT_AWAIT_SECONDS = 600;

/**
 * How long `pulumi up` awaits a slot's Deployment: the progress deadline plus a minute for the controller to
 * report it, so a stuck rollout fails with Kubernetes' `ProgressDeadlineExceeded` rather than a bare timeout, and
 * never less than the provider's default (a rollout that keeps progressing may take longer than the deadline).
 */
export function deploymentAwaitTimeouts(progressDeadlineSeconds: number): pulumi.CustomTimeouts {
  const seconds = Math.max(PROVIDER_DEPLOYMENT_AWAIT_SECONDS, progressDeadlineSeconds + 60);
  return { create: `${seconds}s`, update: `${seconds}s` };
}

/** One slot's Deployment spec: the slot's image and version behind the slot's selector. */
export function slotDeploymentSpec(
  a: AppArgs,
  slot: Slot,
  refs: {
    serviceAccountName: pulumi.Input<string>;
    env: k8s.types.input.core.v1.EnvVar[];
    /** {@link envSecretChecksum} of the values in `<app>-env`, when the app has that Secret. */
    envChecksum?: pulumi.Input<string>;
  },
): k8s.types.input.apps.v1.DeploymentSpec {
  const spec = a.slots[slot];
  const selector = slotSelector(a.appName, slot);
  const labels = slotLabels(a.appName, slot, spec.version);
  const probe = (path: string) => ({ httpGet: { path, port: 'http' } });
  return deploymentSpec({
    replicas: slot === a.activeSlot ? a.replicas : a.idleReplicas,
    revisionHistoryLimit: 5,
    minReadySeconds: 0,
    progressDeadlineSeconds: a.progressDeadlineSeconds,
    // With required anti-affinity every node may already hold a pod of the slot: a surge pod could never
    // schedule, so roll by replacing one pod at a time instead.
    strategy: {
      type: 'RollingUpdate',
      rollingUpdate:
        a.antiAffinity === 'required'
          ? { maxSurge: 0, maxUnavailable: 1 }
          : { maxSurge: '25%', maxUnavailable: 0 },
    },
    labels,
    selector,
    annotations: {
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(a.port),
      'prometheus.io/path': a.metricsPath,
      // Environment variables are read at container start: a changed value in `<app>-env` reaches the pods only
      // through a new pod template, rolled like any other (maxUnavailable 0 unless anti-affinity is required).
      ...(refs.envChecksum !== undefined ? { [ENV_CHECKSUM_ANNOTATION]: refs.envChecksum } : {}),
    },
    pod: {
      serviceAccountName: refs.serviceAccountName,
      automountServiceAccountToken: false,
      securityContext: restrictedPodSecurityContext(),
      terminationGracePeriodSeconds: 30,
      affinity: antiAffinity(a.antiAffinity, selector),
      containers: [
        restrictedContainer({
          name: 'web',
          image: spec.image,
          ports: [{ name: 'http', containerPort: a.port, protocol: 'TCP' }],
          env: [
            ...refs.env,
            { name: 'PAVEMASTER_SLOT', value: slot },
            { name: 'PAVEMASTER_VERSION', value: spec.version },
            { name: 'PORT', value: String(a.port) },
          ],
          resources: a.resources,
          startupProbe: { ...probe(a.healthPath), periodSeconds: 5, failureThreshold: 30 },
          livenessProbe: {
            ...probe(a.healthPath),
            periodSeconds: 10,
            timeoutSeconds: 2,
            failureThreshold: 3,
          },
          readinessProbe: {
            ...probe(a.readyPath),
            periodSeconds: 5,
            timeoutSeconds: 2,
            failureThreshold: 2,
          },
          // Drain in-flight requests before the pod leaves the endpoints.
          lifecycle: { preStop: { sleep: { seconds: 5 } } },
          volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
        }),
      ],
      volumes: [scratchVolume('tmp', '64Mi')],
    },
  });
}

/** The active or preview Service: selects one slot's pods. */
export function slotServiceArgs(a: AppArgs, role: 'active' | 'preview', slot: Slot): k8s.core.v1.ServiceArgs {
  const names = slotObjectNames(a.appName);
  return {
    metadata: {
      name: role === 'active' ? names.activeService : names.previewService,
      namespace: a.namespace,
      labels: { ...appLabels(a.appName), 'pavemaster.io/role': role },
      annotations: {
        // The provider's Service await proves nothing about the selected slot (an empty endpoint set can
        // pass) and costs seconds per switch; readiness is gated by the Deployments' own await instead
        // (dependsOn) and the release command checks the EndpointSlices itself.
        'pulumi.com/skipAwait': 'true',
        'prometheus.io/probe': 'true',
      },
    },
    spec: {
      type: a.serviceType,
      selector: slotSelector(a.appName, slot),
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

/** The Ingress of the public host, to the active Service. */
export function ingressArgs(
  a: AppArgs,
  host: string,
  activeService: pulumi.Input<string>,
): k8s.networking.v1.IngressArgs {
  return {
    metadata: {
      name: a.appName,
      namespace: a.namespace,
      labels: appLabels(a.appName),
      annotations: a.awaitIngress ? {} : { 'pulumi.com/skipAwait': 'true' },
    },
    spec: {
      ingressClassName: a.ingressClassName,
      tls: a.tlsSecretName ? [{ hosts: [host], secretName: a.tlsSecretName }] : undefined,
      rules: [
        {
          host,
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: activeService, port: { name: 'http' } } },
              },
            ],
          },
        },
      ],
    },
  };
}

/**
 * Who may reach the app's pods, on the app's port only: its own namespace, the namespaces the program allows
 * (monitoring), and the stack's `ingressFrom` sources (the ingress controller).
 */
export function ingressPolicyArgs(a: AppArgs): k8s.networking.v1.NetworkPolicyArgs {
  return {
    metadata: { name: `${a.appName}-allow-ingress`, namespace: a.namespace, labels: appLabels(a.appName) },
    spec: {
      podSelector: { matchLabels: appSelector(a.appName) },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [
            { podSelector: {} },
            ...(a.allowIngressFromNamespaces ?? []).map((ns) => namespacePeer(ns)),
            ...a.ingressFrom.map(networkPeer),
          ],
          ports: tcp(a.port),
        },
      ],
    },
  };
}

/** What the app's pods may reach besides DNS. */
export function egressPolicyArgs(a: AppArgs): k8s.networking.v1.NetworkPolicyArgs {
  return {
    metadata: { name: `${a.appName}-allow-egress`, namespace: a.namespace, labels: appLabels(a.appName) },
    spec: {
      podSelector: { matchLabels: appSelector(a.appName) },
      policyTypes: ['Egress'],
      egress: a.egress.map((peer) => ({
        to: [networkPeer(peer)],
        ports: peer.ports.map((port) => ({ protocol: peer.protocol ?? 'TCP', port })),
      })),
    },
  };
}

export class BlueGreenApp extends pulumi.ComponentResource {
  /** The namespace the app runs in (known once it exists). */
  readonly namespace: pulumi.Output<string>;
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
    const given = resolveBlueGreenAppArgs(name, args);
    const child = { parent: this };
    const stateful = { parent: this, protect: given.protect };

    let namespace: pulumi.Input<string> = given.namespace;
    if (given.createNamespace ?? true) {
      // Before this component created its namespace, the program did, at the top of the stack.
      const ns = new PlatformNamespace(
        `${name}-namespace`,
        { name: given.namespace as string },
        { parent: this, aliases: [{ name: 'app-namespace', parent: pulumi.rootStackResource }] },
      );
      namespace = ns.name;
    }
    const a = { ...given, namespace };
    const app = a.appName;
    const idle = otherSlot(a.activeSlot);
    const labels = appLabels(app);
    if (!(given.createNamespace ?? true) && (given.namespacePolicies ?? true)) {
      // A namespace made by someone else: closed by default all the same (its Pod Security labels are the
      // Namespace's, cluster-scoped, and stay its creator's).
      namespaceBaselinePolicies(
        `${name}-namespace`,
        {
          namespace: a.namespace,
          names: { defaultDeny: `${app}-default-deny`, allowDns: `${app}-allow-dns` },
          labels,
        },
        child,
      );
    }

    const serviceAccount = new k8s.core.v1.ServiceAccount(
      `${name}-sa`,
      { metadata: { name: app, namespace: a.namespace, labels }, automountServiceAccountToken: false },
      child,
    );
    // The pod specs name `<app>-env` by its known name and only dependsOn it (workload.Referable says why): the
    // provider replaces a Secret whose data changes, and a spec holding its output name would have both slots'
    // Deployments replaced (deleted, then created) with it: an outage for a changed credential.
    const secretValues = a.secretValues && a.secretValues.names.length > 0 ? a.secretValues : undefined;
    const envSecret =
      secretValues &&
      opaqueSecret(
        `${name}-env`,
        {
          objectName: `${app}-env`,
          namespace: a.namespace,
          labels,
          data: pulumi.secret(secretValues.values),
        },
        child,
      );
    const envChecksum =
      secretValues && envSecretChecksum(checksumKey(`${name}-env-checksum-key`, child), secretValues.values);
    const env = appEnv(a, envSecret?.objectName);

    this.deployments = perSlot((slot) => {
      const objectName = slotObjectNames(app).deployments[slot];
      const slotLabelSet = slotLabels(app, slot, a.slots[slot].version);
      const deployment = new k8s.apps.v1.Deployment(
        `${name}-${slot}`,
        {
          metadata: {
            name: objectName,
            namespace: a.namespace,
            labels: slotLabelSet,
            annotations: a.slots[slot].annotations ?? {},
          },
          spec: slotDeploymentSpec(a, slot, {
            serviceAccountName: serviceAccount.metadata.name,
            env,
            envChecksum,
          }),
        },
        {
          ...(envSecret ? dependingOn(stateful, envSecret) : stateful),
          customTimeouts: deploymentAwaitTimeouts(a.progressDeadlineSeconds),
        },
      );
      podDisruptionBudget(
        `${name}-${slot}-pdb`,
        {
          objectName,
          namespace: a.namespace,
          labels: slotLabelSet,
          selector: slotSelector(app, slot),
          maxUnavailable: a.pdbMaxUnavailable,
        },
        child,
      );
      return deployment;
    });

    const afterRollout = { ...stateful, dependsOn: [this.deployments.blue, this.deployments.green] };
    const active = new k8s.core.v1.Service(
      `${name}-active`,
      slotServiceArgs(a, 'active', a.activeSlot),
      afterRollout,
    );
    const preview = new k8s.core.v1.Service(
      `${name}-preview`,
      slotServiceArgs(a, 'preview', idle),
      afterRollout,
    );
    this.services = { active, preview };

    if (a.host !== undefined) {
      new k8s.networking.v1.Ingress(`${name}-ingress`, ingressArgs(a, a.host, active.metadata.name), child);
    }
    new k8s.networking.v1.NetworkPolicy(`${name}-ingress-policy`, ingressPolicyArgs(a), child);
    if (a.egress.length > 0) {
      new k8s.networking.v1.NetworkPolicy(`${name}-egress-policy`, egressPolicyArgs(a), child);
    }

    this.namespace = pulumi.output(a.namespace);
    this.activeSlot = pulumi.output(a.activeSlot);
    this.idleSlot = pulumi.output(idle);
    this.images = pulumi
      .all([a.slots.blue.image, a.slots.green.image])
      .apply(([blue, green]) => ({ blue, green }));
    this.versions = pulumi.output(perSlot((slot) => a.slots[slot].version));
    this.activeServiceName = active.metadata.name;
    this.previewServiceName = preview.metadata.name;
    this.deploymentNames = pulumi
      .all([this.deployments.blue.metadata.name, this.deployments.green.metadata.name])
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
