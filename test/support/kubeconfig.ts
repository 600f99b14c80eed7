/**
 * The program checks the stack's cluster against the kubeconfig before it registers anything (infra/cluster.ts).
 * Under Pulumi's mocks nothing is deployed, so the harnesses (harness.ts's recordStack, render.ts's render, and
 * through them scripts/render-manifests) run it with a fixed kubeconfig naming the local cluster's context and
 * cluster (fixtures/kubeconfig.yaml), never the machine's: a render is the same everywhere, and production's
 * committed `pavemaster:kubernetes` passes. A test of the check itself sets KUBECONFIG and calls record().
 */
import * as path from 'path';

export const MOCK_KUBECONFIG = path.join(__dirname, '..', 'fixtures', 'kubeconfig.yaml');

/** Runs `fn` (which loads the program) with KUBECONFIG set to the mock kubeconfig, then puts it back. */
export function withMockKubeconfig<T>(fn: () => T): T {
  const saved = process.env.KUBECONFIG;
  process.env.KUBECONFIG = MOCK_KUBECONFIG;
  try {
    return fn();
  } finally {
    if (saved === undefined) {
      delete process.env.KUBECONFIG;
    } else {
      process.env.KUBECONFIG = saved;
    }
  }
}
