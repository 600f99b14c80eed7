import { goodContainer, goodPodSpec, validateResource, workloadResource, messages } from '../test/fakes';
import { podSecurityPolicy } from './podSecurity';

const KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Pod'] as const;

function withContainer(securityContext: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return goodPodSpec({ containers: [{ ...goodContainer(), securityContext, ...extra }] });
}

describe('pod-security-restricted', () => {
  it.each(KINDS)('passes a restricted %s', async (kind) => {
    expect(await validateResource(podSecurityPolicy, workloadResource(kind, goodPodSpec()))).toEqual([]);
  });

  it.each(KINDS)('refuses a privileged container in a %s', async (kind) => {
    const spec = withContainer({ ...(goodContainer().securityContext as object), privileged: true });
    const violations = await validateResource(podSecurityPolicy, workloadResource(kind, spec));
    expect(violations.map((v) => v.message)).toEqual([expect.stringContaining('privileged is true')]);
  });

  it('ignores resources that run no pods', async () => {
    const cm = { type: 'kubernetes:core/v1:ConfigMap', props: { data: { hostNetwork: 'true' } } };
    expect(await validateResource(podSecurityPolicy, cm)).toEqual([]);
  });

  it('reports every missing control of a bare container, init containers included', async () => {
    const bare = { name: 'bare', image: 'x:1' };
    const spec = { containers: [bare], initContainers: [{ name: 'init', image: 'x:1' }] };
    const messages = (await validateResource(podSecurityPolicy, workloadResource('Deployment', spec))).map(
      (v) => v.message,
    );
    for (const who of ['container "bare"', 'init container "init"']) {
      for (const control of [
        'allowPrivilegeEscalation must be set to false',
        'capabilities.drop must include ALL',
        'runAsNonRoot must be true',
        'seccompProfile must be RuntimeDefault or Localhost',
        'readOnlyRootFilesystem must be true',
      ]) {
        expect(messages).toContainEqual(expect.stringContaining(`${who}: ${control}`));
      }
    }
  });

  it('accepts pod-level runAsNonRoot and seccomp, refuses Unconfined and root', async () => {
    const sc = {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    };
    expect(await validateResource(podSecurityPolicy, workloadResource('Pod', withContainer(sc)))).toEqual([]);
    const bad = withContainer({ ...sc, runAsUser: 0, seccompProfile: { type: 'Unconfined' } });
    const messages = (await validateResource(podSecurityPolicy, workloadResource('Pod', bad))).map(
      (v) => v.message,
    );
    expect(messages).toEqual([
      expect.stringContaining('runAsUser is 0'),
      expect.stringContaining('seccompProfile must be RuntimeDefault'),
    ]);
  });

  it('allows adding NET_BIND_SERVICE only', async () => {
    const base = goodContainer().securityContext as Record<string, unknown>;
    const ok = withContainer({ ...base, capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } });
    expect(await validateResource(podSecurityPolicy, workloadResource('Deployment', ok))).toEqual([]);
    const bad = withContainer({
      ...base,
      capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_BIND_SERVICE'] },
    });
    expect(messages(await validateResource(podSecurityPolicy, workloadResource('Deployment', bad)))).toEqual([
      expect.stringContaining('adds capabilities NET_ADMIN'),
    ]);
  });

  it('refuses host namespaces, host ports and non-restricted volumes', async () => {
    const spec = goodPodSpec({
      hostNetwork: true,
      hostPID: true,
      hostIPC: true,
      containers: [{ ...goodContainer(), ports: [{ containerPort: 8080, hostPort: 8080 }] }],
      volumes: [{ name: 'nfs', nfs: { server: 'x', path: '/' } }],
    });
    const messages = (await validateResource(podSecurityPolicy, workloadResource('Deployment', spec))).map(
      (v) => v.message,
    );
    expect(messages).toEqual([
      expect.stringContaining('hostNetwork is true'),
      expect.stringContaining('hostPID is true'),
      expect.stringContaining('hostIPC is true'),
      expect.stringContaining('volume "nfs" uses nfs'),
      expect.stringContaining('binds hostPort 8080'),
    ]);
  });

  describe('node agent allow-list', () => {
    const hostPathSpec = (readOnly: boolean) =>
      goodPodSpec({
        hostNetwork: true,
        hostPID: true,
        containers: [
          {
            ...goodContainer('node-exporter'),
            volumeMounts: [{ name: 'proc', mountPath: '/host/proc', readOnly }],
          },
        ],
        volumes: [{ name: 'proc', hostPath: { path: '/proc' } }],
      });

    it('lets node-exporter in a *-node namespace read the host', async () => {
      const r = workloadResource('DaemonSet', hostPathSpec(true), {
        name: 'node-exporter',
        namespace: 'mon-node',
      });
      expect(await validateResource(podSecurityPolicy, r)).toEqual([]);
    });

    it('still requires its hostPath mounts to be read-only and everything else restricted', async () => {
      const spec = hostPathSpec(false);
      const r = workloadResource('DaemonSet', spec, { name: 'node-exporter', namespace: 'mon-node' });
      expect((await validateResource(podSecurityPolicy, r)).map((v) => v.message)).toEqual([
        expect.stringContaining('hostPath volume "proc" must be mounted readOnly'),
      ]);
    });

    it.each([
      ['another workload in the node namespace', 'DaemonSet', 'sneaky', 'mon-node'],
      ['node-exporter outside a *-node namespace', 'DaemonSet', 'node-exporter', 'monitoring'],
      ['a Deployment named node-exporter', 'Deployment', 'node-exporter', 'mon-node'],
    ] as const)('flags %s mounting the host', async (_what, kind, name, namespace) => {
      const r = workloadResource(kind, hostPathSpec(true), { name, namespace });
      const messages = (await validateResource(podSecurityPolicy, r)).map((v) => v.message);
      expect(messages).toContainEqual(expect.stringContaining('hostNetwork is true'));
      expect(messages).toContainEqual(expect.stringContaining('volume "proc" is a hostPath (/proc)'));
    });

    it('lets the log shipper run as root but not privileged', async () => {
      const sc = { ...(goodContainer().securityContext as object), runAsNonRoot: false, runAsUser: 0 };
      const spec = goodPodSpec({
        securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            ...goodContainer('shipper'),
            securityContext: sc,
            volumeMounts: [{ name: 'logs', mountPath: '/var/log' }],
          },
        ],
        volumes: [{ name: 'logs', hostPath: { path: '/var/log' } }],
      });
      const ok = workloadResource('DaemonSet', spec, { name: 'log-shipper', namespace: 'logging-node' });
      expect(await validateResource(podSecurityPolicy, ok)).toEqual([]);
      const privileged = {
        ...spec,
        containers: [{ ...goodContainer('shipper'), securityContext: { ...sc, privileged: true } }],
      };
      const bad = workloadResource('DaemonSet', privileged, {
        name: 'log-shipper',
        namespace: 'logging-node',
      });
      expect((await validateResource(podSecurityPolicy, bad)).map((v) => v.message)).toEqual([
        expect.stringContaining('privileged is true'),
      ]);
    });
  });
});
