/**
 * Typed, defensive views over the Kubernetes resources a policy sees. A policy receives a resource's inputs (or
 * a stack policy its outputs) as plain JSON; these helpers read them without trusting their shape.
 */

/** A plain JSON object. */
export type Obj = Record<string, unknown>;

/** The object at `value`, or undefined when it is not a (non-array) object. */
export function obj(value: unknown): Obj | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : undefined;
}

/** The array at `value` (its object elements only), or [] when it is not an array. */
export function objects(value: unknown): Obj[] {
  return Array.isArray(value) ? value.map(obj).filter((o): o is Obj => o !== undefined) : [];
}

/** The string array at `value` (its string elements only), or [] when it is not an array. */
export function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** The string at `value`, or undefined. */
export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Reads a nested value by a dotted path; undefined as soon as a step is not an object. */
export function at(value: unknown, path: string): unknown {
  let current: unknown = value;
  for (const part of path.split('.')) {
    const o = obj(current);
    if (o === undefined) {
      return undefined;
    }
    current = o[part];
  }
  return current;
}

/** A string→string map (labels, selectors, ConfigMap data); non-string values are dropped. */
export function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(value) ?? {})) {
    if (typeof v === 'string') {
      out[k] = v;
    }
  }
  return out;
}

/** The parts of a Pulumi Kubernetes type token "kubernetes:<group>/<version>:<Kind>". */
export interface KubeType {
  /** The API group, "" for the core group. */
  group: string;
  version: string;
  kind: string;
  /** The manifest apiVersion: "v1" for core, "<group>/<version>" otherwise. */
  apiVersion: string;
}

/** Parses a Kubernetes type token; undefined for other providers' types and for Pulumi's own k8s helpers. */
export function kubeType(type: string): KubeType | undefined {
  const m = /^kubernetes:([^/:]+)\/([^/:]+):([A-Za-z0-9]+)$/.exec(type);
  if (!m) {
    return undefined;
  }
  const [, rawGroup, version, kind] = m;
  // Pulumi's own helpers (YAML, Helm, Kustomize groups) are components, not objects of the cluster.
  if (['yaml', 'helm.sh', 'kustomize'].includes(rawGroup)) {
    return undefined;
  }
  // Pulumi names the core group "core"; every other group appears in full ("networking.k8s.io").
  const group = rawGroup === 'core' ? '' : rawGroup;
  return { group, version, kind, apiVersion: group === '' ? version : `${group}/${version}` };
}

/** The kind of a resource, from its type token. */
export function kindOf(type: string): string | undefined {
  return kubeType(type)?.kind;
}

/** The kinds that carry a pod template, and where their pod spec lives. */
const POD_SPEC_PATHS: Record<string, string> = {
  Pod: 'spec',
  Deployment: 'spec.template.spec',
  StatefulSet: 'spec.template.spec',
  DaemonSet: 'spec.template.spec',
  ReplicaSet: 'spec.template.spec',
  ReplicationController: 'spec.template.spec',
  Job: 'spec.template.spec',
  CronJob: 'spec.jobTemplate.spec.template.spec',
};

/** The kinds that run pods. */
export const WORKLOAD_KINDS: readonly string[] = Object.keys(POD_SPEC_PATHS);

/** A workload as the policies see it. */
export interface Workload {
  kind: string;
  name: string;
  namespace: string;
  /** The pod spec of the workload (the pod template's spec). */
  podSpec: Obj;
  /** The labels of the pods it runs. */
  podLabels: Record<string, string>;
}

/** metadata.name and metadata.namespace of a resource; the Pulumi resource name when metadata.name is unset. */
export function identity(props: Obj, fallbackName: string): { name: string; namespace: string } {
  return {
    name: str(at(props, 'metadata.name')) ?? fallbackName,
    namespace: str(at(props, 'metadata.namespace')) ?? 'default',
  };
}

/** The workload view of a resource, or undefined when it runs no pods. */
export function workload(type: string, props: Obj, fallbackName: string): Workload | undefined {
  const kind = kindOf(type);
  if (kind === undefined || !(kind in POD_SPEC_PATHS)) {
    return undefined;
  }
  const path = POD_SPEC_PATHS[kind];
  const podSpec = obj(at(props, path)) ?? {};
  const templatePath = path.replace(/\.spec$/, '.metadata');
  const podLabels = stringMap(at(props, kind === 'Pod' ? 'metadata.labels' : `${templatePath}.labels`));
  return { kind, ...identity(props, fallbackName), podSpec, podLabels };
}

/** A container of a pod, with where it is declared. */
export interface ContainerRef {
  /** "container", "init container" or "ephemeral container". */
  role: string;
  name: string;
  spec: Obj;
}

/** Every container of a pod spec: init containers, containers and ephemeral containers. */
export function containers(podSpec: Obj): ContainerRef[] {
  const out: ContainerRef[] = [];
  const groups: [string, string][] = [
    ['initContainers', 'init container'],
    ['containers', 'container'],
    ['ephemeralContainers', 'ephemeral container'],
  ];
  for (const [field, role] of groups) {
    for (const [i, spec] of objects(podSpec[field]).entries()) {
      out.push({ role, name: str(spec.name) ?? `#${i}`, spec });
    }
  }
  return out;
}

/** "Deployment ns/name", for messages. */
export function describe(w: { kind: string; namespace: string; name: string }): string {
  return `${w.kind} ${w.namespace}/${w.name}`;
}
