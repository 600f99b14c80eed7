/**
 * Benchmark (not a test): how long `release promote` takes from its start until the active Service's
 * EndpointSlices list only the new slot's pods, beside a raw `kubectl patch` of the Service's selector on the
 * same cluster in the same run, and how many resources each promote touched. min/median/max over N runs.
 *
 *   source scripts/env.sh && npx ts-node bench/promote.ts [--runs N]
 *
 * Uses a throwaway stack `bench-promote` (config from Pulumi.staging.yaml) in a temporary project copy, with
 * the Job gates and the post-promotion window off, so what is timed is the readiness gate, the `pulumi up` of
 * the selector change and the EndpointSlice propagation.
 */
import { promote } from '../release/commands';
import { Kube, poll } from '../release/kube';
import { createSandbox, ensureCluster, envFromScript } from '../release/testing/sandbox';

const APP = 'pavemaster';

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return `min ${s[0]} ms, median ${median} ms, max ${s[s.length - 1]} ms`;
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--runs');
  const runs = i > 0 ? Number(process.argv[i + 1]) : 5;
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error('--runs takes a positive whole number');
  }
  Object.assign(process.env, envFromScript());
  await ensureCluster();
  const sandbox = await createSandbox({
    stackName: 'bench-promote',
    fromStack: 'staging',
    env: {},
    overrides: {
      namespace: 'bench-promote',
      blueImage: 'pavemaster/web:1.0.0',
      greenImage: 'pavemaster/web:2.0.0',
      replicas: 2,
      host: undefined,
      monitoring: { enabled: false },
      logging: { enabled: false },
      release: { smoke: { enabled: false }, postPromotion: { windowSeconds: 0 } },
    },
  });
  const kube = new Kube(sandbox.namespace);
  const quiet = { workDir: sandbox.dir, out: () => undefined, logEcho: () => undefined };
  const promoteMs: number[] = [];
  const patchMs: number[] = [];
  const touched: number[] = [];
  try {
    await sandbox.stack.up({ onOutput: () => undefined });
    for (let run = 1; run <= runs; run++) {
      const t0 = Date.now();
      const result = await promote('bench-promote', quiet);
      const sw = result.switched;
      if (!sw) {
        throw new Error('promote did not switch');
      }
      promoteMs.push(sw.switchedAt - t0);
      touched.push(sw.up.touched.length);

      // The same move by hand: patch the active Service back, wait for its EndpointSlices, then restore.
      const target = sw.from;
      const pods = async (slot: string) =>
        (await kube.list<{ metadata: { name: string } }>('pods', `app=${APP},slot=${slot}`))
          .map((p) => p.metadata.name)
          .sort()
          .join(',');
      const targetPods = await pods(target);
      const patch = (slot: string) =>
        kube.kubectlRun([
          'patch',
          'service',
          APP,
          '--type=merge',
          '-p',
          JSON.stringify({ spec: { selector: { slot } } }),
        ]);
      const p0 = Date.now();
      await patch(target);
      await poll(async () => ((await kube.endpointPods(APP)).join(',') === targetPods ? true : undefined), {
        timeoutMs: 60000,
        intervalMs: 20,
        what: 'the patched Service to switch',
      });
      patchMs.push(Date.now() - p0);
      await patch(sw.to);
      await poll(
        async () => ((await kube.endpointPods(APP)).join(',') === (await pods(sw.to)) ? true : undefined),
        {
          timeoutMs: 60000,
          intervalMs: 20,
          what: 'the Service to be restored',
        },
      );
      process.stdout.write(
        `run ${run}: promote ${sw.from}->${sw.to} ${promoteMs[run - 1]} ms (${touched[run - 1]} resources), kubectl patch ${patchMs[run - 1]} ms\n`,
      );
    }
    process.stdout.write(`\npromote start -> EndpointSlice switch (${runs} runs): ${stats(promoteMs)}\n`);
    process.stdout.write(`kubectl patch   -> EndpointSlice switch (${runs} runs): ${stats(patchMs)}\n`);
    process.stdout.write(
      `resources touched per promote: min ${Math.min(...touched)}, max ${Math.max(...touched)}\n`,
    );
  } finally {
    await sandbox.cleanup();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench/promote: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
