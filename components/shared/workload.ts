/**
 * The workload toolkit: plain functions for the pieces every workload component of the project repeats, so that
 * each component's file says only what is particular to it. Spec builders return objects; the few that create
 * resources (Services, PodDisruptionBudgets, RBAC, Secrets) take the resource name and options from the calling
 * component, so every object keeps its component as parent and its name derived from the component's name.
 * Nothing here is a ComponentResource: a new parent would change every child's URN.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { IMAGE_PULL_POLICY } from './image';
import { ContainerResources, toResourceRequirements } from './resources';
import { restrictedContainerSecurityContext } from './security';

export { envFromSecret, envFromSecretRefs, envValues } from './env';

type Container = k8s.types.input.core.v1.Container;
type ServicePort = k8s.types.input.core.v1.ServicePort;
type Affinity = k8s.types.input.core.v1.Affinity;
type Volume = k8s.types.input.core.v1.Volume;

/** How the pods of one workload spread over nodes (cdk8s-plus's names for intent). */
export type AntiAffinity = 'none' | 'preferred' | 'required';

/**
 * Pod anti-affinity on the node (`kubernetes.io/hostname`): `required` never puts two of the selected pods on one
 * node, `preferred` avoids it when it can, `none` says nothing.
 */
export function antiAffinity(mode: AntiAffinity, selector: Record<string, string>): Affinity | undefined {
  const term = { labelSelector: { matchLabels: selector }, topologyKey: 'kubernetes.io/hostname' };
  if (mode === 'required') {
    return { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } };
  }
  if (mode === 'preferred') {
    return {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }],
      },
    };
  }
  return undefined;
}

/**
 * A container under the restricted Pod Security Standard (no privilege escalation, every capability dropped,
 * read-only root filesystem, RuntimeDefault seccomp) with its requests and limits (local disk included) and
 * the project's one pull policy ({@link IMAGE_PULL_POLICY}: `Always`, digest or tag; image.ts says why).
 * Everything else (command, ports, probes, mounts) is the caller's.
 */
export function restrictedContainer(
  spec: Omit<Container, 'resources' | 'securityContext' | 'imagePullPolicy'> & {
    /** Requests and limits. */
    resources: ContainerResources;
    /** Overrides of the restricted security context (e.g. a uid). */
    securityContext?: k8s.types.input.core.v1.SecurityContext;
  },
): Container {
  const { resources, securityContext, ...rest } = spec;
  return {
    ...rest,
    imagePullPolicy: IMAGE_PULL_POLICY,
    resources: toResourceRequirements(resources),
    securityContext: { ...restrictedContainerSecurityContext(), ...securityContext },
  };
}

/** An emptyDir volume with a size limit (a scratch or cache directory on a read-only root filesystem). */
export function scratchVolume(name: string, sizeLimit: string, medium?: 'Memory'): Volume {
  return { name, emptyDir: { ...(medium !== undefined ? { medium } : {}), sizeLimit } };
}

/** What a stack decides about a simple service: its image and its container's requests and limits. */
export interface ImageOptions {
  /** The image. @default the version pinned in components/versions.ts */
  readonly image?: string;
  /** Requests and limits. @default the component's own (its `*_DEFAULTS`) */
  readonly resources?: ContainerResources;
}

/**
 * What a stack decides about a replicated, stateful service: its replicas, each with a volume claim of a size and
 * class, and its container's requests and limits. The component's `*_DEFAULTS` table gives each default.
 */
export interface StatefulOptions {
  /** Replicas, each with its own volume claim. @default the component's own (1 for every service) */
  readonly replicas?: number;
  /** The size of each replica's volume claim. @default the component's own */
  readonly storage?: string;
  /** The StorageClass of the claims. @default the cluster's default class */
  readonly storageClass?: string;
  /** Requests and limits. @default the component's own */
  readonly resources?: ContainerResources;
}

/** What every object of a workload shares: its namespace and labels. */
export interface ObjectScope {
  /** metadata.name of the object. */
  objectName: pulumi.Input<string>;
  namespace: pulumi.Input<string>;
  labels: Record<string, string>;
}

/** What a Service of a workload says: its scope, the pods it selects and their ports. */
export type ServiceArgs = ObjectScope & { selector: Record<string, string>; ports: ServicePort[] };

