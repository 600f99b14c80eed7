/**
 * Container environment variables in Kubernetes form: plain functions without the Pulumi SDK, so the release
 * command's gates (release/gates.ts) build the same environment as the program without loading it.
 * components/shared/workload.ts re-exports them for the components.
 */
import type * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';

type EnvVar = k8s.types.input.core.v1.EnvVar;

/** Environment variables read from keys of one Secret: variable name → key. */
export function envFromSecret(secretName: pulumi.Input<string>, keys: Record<string, string>): EnvVar[] {
  return Object.entries(keys).map(([name, key]) => ({
    name,
    valueFrom: { secretKeyRef: { name: secretName, key } },
  }));
}

/** Environment variables from keys of several Secrets: variable name → { secret, key }, sorted by name. */
export function envFromSecretRefs(
  refs: Record<string, { secret: pulumi.Input<string>; key: string }>,
): EnvVar[] {
  return Object.entries(refs)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, ref]) => ({ name, valueFrom: { secretKeyRef: { name: ref.secret, key: ref.key } } }));
}

/** Plain environment variables, sorted by name (a stable order keeps the pod template unchanged). */
export function envValues(values: Record<string, string>): EnvVar[] {
  return Object.entries(values)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => ({ name, value }));
}
