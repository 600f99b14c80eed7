/**
 * The pre-promotion gates, like Argo Rollouts' pre-promotion analysis: before any traffic moves, in this order,
 *
 * 1. `ready`: the idle slot's Deployment rolled out completely and the preview Service's EndpointSlices list
 *    exactly the idle slot's ready pods (the provider's Service await proves neither);
 * 2. `backup`: a database backup Job (optional);
 * 3. `migration`: a migration Job with the new image (optional);
 * 4. `smoke`: a Job that requests the preview Service's health and key endpoints (on by default).
 *
 * Backup and migration run once per release: their Job is named after the release id and is not run again once
 * it succeeded. The first failing gate stops the release; traffic stays where it was.
 *
 * Everything here is pure (manifests and decisions); `commands.ts` runs them against the cluster.
 */
import { EPHEMERAL_STORAGE } from '../components/shared/resources';
import {
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
} from '../components/shared/security';
import { IMAGE_PULL_POLICY } from '../components/shared/image';
import { appSelector, Slot } from '../components/shared/slots';
import { envFromSecretRefs, envValues } from '../components/shared/env';
import { ReleaseSettings } from '../stacks/release';
import type { DeploymentObject, EndpointSliceObject, JobObject, PodObject } from './objects';

export type GateName = 'ready' | 'backup' | 'migration' | 'smoke';
export type JobGate = Exclude<GateName, 'ready'>;

/** The gates a stack's release runs, in order. */
export function gateOrder(settings: Pick<ReleaseSettings, 'backup' | 'migration' | 'smoke'>): GateName[] {
  const gates: GateName[] = ['ready'];
  if (settings.backup.command.length > 0) {
    gates.push('backup');
  }
  if (settings.migration.command.length > 0) {
    gates.push('migration');
  }
  if (settings.smoke.enabled) {
    gates.push('smoke');
  }
  return gates;
}

/** The state of an existing Job. */
export type JobState = 'absent' | 'running' | 'succeeded' | 'failed';

/** What to do with a gate's Job given its current state. */
export type JobDecision = 'create' | 'skip' | 'wait' | 'recreate';

/** A Job's state from its `status`. */
export function jobState(job: Pick<JobObject, 'status'> | undefined): JobState {
  if (job === undefined) {
    return 'absent';
  }
  const conditions = job.status?.conditions ?? [];
  const is = (type: string) => conditions.some((c) => c.type === type && c.status === 'True');
  if (is('Complete') || is('SuccessCriteriaMet')) {
    return 'succeeded';
  }
  if (is('Failed') || is('FailureTarget')) {
    return 'failed';
  }
  return 'running';
}

/**
 * Backup and migration run once per release: a succeeded Job of the same release is kept and skipped; a failed
 * one is deleted and run again (the operator fixed the cause and retries); a running one is awaited. The smoke
 * test always runs afresh: it checks the slot as it is now.
 */
export function decideJob(gate: JobGate, state: JobState): JobDecision {
  if (state === 'absent') {
    return 'create';
  }
  if (state === 'running') {
    return gate === 'smoke' ? 'recreate' : 'wait';
  }
  if (state === 'succeeded') {
    return gate === 'smoke' ? 'recreate' : 'skip';
  }
  return 'recreate';
}

/** The outcome of one gate. */
export interface GateResult {
  gate: GateName;
  ok: boolean;
  /** What happened, one line. */
  detail: string;
  /** The Job's logs, when a Job failed. */
  logs?: string;
  skipped?: boolean;
}

/** The gates' overall verdict: the first failure stops everything after it. */
export function verdict(results: readonly GateResult[]): { ok: boolean; failed?: GateResult } {
  const failed = results.find((r) => !r.ok);
  return failed ? { ok: false, failed } : { ok: true };
}

/** The Job name of a gate: `<app>-<gate>-<releaseId>`, a DNS label of at most 63 characters. */
export function jobName(app: string, gate: JobGate, releaseId: string): string {
  const name = `${app}-${gate}-${releaseId}`;
  if (name.length > 63) {
    throw new Error(`Job name ${name} is longer than 63 characters; shorten the app name or release id`);
  }
  return name;
}

/** The label every gate pod carries, so a NetworkPolicy can select them. */
export const GATE_LABEL = 'pavemaster.io/release-gate';

export interface JobManifestInput {
  app: string;
  namespace: string;
  gate: JobGate;
  releaseId: string;
  slot: Slot;
  image: string;
  command: string[];
  env?: Record<string, string>;
  /** Environment variables from existing Secrets (the app's database credentials, for a migration). */
  secretEnv?: Record<string, { secret: string; key: string }>;
  timeoutSeconds: number;
  jobs: ReleaseSettings['jobs'];
  /** This gate's pod annotations, over `jobs.podAnnotations`. */
  podAnnotations?: Record<string, string>;
}