function service(
  name: string,
  args: ServiceArgs,
  spec: Partial<k8s.types.input.core.v1.ServiceSpec>,
  opts: pulumi.CustomResourceOptions,
): k8s.core.v1.Service {
  return new k8s.core.v1.Service(
    name,
    {
      metadata: { name: args.objectName, namespace: args.namespace, labels: args.labels },
      spec: { ...spec, selector: args.selector, ports: args.ports },
    },
    opts,
  );
}

/**
 * A ClusterIP Service in front of the selected pods. `explicitType` writes `type: ClusterIP` (as some components
 * always have) instead of leaving it to the API server's default.
 */
export function clusterService(
  name: string,
  args: ServiceArgs & { explicitType?: boolean },
  opts: pulumi.CustomResourceOptions,
): k8s.core.v1.Service {
  return service(name, args, args.explicitType ? { type: 'ClusterIP' } : {}, opts);
}

/**
 * A headless Service: stable DNS names for a StatefulSet's pods. With `publishNotReadyAddresses`, peers find each
 * other before they are ready (clusters that are not ready until they have formed).
 */
export function headlessService(
  name: string,
  args: ServiceArgs & { publishNotReadyAddresses?: boolean },
  opts: pulumi.CustomResourceOptions,
): k8s.core.v1.Service {
  const spec = {
    clusterIP: 'None',
    ...(args.publishNotReadyAddresses ? { publishNotReadyAddresses: true } : {}),
  };
  return service(name, args, spec, opts);
}

/** A PodDisruptionBudget: a node drain never takes more than `maxUnavailable` of the selected pods at once. */
export function podDisruptionBudget(
  name: string,
  args: ObjectScope & { selector: Record<string, string>; maxUnavailable?: number },
  opts: pulumi.CustomResourceOptions,
): k8s.policy.v1.PodDisruptionBudget {
  return new k8s.policy.v1.PodDisruptionBudget(
    name,
    {
      metadata: { name: args.objectName, namespace: args.namespace, labels: args.labels },
      spec: { maxUnavailable: args.maxUnavailable ?? 1, selector: { matchLabels: args.selector } },
    },
    opts,
  );
}

/** A PodDisruptionBudget of one pod at a time, only when there is more than one replica to keep. */
export function pdbWhenReplicated(
  name: string,
  args: ObjectScope & { selector: Record<string, string>; replicas: number },
  opts: pulumi.CustomResourceOptions,
): k8s.policy.v1.PodDisruptionBudget | undefined {
  return args.replicas > 1 ? podDisruptionBudget(name, args, opts) : undefined;
}

/**
 * The head of a StatefulSet spec whose pods start together (`Parallel`: a cluster's members must find each other,
 * and replicas of a scraper are independent) and whose claims are kept when the data is protected.
 */
export function parallelStatefulSet(args: {
  replicas: number;
  /** The governing (headless) Service. */
  serviceName: pulumi.Input<string>;
  selector: Record<string, string>;
  protect: boolean;
}): Pick<
  k8s.types.input.apps.v1.StatefulSetSpec,
  'replicas' | 'serviceName' | 'podManagementPolicy' | 'selector' | 'persistentVolumeClaimRetentionPolicy'
> {
  return {
    replicas: args.replicas,
    serviceName: args.serviceName,
    podManagementPolicy: 'Parallel',
    selector: { matchLabels: args.selector },
    persistentVolumeClaimRetentionPolicy: claimRetention(args.protect),
  };
}

/** A StatefulSet's volume claim template: one ReadWriteOnce claim per replica. */
export function volumeClaim(args: {
  name: string;
  labels: Record<string, string>;
  storage: string;
  /** The StorageClass; the cluster's default class when unset. */
  storageClass?: string;
}): k8s.types.input.core.v1.PersistentVolumeClaim {
  return {
    metadata: { name: args.name, labels: args.labels },
    spec: {
      accessModes: ['ReadWriteOnce'],
      ...(args.storageClass !== undefined ? { storageClassName: args.storageClass } : {}),
      resources: { requests: { storage: args.storage } },
    },
  };
}

/** What happens to a StatefulSet's claims when it is deleted or scaled down: kept when the data is protected. */
export function claimRetention(
  protect: boolean,
): k8s.types.input.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy {
  const policy = protect ? 'Retain' : 'Delete';
  return { whenDeleted: policy, whenScaled: policy };
}

/** A ServiceAccount; `automount` states whether its token is mounted by default (unset: the API's default). */
export function serviceAccount(
  name: string,
  args: ObjectScope & { automount?: boolean },
  opts: pulumi.CustomResourceOptions,
): k8s.core.v1.ServiceAccount {
  return new k8s.core.v1.ServiceAccount(
    name,
    {
      metadata: { name: args.objectName, namespace: args.namespace, labels: args.labels },
      ...(args.automount !== undefined ? { automountServiceAccountToken: args.automount } : {}),
    },
    opts,
  );
}

