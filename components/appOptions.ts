/**
 * BlueGreenApp's defaults and checks (components/BlueGreenApp.ts declares the options, with their docs), without
 * the Pulumi SDK: the stack readers (stacks/app.ts) and so the release command apply and check them without
 * loading it. BlueGreenApp.ts re-exports them.
 */
import type { BlueGreenAppOptions, ResolvedBlueGreenAppOptions } from './BlueGreenApp';
import { ArgChecks, ArgProblem, withDefaults } from './shared/args';
import { checkDnsLabel, checkUnprivilegedPort, checkWholeNumber } from './shared/checks';
import { checkNetworkPeer } from './shared/peers';
import { DEFAULT_SLOT, isSlot, SLOTS } from './shared/slots';

/**
 * The range of `progressDeadlineSeconds`: below half a minute an image pull alone fails a healthy rollout; above
 * an hour a stuck one holds the release (whose readiness wait stops at an hour too) for nothing.
 */
export const MIN_PROGRESS_DEADLINE_SECONDS = 30;
export const MAX_PROGRESS_DEADLINE_SECONDS = 3600;

/** The defaults of every option that has a fixed one (appName and idleReplicas follow from other values). */
export const BLUE_GREEN_APP_DEFAULTS: Omit<ResolvedBlueGreenAppOptions, 'appName' | 'idleReplicas'> = {
  activeSlot: DEFAULT_SLOT,
  replicas: 2,
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
  port: 8080,
  healthPath: '/healthz',
  readyPath: '/readyz',
  metricsPath: '/metrics',
  env: {},
  secretEnv: {},
  awaitIngress: false,
  antiAffinity: 'preferred',
  pdbMaxUnavailable: 1,
  progressDeadlineSeconds: 600,
  serviceType: 'ClusterIP',
  ingressFrom: [],
  egress: [],
  protect: false,
};

/** Applies the defaults, once. `name` is the component's name (the default app name). */
export function resolveBlueGreenAppOptions(
  name: string,
  o: BlueGreenAppOptions,
): ResolvedBlueGreenAppOptions {
  const base = withDefaults(BLUE_GREEN_APP_DEFAULTS, o);
  return {
    ...base,
    appName: o.appName ?? name,
    idleReplicas: o.idleReplicas ?? base.replicas,
    host: o.host,
    tlsSecretName: o.tlsSecretName,
    ingressClassName: o.ingressClassName,
  };
}

/** The component's own invariants; every problem at once, each named by its argument path. */
export function checkBlueGreenAppOptions(a: ResolvedBlueGreenAppOptions): ArgProblem[] {
  const c = new ArgChecks();
  if (!isSlot(a.activeSlot)) {
    c.fail('activeSlot', a.activeSlot, `one of ${SLOTS.map((slot) => `"${slot}"`).join(', ')}`);
  }
  c.check('appName', a.appName, (v) => checkDnsLabel(v, 50));
  c.check('replicas', a.replicas, (v) => checkWholeNumber(v, 1));
  c.check('idleReplicas', a.idleReplicas, (v) => checkWholeNumber(v, 0, a.replicas));
  c.check('port', a.port, checkUnprivilegedPort);
  c.check('pdbMaxUnavailable', a.pdbMaxUnavailable, (v) =>
    checkWholeNumber(v, 1) === undefined
      ? undefined
      : 'a whole number of at least 1 (zero blocks every node drain)',
  );
  c.check('progressDeadlineSeconds', a.progressDeadlineSeconds, (v) =>
    checkWholeNumber(v, MIN_PROGRESS_DEADLINE_SECONDS, MAX_PROGRESS_DEADLINE_SECONDS) === undefined
      ? undefined
      : `a whole number from ${MIN_PROGRESS_DEADLINE_SECONDS} to ${MAX_PROGRESS_DEADLINE_SECONDS} (seconds a rollout may go without progress before Kubernetes marks it failed)`,
  );
  a.ingressFrom.forEach((peer, i) =>
    checkNetworkPeer(c, `ingressFrom[${i}]`, peer, { podLabelsAlone: false }),
  );
  a.egress.forEach((peer, i) => {
    checkNetworkPeer(c, `egress[${i}]`, peer, { podLabelsAlone: true });
    if (!Array.isArray(peer.ports) || peer.ports.length === 0) {
      c.fail(`egress[${i}].ports`, peer.ports, 'at least one port');
    } else {
      peer.ports.forEach((port, j) =>
        c.check(`egress[${i}].ports[${j}]`, port, (v) =>
          Number.isInteger(v) && v >= 1 && v <= 65535 ? undefined : 'a port from 1 to 65535',
        ),
      );
    }
    if (peer.protocol !== undefined && peer.protocol !== 'TCP' && peer.protocol !== 'UDP') {
      c.fail(`egress[${i}].protocol`, peer.protocol, 'one of "TCP", "UDP"');
    }
  });
  return [...c.problems];
}
