/**
 * Admission faults for the release tests: a ValidatingAdmissionPolicy that makes the real API server refuse one
 * Service's selector change, so a switch fails half-way exactly where an operator's cluster policy would stop it.
 */
import { Kube, poll } from '../../release/kube';

/**
 * Runs `fn` while the API server refuses any update of Service `service` (in the Kube's namespace) that changes
 * its selector ("test: the preview Service selector is frozen"). `fn` starts only once the policy is enforced (a
 * server-side dry run that moves the selector to `probeSlot` is denied: a new policy takes a moment); the policy
 * and its binding are deleted afterwards, also when `fn` fails.
 */
export async function withFrozenSelector<T>(
  kube: Kube,
  o: { name: string; service: string; probeSlot: string },
  fn: () => Promise<T>,
): Promise<T> {
  const policy = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: o.name },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['services'] },
        ],
      },
      validations: [
        {
          expression: `object.metadata.name != '${o.service}' || object.spec.selector == oldObject.spec.selector`,
          message: 'test: the preview Service selector is frozen',
        },
      ],
    },
  };
  const binding = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: o.name },
    spec: {
      policyName: o.name,
      validationActions: ['Deny'],
      matchResources: {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': kube.namespace } },
      },
    },
  };
  // Cluster-scoped admission kinds are not ones the release command applies, so kubectl (the tests' own tool) does.
  for (const manifest of [policy, binding]) {
    const r = await kube.kubectlRun(['apply', '-f', '-'], JSON.stringify(manifest));
    if (r.code !== 0) {
      throw new Error(`applying ${manifest.kind} ${o.name} failed: ${r.stderr}`);
    }
  }
  try {
    await poll(
      async () => {
        const r = await kube.kubectlRun([
          'patch',
          'service',
          o.service,
          '--dry-run=server',
          '--type=merge',
          '-p',
          JSON.stringify({ spec: { selector: { slot: o.probeSlot } } }),
        ]);
        return r.code !== 0 && r.stderr.includes('frozen') ? true : undefined;
      },
      { timeoutMs: 30000, what: 'the admission policy to be enforced' },
    );
    return await fn();
  } finally {
    await kube.kubectlRun(['delete', 'validatingadmissionpolicybinding', o.name, '--ignore-not-found']);
    await kube.kubectlRun(['delete', 'validatingadmissionpolicy', o.name, '--ignore-not-found']);
  }
}
