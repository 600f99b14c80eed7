import {
  decideJob,
  gateOrder,
  jobManifest,
  jobName,
  jobState,
  slotReadiness,
  smokeCommand,
  verdict,
} from '../../../release/gates';
import { parseReleaseFor } from './support';

const release = (cfg: Record<string, unknown> = {}) => parseReleaseFor(cfg);

describe('gate order', () => {
  it('is ready, backup, migration, smoke; optional gates only when configured', () => {
    expect(gateOrder(release())).toEqual(['ready', 'smoke']);
    expect(
      gateOrder(
        release({
          release: { migration: { command: ['migrate'] }, backup: { command: ['backup', '--all'] } },
        }),
      ),
    ).toEqual(['ready', 'backup', 'migration', 'smoke']);
    expect(gateOrder(release({ release: { smoke: { enabled: false } } }))).toEqual(['ready']);
  });

  it('stops at the first failure', () => {
    expect(
      verdict([
        { gate: 'ready', ok: true, detail: '' },
        { gate: 'migration', ok: false, detail: 'job failed' },
      ]),
    ).toEqual({ ok: false, failed: { gate: 'migration', ok: false, detail: 'job failed' } });
    expect(verdict([{ gate: 'ready', ok: true, detail: '' }])).toEqual({ ok: true });
  });
});

describe('Job decisions', () => {
  const cond = (type: string) => ({ status: { conditions: [{ type, status: 'True' }] } });
  it('reads a Job state from its conditions', () => {
    expect(jobState(undefined)).toBe('absent');
    expect(jobState({ status: { active: 1 } })).toBe('running');
    expect(jobState(cond('Complete'))).toBe('succeeded');
    expect(jobState(cond('SuccessCriteriaMet'))).toBe('succeeded');
    expect(jobState(cond('Failed'))).toBe('failed');
  });

  it('runs backup and migration once per release; the smoke test every time', () => {
    expect(decideJob('migration', 'absent')).toBe('create');
    expect(decideJob('migration', 'succeeded')).toBe('skip');
    expect(decideJob('backup', 'succeeded')).toBe('skip');
    expect(decideJob('migration', 'running')).toBe('wait');
    expect(decideJob('migration', 'failed')).toBe('recreate');
    expect(decideJob('smoke', 'succeeded')).toBe('recreate');
    expect(decideJob('smoke', 'running')).toBe('recreate');
  });
});

describe('Job manifests', () => {
  const jobs = release().jobs;
  const manifest = jobManifest({
    app: 'pavemaster',
    namespace: 'pavemaster-staging',
    gate: 'migration',
    releaseId: 'r20260105-090000',
    slot: 'green',
    image: 'pavemaster/web:2.0.0',
    command: ['./migrate', 'up'],
    env: { B: '2', A: '1' },
    secretEnv: { DATABASE_URL: { secret: 'db', key: 'url' } },
    timeoutSeconds: 900,
    jobs,
  }) as {
    metadata: { name: string; labels: Record<string, string> };
    spec: {
      backoffLimit: number;
      activeDeadlineSeconds: number;
      ttlSecondsAfterFinished: number;
      template: {
        metadata: { labels: Record<string, string> };
        spec: {
          restartPolicy: string;
          automountServiceAccountToken: boolean;
          securityContext: Record<string, unknown>;
          containers: {
            command: string[];
            env: { name: string }[];
            resources: { requests: Record<string, string>; limits: Record<string, string> };
            securityContext: Record<string, unknown>;
          }[];
        };
      };
    };
  };

  it('is named after the release and runs restricted, bounded and self-cleaning', () => {
    expect(manifest.metadata.name).toBe('pavemaster-migration-r20260105-090000');
    expect(manifest.spec).toMatchObject({
      backoffLimit: 0,
      activeDeadlineSeconds: 900,
      ttlSecondsAfterFinished: 86400,
    });
    const pod = manifest.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const c = pod.containers[0];
    expect(c.command).toEqual(['./migrate', 'up']);
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.resources).toEqual({
      requests: { cpu: '50m', memory: '64Mi', 'ephemeral-storage': '64Mi' },
      limits: { cpu: '500m', memory: '256Mi', 'ephemeral-storage': '4Gi' },
    });
    expect(c.env.map((e) => e.name)).toEqual(['A', 'B', 'DATABASE_URL']);
  });

  it('carries the app label (its NetworkPolicies apply) but never a slot label (no Service selects it)', () => {
    const labels = manifest.spec.template.metadata.labels;
    expect(labels.app).toBe('pavemaster');
    expect(labels).not.toHaveProperty('slot');
    expect(labels['pavemaster.io/release-gate']).toBe('migration');
  });

  it('refuses names longer than a DNS label', () => {
    expect(() => jobName('a'.repeat(40), 'migration', 'r20260105-090000')).toThrow('longer than 63');
  });

  it('builds a smoke command that fails on any non-2xx/3xx answer', () => {
    const cmd = smokeCommand('http://pavemaster-preview.ns.svc', ['/healthz', '/'], 5);
    expect(cmd.slice(0, 2)).toEqual(['sh', '-c']);
    expect(cmd.slice(3)).toEqual([
      'smoke',
      'http://pavemaster-preview.ns.svc/healthz',
      'http://pavemaster-preview.ns.svc/',
    ]);
    expect(cmd[2]).toContain('--max-time 5');
    expect(cmd[2]).toContain('exit 1');
  });
});