/**
 * A gate Job: restricted security context, requests and limits, `backoffLimit`, `activeDeadlineSeconds` and
 * `ttlSecondsAfterFinished`. Its pods carry `app` (so the app's NetworkPolicies apply: a migration reaches the
 * database the app reaches) but no `slot` label, so no Service ever selects them.
 */
export function jobManifest(input: JobManifestInput): Record<string, unknown> {
  const name = jobName(input.app, input.gate, input.releaseId);
  const labels = {
    'app.kubernetes.io/name': input.app,
    'app.kubernetes.io/component': `release-${input.gate}`,
    'app.kubernetes.io/managed-by': 'pavemaster-release',
    ...appSelector(input.app),
    [GATE_LABEL]: input.gate,
    'pavemaster.io/release-id': input.releaseId,
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: input.namespace,
      labels,
      annotations: { 'pavemaster.io/release-slot': input.slot },
    },
    spec: {
      backoffLimit: input.jobs.backoffLimit,
      activeDeadlineSeconds: input.timeoutSeconds,
      ttlSecondsAfterFinished: input.jobs.ttlSecondsAfterFinished,
      template: {
        metadata: { labels, annotations: { ...input.jobs.podAnnotations, ...input.podAnnotations } },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          securityContext: restrictedPodSecurityContext(input.jobs.runAsUser),
          containers: [
            {
              name: input.gate,
              image: input.image,
              // One rule for every container of the project (components/shared/image.ts IMAGE_PULL_POLICY says why).
              imagePullPolicy: IMAGE_PULL_POLICY,
              command: input.command,
              env: [...envValues(input.env ?? {}), ...envFromSecretRefs(input.secretEnv ?? {})],
              // Local disk too, as the app's containers (components/shared/resources.ts EPHEMERAL_STORAGE).
              resources: {
                requests: {
                  ...input.jobs.resources.requests,
                  'ephemeral-storage': EPHEMERAL_STORAGE.request,
                },
                limits: { ...input.jobs.resources.limits, 'ephemeral-storage': EPHEMERAL_STORAGE.limit },
              },
              securityContext: restrictedContainerSecurityContext({ readOnlyRootFilesystem: true }),
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
        },
      },
    },
  };
}

/**
 * How long the smoke script retries a connection that cannot be made (curl exit 7), one try a second. A new
 * pod's address reaches the cluster's NetworkPolicy enforcer a moment after the pod starts: until then kube-router
 * (the local real node's enforcer; Calico and Cilium have the same window) rejects it as a source at once, which
 * curl reports as "connection refused". The app's policy does admit the smoke pods (same namespace, app port): on
 * the real node the first request was refused after 21 ms and the next one, a second later, answered. Inherent to
 * asynchronous enforcers, so retried here, and only that: an HTTP answer is never retried, a 500 fails at once.
 */
export const SMOKE_CONNECT_RETRY_SECONDS = 15;

/** The smoke test's command: every path through the preview Service must answer 2xx/3xx. */
export function smokeCommand(serviceUrl: string, paths: readonly string[], timeoutSeconds: number): string[] {
  const urls = paths.map((p) => `${serviceUrl}${p}`);
  const script = [
    'set -eu',
    'for url in "$@"; do',
    '  tries=0',
    '  while :; do',
    '    rc=0',
    `    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time ${timeoutSeconds} "$url") || rc=$?`,
    `    if [ "$rc" -eq 7 ] && [ "$tries" -lt ${SMOKE_CONNECT_RETRY_SECONDS} ]; then tries=$((tries + 1)); sleep 1; continue; fi`,
    '    [ "$rc" -eq 0 ] || code=000',
    '    break',
    '  done',
    '  if [ "$tries" -gt 0 ]; then echo "$url: $tries connection retries"; fi',
    '  echo "$url -> $code"',
    '  case "$code" in 2??|3??) ;; *) echo "smoke test failed: $url answered $code"; exit 1 ;; esac',
    'done',
    'echo "smoke test passed"',
  ].join('\n');
  return ['sh', '-c', script, 'smoke', ...urls];
}

/**
 * The NetworkPolicy letting the smoke pods reach the app's pods (each namespace is default-deny for egress;
 * DNS is already allowed by the namespace's own policy).
 */
