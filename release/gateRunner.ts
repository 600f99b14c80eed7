/**
 * Running the pre-promotion gates against the cluster, in order, stopping at the first failure: the readiness of
 * the idle slot, then each gate Job (backup, migration, smoke) from the pure manifests of `gates.ts`.
 */
import { Slot } from '../components/shared/slots';
import {
  decideJob,
  GateResult,
  gateOrder,
  jobManifest,
  JobGate,
  jobName,
  jobState,
  smokeCommand,
  smokeEgressPolicy,
} from './gates';
import { JobObject } from './kube';
import { Session } from './session';
import { waitReady } from './traffic';

async function runJobGate(s: Session, gate: JobGate, slot: Slot, releaseId: string): Promise<GateResult> {
  const name = jobName(s.app, gate, releaseId);
  const existing = await s.kube.get<JobObject>('job', name);
  const decision = decideJob(gate, jobState(existing));
  if (decision === 'skip') {
    return {
      gate,
      ok: true,
      skipped: true,
      detail: `job/${name} already succeeded for release ${releaseId}`,
    };
  }
  if (decision === 'recreate') {
    await s.kube.delete('job', name);
  }
  const cfg = s.release;
  const namespace = s.settings.namespace;
  const common = { app: s.app, namespace, gate, releaseId, slot, jobs: cfg.jobs };
  let manifest: Record<string, unknown>;
  let timeoutSeconds: number;
  if (gate === 'smoke') {
    timeoutSeconds = cfg.smoke.timeoutSeconds;
    await s.kube.apply(smokeEgressPolicy(s.app, namespace, s.settings.app.port));
    const url = `http://${s.previewService}.${namespace}.svc`;
    const paths = cfg.smoke.paths ?? s.settings.app.smokePaths;
    manifest = jobManifest({
      ...common,
      image: cfg.smoke.image,
      command: smokeCommand(url, paths, cfg.smoke.requestTimeoutSeconds),
      timeoutSeconds,
      podAnnotations: cfg.smoke.podAnnotations,
    });
  } else {
    const g = cfg[gate];
    timeoutSeconds = g.timeoutSeconds;
    const release = {
      PAVEMASTER_RELEASE_ID: releaseId,
      PAVEMASTER_SLOT: slot,
      PAVEMASTER_VERSION: s.version(slot),
    };
    manifest = jobManifest({
      ...common,
      image: g.image ?? s.image(slot),
      command: g.command,
      env: { ...s.settings.app.env, ...release },
      secretEnv: s.settings.app.secretEnv,
      timeoutSeconds,
      podAnnotations: g.podAnnotations,
    });
  }
  if (decision !== 'wait') {
    await s.kube.apply(manifest);
  }
  // Watched: the Job's status change ends the wait at once.
  const state = await s.kube
    .waitFor(
      async () => {
        const st = jobState(await s.kube.get<JobObject>('job', name));
        return st === 'succeeded' || st === 'failed' ? st : undefined;
      },
      [{ kind: 'job', fieldSelector: `metadata.name=${name}` }],
      { timeoutMs: (timeoutSeconds + 60) * 1000, what: `job/${name} to finish` },
    )
    .catch((e: Error) => e.message);
  if (state === 'succeeded') {
    // The smoke script says how long a new pod's connections were refused before the NetworkPolicy enforcer
    // admitted it (gates.ts SMOKE_CONNECT_RETRY_SECONDS): shown, so a slow enforcer is seen before it fails.
    const retries =
      gate === 'smoke'
        ? (await s.kube.jobLogs(name).catch(() => '')).match(/^.*: \d+ connection retries$/gm)
        : null;
    const note = retries ? ` (${retries.join('; ')})` : '';
    return { gate, ok: true, detail: `job/${name} succeeded${note}` };
  }
  const logs = await s.kube.jobLogs(name);
  const failedCondition = (await s.kube.get<JobObject>('job', name))?.status?.conditions?.find(
    (c) => (c.type === 'Failed' || c.type === 'FailureTarget') && c.status === 'True',
  );
  const why = failedCondition
    ? ` (${[failedCondition.reason, failedCondition.message].filter(Boolean).join(': ')})`
    : '';
  // The smoke script's own verdict names the URL and the HTTP status it got: that belongs in the error itself.
  const said = gate === 'smoke' ? /^smoke test failed: .*$/m.exec(logs)?.[0] : undefined;
  return {
    gate,
    ok: false,
    detail: state === 'failed' ? `job/${name} failed${why}${said ? `: ${said}` : ''}` : state,
    logs,
  };
}

/** Runs the pre-promotion gates in order; stops at the first failure. */
export async function runGates(s: Session, slot: Slot, releaseId: string): Promise<GateResult[]> {
  const results: GateResult[] = [];
  for (const gate of gateOrder(s.release)) {
    const started = Date.now();
    s.log.write(`gate:${gate}`, 'started');
    let result: GateResult;
    if (gate === 'ready') {
      try {
        const r = await waitReady(s, slot, s.previewService);
        result = {
          gate,
          ok: true,
          detail: `${r.readyPods.length} pod(s) of ${slot} Ready and listed by ${s.previewService}`,
        };
      } catch (e) {
        result = { gate, ok: false, detail: e instanceof Error ? e.message : String(e) };
      }
    } else {
      result = await runJobGate(s, gate, slot, releaseId);
    }
    results.push(result);
    s.log.write(`gate:${gate}`, result.ok ? (result.skipped ? 'skipped' : 'succeeded') : 'failed', {
      detail: result.detail,
      logs: result.logs,
      durationMs: Date.now() - started,
    });
    s.out(
      `gate ${gate}: ${result.ok ? (result.skipped ? 'skipped' : 'passed') : 'FAILED'} - ${result.detail}`,
    );
    if (!result.ok) {
      break;
    }
  }
  return results;
}