/**
 * Cluster-wide read access for one ServiceAccount: a ClusterRole with exactly `rules` and its binding, both
 * named `roleName` (cluster-wide names: include the namespace to keep two stacks apart), as `<name>-role` and
 * `<name>-binding`.
 */
export function clusterReader(
  name: string,
  args: {
    roleName: pulumi.Input<string>;
    labels: Record<string, string>;
    rules: k8s.types.input.rbac.v1.PolicyRule[];
    serviceAccount: { name: pulumi.Input<string>; namespace: pulumi.Input<string> };
  },
  opts: pulumi.CustomResourceOptions,
  aliases: { role?: pulumi.Alias[]; binding?: pulumi.Alias[] } = {},
): { role: k8s.rbac.v1.ClusterRole; binding: k8s.rbac.v1.ClusterRoleBinding } {
  const role = new k8s.rbac.v1.ClusterRole(
    `${name}-role`,
    { metadata: { name: args.roleName, labels: args.labels }, rules: args.rules },
    { ...opts, aliases: aliases.role },
  );
  const binding = new k8s.rbac.v1.ClusterRoleBinding(
    `${name}-binding`,
    {
      metadata: { name: args.roleName, labels: args.labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name },
      subjects: [{ kind: 'ServiceAccount', ...args.serviceAccount }],
    },
    { ...opts, aliases: aliases.binding },
  );
  return { role, binding };
}

/**
 * A ConfigMap or Secret together with the name the program gave it (its scope's `objectName`): what a pod spec
 * refers to it by.
 *
 * Why not `object.metadata.name`: the provider of this program replaces a ConfigMap or Secret whose data changes
 * (enableConfigMapMutable and enableSecretMutable stay off), deleting it first because its name is fixed. The
 * Pulumi engine then computes the dependent replacements of that delete-before-replace
 * (pkg/resource/deploy/step_generator.go, calculateDependentReplacements): every input of a dependent whose
 * property dependencies include the replaced object is made unknown and the provider's Diff asked again, and a
 * StatefulSet or Deployment whose `spec` is unknown must be replaced (its selector, its volumeClaimTemplates). A
 * pod spec holding the output `metadata.name` therefore has its whole workload replaced by a one-line config
 * change, and a protected StatefulSet refuses the update. Only property dependencies count: the known name plus
 * `dependsOn` on the object (see {@link dependingOn}) keeps the order (the object exists before its pods) and
 * renders the same inputs, while the config checksum annotations still roll the pods in place.
 */
export type Referable<T extends pulumi.CustomResource> = T & {
  /** The object's metadata.name as the program gave it: a value the engine knows before the object exists. */
  readonly objectName: pulumi.Input<string>;
};

/** `object` with the name the program gave it, for pod specs to refer to it by (see {@link Referable}). */
export function referable<T extends pulumi.CustomResource>(
  object: T,
  objectName: pulumi.Input<string>,
): Referable<T> {
  return Object.assign(object, { objectName });
}

/**
 * `opts` with `objects` added to its `dependsOn`: a workload that refers to a ConfigMap or Secret by its known
 * name ({@link Referable}) is still created after it, without a property dependency on it.
 */
export function dependingOn(
  opts: pulumi.CustomResourceOptions,
  ...objects: pulumi.Resource[]
): pulumi.CustomResourceOptions {
  const given = opts.dependsOn;
  if (given === undefined) {
    return { ...opts, dependsOn: objects };
  }
  if (Array.isArray(given)) {
    return { ...opts, dependsOn: [...given, ...objects] };
  }
  if (pulumi.Resource.isInstance(given)) {
    return { ...opts, dependsOn: [given, ...objects] };
  }
  // An Output of dependencies: no caller passes one, and resolving it here would hide a dependency.
  throw new Error('dependingOn: opts.dependsOn must be a resource or an array of them');
}

/**
 * An Opaque Secret of string values; the caller marks which values are Pulumi secrets (a user name is not). Pod
 * specs refer to it by its `objectName` ({@link Referable} says why).
 */
export function opaqueSecret(
  name: string,
  args: ObjectScope & { data: pulumi.Input<Record<string, pulumi.Input<string>>> },
  opts: pulumi.CustomResourceOptions,
): Referable<k8s.core.v1.Secret> {
  const secret = new k8s.core.v1.Secret(
    name,
    {
      metadata: { name: args.objectName, namespace: args.namespace, labels: args.labels },
      type: 'Opaque',
      stringData: args.data,
    },
    opts,
  );
  return referable(secret, args.objectName);
}

