/**
 * Fake CrossGuard arguments for unit tests: the validate functions are called directly, the way the policy
 * server calls them, with a resource (or a stack of resources) and a reportViolation that records.
 */
import {
  PolicyResource,
  PolicyResourceOptions,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from '@pulumi/policy';

/** A resource as a test writes it. */
export interface FakeResource {
  type: string;
  name?: string;
  props: Record<string, unknown>;
  protect?: boolean;
}

function options(protect: boolean): PolicyResourceOptions {
  return {
    protect,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
  };
}

function urnOf(r: FakeResource): string {
  return `urn:pulumi:test::pavemaster::${r.type}::${r.name ?? 'r'}`;
}

function notApplicable(reason?: string): never {
  throw new Error(`not applicable: ${reason ?? ''}`);
}

function unsupported(): never {
  throw new Error('not supported by the fake');
}

/** A violation as reported: the message and the urn it was reported against (if any). */
export interface Violation {
  message: string;
  urn?: string;
}

function recorder(): { report: ReportViolation; violations: Violation[] } {
  const violations: Violation[] = [];
  const report: ReportViolation = (message: string, urn?: string) => {
    violations.push({ message, urn });
  };
  return { report, violations };
}

/** Runs a resource policy's validateResource on one resource; returns what it reported. */
export async function validateResource(
  policy: ResourceValidationPolicy,
  r: FakeResource,
  config: object = {},
): Promise<Violation[]> {
  const args: ResourceValidationArgs = {
    type: r.type,
    props: r.props,
    urn: urnOf(r),
    name: r.name ?? 'r',
    opts: options(r.protect ?? false),
    stackTags: new Map(),
    isType: unsupported,
    asType: unsupported,
    getConfig: <T extends object>() => config as T,
    notApplicable,
  };
  const { report, violations } = recorder();
  const validations = policy.validateResource;
  for (const validate of Array.isArray(validations) ? validations : validations ? [validations] : []) {
    await validate(args, report);
  }
  return violations;
}

/** Runs a stack policy's validateStack on a set of resources; returns what it reported. */
export async function validateStack(
  policy: StackValidationPolicy,
  resources: readonly FakeResource[],
  config: object = {},
): Promise<Violation[]> {
  const policyResources: PolicyResource[] = resources.map((r) => ({
    type: r.type,
    props: r.props,
    urn: urnOf(r),
    name: r.name ?? 'r',
    opts: options(r.protect ?? false),
    dependencies: [],
    propertyDependencies: {},
    isType: unsupported,
    asType: unsupported,
  }));
  const args: StackValidationArgs = {
    resources: policyResources,
    stackTags: new Map(),
    getConfig: <T extends object>() => config as T,
    notApplicable,
  };
  const { report, violations } = recorder();
  await policy.validateStack(args, report);
  return violations;
}

/** A compliant container: restricted security context, resources, a digest-pinned image. */
export function goodContainer(name = 'web'): Record<string, unknown> {
  return {
    name,
    image: `example/web:1.0.0@sha256:${'a'.repeat(64)}`,
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
    securityContext: {
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    ports: [{ name: 'http', containerPort: 8080 }],
  };
}

/** A compliant pod spec. */
export function goodPodSpec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [goodContainer()],
    volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
    ...overrides,
  };
}

/** A Deployment (or another workload kind) around a pod spec. */
export function workloadResource(
  kind: 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'CronJob' | 'Pod',
  podSpec: Record<string, unknown>,
  meta: { name?: string; namespace?: string; labels?: Record<string, string> } = {},
): FakeResource {
  const metadata = {
    name: meta.name ?? 'web',
    namespace: meta.namespace ?? 'apps',
    labels: meta.labels ?? {},
  };
  const template = { metadata: { labels: meta.labels ?? {} }, spec: podSpec };
  const group = kind === 'Pod' ? 'core' : kind === 'Job' || kind === 'CronJob' ? 'batch' : 'apps';
  const spec =
    kind === 'Pod'
      ? podSpec
      : kind === 'CronJob'
        ? { schedule: '@daily', jobTemplate: { spec: { template } } }
        : { selector: { matchLabels: meta.labels ?? {} }, template };
  return { type: `kubernetes:${group}/v1:${kind}`, name: metadata.name, props: { metadata, spec } };
}

/** The messages of reported violations. */
export function messages(violations: readonly Violation[]): string[] {
  return violations.map((v) => v.message);
}