describe('slot readiness', () => {
  const pod = (name: string, version = '2.0.0', ready = true) => ({
    metadata: { name, labels: { app: 'pavemaster', slot: 'green', version } },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });
  const deployment = (ready: number) => ({
    metadata: { name: 'pavemaster-green', generation: 2 },
    spec: { replicas: 2 },
    status: {
      observedGeneration: 2,
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: ready,
      availableReplicas: ready,
    },
  });
  const slices = (...names: string[]) => [
    { endpoints: names.map((n) => ({ conditions: { ready: true }, targetRef: { kind: 'Pod', name: n } })) },
  ];

  it('is ready when the rollout is complete and the EndpointSlices list exactly the ready pods', () => {
    const r = slotReadiness({
      deployment: deployment(2),
      pods: [pod('g1'), pod('g2')],
      slices: slices('g1', 'g2'),
      version: '2.0.0',
    });
    expect(r).toEqual({ ready: true, reasons: [], readyPods: ['g1', 'g2'], endpointPods: ['g1', 'g2'] });
  });

  it('names every reason it is not', () => {
    const r = slotReadiness({
      deployment: deployment(1),
      pods: [pod('g1'), pod('g2', '2.0.0', false)],
      slices: slices('g1', 'b1'),
      version: '2.0.0',
    });
    expect(r.ready).toBe(false);
    expect(r.reasons).toEqual([
      'pavemaster-green: 1/2 replicas ready',
      'pavemaster-green: 1/2 replicas available',
      '1/2 pods Ready',
      'EndpointSlices list pods outside the slot: b1',
    ]);
  });

  it('catches pods at the wrong version, a missing Deployment and endpoints lagging behind', () => {
    expect(
      slotReadiness({
        deployment: deployment(2),
        pods: [pod('g1', '1.0.0'), pod('g2')],
        slices: slices('g1', 'g2'),
        version: '2.0.0',
      }).reasons,
    ).toEqual(['pods not at version 2.0.0: g1=1.0.0']);
    expect(slotReadiness({ deployment: undefined, pods: [], slices: [] }).reasons).toEqual([
      'the Deployment does not exist',
    ]);
    expect(
      slotReadiness({ deployment: deployment(2), pods: [pod('g1'), pod('g2')], slices: slices('g1') })
        .reasons,
    ).toEqual(['EndpointSlices do not list yet: g2']);
  });

  it('names a rollout Kubernetes gave up on (ProgressDeadlineExceeded) first, never as the only reason', () => {
    const stuck = (ready: number) => {
      const d = deployment(ready);
      return {
        ...d,
        status: {
          ...d.status,
          conditions: [
            {
              type: 'Progressing',
              status: 'False',
              reason: 'ProgressDeadlineExceeded',
              message: 'ReplicaSet "pavemaster-green-6b7" has timed out progressing.',
            },
          ],
        },
      };
    };
    const r = slotReadiness({
      deployment: stuck(1),
      pods: [pod('g1')],
      slices: slices('g1'),
      version: '2.0.0',
    });
    expect(r.ready).toBe(false);
    expect(r.reasons[0]).toBe(
      "pavemaster-green: rollout stuck: ProgressDeadlineExceeded (no progress within the Deployment's " +
        'progressDeadlineSeconds, pavemaster:progressDeadlineSeconds): ReplicaSet "pavemaster-green-6b7" has ' +
        'timed out progressing.',
    );
    expect(r.reasons.slice(1)).toEqual([
      'pavemaster-green: 1/2 replicas ready',
      'pavemaster-green: 1/2 replicas available',
      '1/2 pods Ready',
    ]);
    // A condition left from before, on a slot that is ready now: ready.
    expect(
      slotReadiness({ deployment: stuck(2), pods: [pod('g1'), pod('g2')], slices: slices('g1', 'g2') }),
    ).toMatchObject({ ready: true, reasons: [] });
  });
});