/** A ConfigMap of text files. Pod specs refer to it by its `objectName` ({@link Referable} says why). */
export function configFiles(
  name: string,
  args: ObjectScope & { data: Record<string, pulumi.Input<string>> },
  opts: pulumi.CustomResourceOptions,
): Referable<k8s.core.v1.ConfigMap> {
  const config = new k8s.core.v1.ConfigMap(
    name,
    { metadata: { name: args.objectName, namespace: args.namespace, labels: args.labels }, data: args.data },
    opts,
  );
  return referable(config, args.objectName);
}

function metadata(scope: ObjectScope): k8s.types.input.meta.v1.ObjectMeta {
  return { name: scope.objectName, namespace: scope.namespace, labels: scope.labels };
}

/** The pods a workload runs: their labels, the part of them it selects by, their annotations and their spec. */
export interface PodTemplateArgs {
  /** The pods' labels (they include the selector's). */
  labels: Record<string, string>;
  /** The labels the workload selects its pods by. */
  selector: Record<string, string>;
  /** The pods' annotations (config checksums, scrape hints); the template has none when absent. */
  annotations?: Record<string, pulumi.Input<string>>;
  /** The pod spec. */
  pod: k8s.types.input.core.v1.PodSpec;
}

function podTemplate(args: PodTemplateArgs): k8s.types.input.core.v1.PodTemplateSpec {
  const { labels, annotations } = args;
  return { metadata: annotations === undefined ? { labels } : { labels, annotations }, spec: args.pod };
}

/**
 * A Deployment's spec: the selector and pod template every Deployment repeats, around the fields that are the
 * workload's own (replicas, strategy, history). The component names each of those; nothing is defaulted here.
 */
export function deploymentSpec(
  args: PodTemplateArgs & Omit<k8s.types.input.apps.v1.DeploymentSpec, 'selector' | 'template'>,
): k8s.types.input.apps.v1.DeploymentSpec {
  const { labels, selector, annotations, pod, ...own } = args;
  return {
    ...own,
    selector: { matchLabels: selector },
    template: podTemplate({ labels, selector, annotations, pod }),
  };
}

/** A DaemonSet's spec: one pod per node, rolled one node at a time. */
export function daemonSetSpec(args: PodTemplateArgs): k8s.types.input.apps.v1.DaemonSetSpec {
  return {
    selector: { matchLabels: args.selector },
    updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
    template: podTemplate(args),
  };
}

/** A component's StatefulSet, `<name>-statefulset`, with the spec its component builds. */
export function statefulSet(
  name: string,
  scope: ObjectScope,
  spec: k8s.types.input.apps.v1.StatefulSetSpec,
  opts: pulumi.CustomResourceOptions,
): k8s.apps.v1.StatefulSet {
  return new k8s.apps.v1.StatefulSet(`${name}-statefulset`, { metadata: metadata(scope), spec }, opts);
}

/** A component's Deployment, `<name>-deployment`, with the spec its component builds. */
export function deployment(
  name: string,
  scope: ObjectScope,
  spec: k8s.types.input.apps.v1.DeploymentSpec,
  opts: pulumi.CustomResourceOptions,
): k8s.apps.v1.Deployment {
  return new k8s.apps.v1.Deployment(`${name}-deployment`, { metadata: metadata(scope), spec }, opts);
}

/** A component's DaemonSet, `<name>-daemonset`, with the spec its component builds. */
export function daemonSet(
  name: string,
  scope: ObjectScope,
  spec: k8s.types.input.apps.v1.DaemonSetSpec,
  opts: pulumi.CustomResourceOptions,
): k8s.apps.v1.DaemonSet {
  return new k8s.apps.v1.DaemonSet(`${name}-daemonset`, { metadata: metadata(scope), spec }, opts);
}

/**
 * The front of a replicated service: a ClusterIP Service `<name>-service` in front of its pods and, when it runs
 * more than one replica, a PodDisruptionBudget `<name>-pdb` of one pod at a time.
 */
export function serviceWithPdb(
  name: string,
  args: ServiceArgs & { replicas: number },
  opts: pulumi.CustomResourceOptions,
): k8s.core.v1.Service {
  pdbWhenReplicated(`${name}-pdb`, args, opts);
  return clusterService(`${name}-service`, args, opts);
}