export function smokeEgressPolicy(app: string, namespace: string, port: number): Record<string, unknown> {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: `${app}-release-smoke-egress`,
      namespace,
      labels: { 'app.kubernetes.io/name': app, 'app.kubernetes.io/managed-by': 'pavemaster-release' },
    },
    spec: {
      podSelector: { matchLabels: { ...appSelector(app), [GATE_LABEL]: 'smoke' } },
      policyTypes: ['Egress'],
      egress: [
        { to: [{ podSelector: { matchLabels: appSelector(app) } }], ports: [{ protocol: 'TCP', port }] },
      ],
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Readiness of a slot, from the live objects.

/** The pod names an EndpointSlice list currently sends traffic to (ready endpoints). */
export function readyEndpointPods(slices: readonly EndpointSliceObject[]): string[] {
  const names = new Set<string>();
  for (const slice of slices) {
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready !== false && ep.targetRef?.name) {
        names.add(ep.targetRef.name);
      }
    }
  }
  return [...names].sort();
}

/** Ready, not terminating pods. */
export function readyPods(pods: readonly PodObject[]): PodObject[] {
  return pods.filter(
    (p) =>
      p.metadata.deletionTimestamp === undefined &&
      p.status?.phase === 'Running' &&
      (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
  );
}

export interface SlotReadiness {
  ready: boolean;
  /** Why not, one reason a line. */
  reasons: string[];
  readyPods: string[];
  endpointPods: string[];
}

/**
 * Whether a slot can take traffic: its Deployment rolled out (observed, updated, ready, available == desired,
 * desired > 0), its ready pods run the expected version, and the Service's EndpointSlices list exactly those
 * pods.
 */
export function slotReadiness(input: {
  deployment: DeploymentObject | undefined;
  pods: readonly PodObject[];
  slices: readonly EndpointSliceObject[];
  version?: string;
}): SlotReadiness {
  const reasons: string[] = [];
  const d = input.deployment;
  const ready = readyPods(input.pods);
  const readyNames = ready.map((p) => p.metadata.name).sort();
  const endpointPods = readyEndpointPods(input.slices);
  if (d === undefined) {
    return { ready: false, reasons: ['the Deployment does not exist'], readyPods: readyNames, endpointPods };
  }
  const desired = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  if (desired < 1) {
    reasons.push(`${d.metadata.name} is scaled to 0`);
  }
  if ((s.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) {
    reasons.push(`${d.metadata.name}: the controller has not observed generation ${d.metadata.generation}`);
  }
  for (const [field, value] of [
    ['updated', s.updatedReplicas],
    ['ready', s.readyReplicas],
    ['available', s.availableReplicas],
  ] as const) {
    if ((value ?? 0) < desired) {
      reasons.push(`${d.metadata.name}: ${value ?? 0}/${desired} replicas ${field}`);
    }
  }
  if ((s.replicas ?? 0) > desired) {
    reasons.push(
      `${d.metadata.name}: ${s.replicas} replicas exist, ${desired} desired (rollout in progress)`,
    );
  }
  if (input.version !== undefined) {
    const wrong = ready.filter((p) => p.metadata.labels?.version !== input.version);
    if (wrong.length > 0) {
      reasons.push(
        `pods not at version ${input.version}: ${wrong.map((p) => `${p.metadata.name}=${p.metadata.labels?.version ?? '?'}`).join(', ')}`,
      );
    }
  }
  if (readyNames.length < desired) {
    reasons.push(`${readyNames.length}/${desired} pods Ready`);
  }
  const extra = endpointPods.filter((n) => !readyNames.includes(n));
  const missing = readyNames.filter((n) => !endpointPods.includes(n));
  if (extra.length > 0) {
    reasons.push(`EndpointSlices list pods outside the slot: ${extra.join(', ')}`);
  }
  if (missing.length > 0) {
    reasons.push(`EndpointSlices do not list yet: ${missing.join(', ')}`);
  }
  // Kubernetes gave up on the rollout (`progressDeadlineSeconds` without progress): said first, as the cause
  // of the other reasons (never a reason alone: a condition left from before says nothing about a ready slot).
  const stuck = (s.conditions ?? []).find(
    (c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded',
  );
  if (stuck !== undefined && reasons.length > 0) {
    reasons.unshift(
      `${d.metadata.name}: rollout stuck: ProgressDeadlineExceeded (no progress within the Deployment's progressDeadlineSeconds, pavemaster:progressDeadlineSeconds)${stuck.message ? `: ${stuck.message}` : ''}`,
    );
  }
  return { ready: reasons.length === 0, reasons, readyPods: readyNames, endpointPods };
}
