/**
 * Bring your own Prometheus (prometheus-operator, as kube-prometheus and kube-prometheus-stack run it): the
 * objects the operator turns into scrape configuration and rules, so a team's own Prometheus watches the app the
 * way the stack's own one does.
 *
 * - A PodMonitor, not a ServiceMonitor: blue/green routes each Service to one slot, but the release analysis, the
 *   dashboards and the alerts compare both slots, so both slots' pods are scraped. It selects the app's pods by
 *   their `app` label on their `http` port and metrics path, and copies the `app`, `slot` and `version` pod
 *   labels onto every series, exactly as the stack's own `kubernetes-pods` job does (prometheusConfig.ts).
 * - A PrometheusRule with the app's alert group (`pavemaster-app` of rules.ts: error rate, latency, availability
 *   per slot). The platform, monitoring and probe groups watch the stack's own Prometheus, Alertmanager, exporters
 *   and blackbox probes, which a team that brings its own runs and alerts on itself (kube-prometheus ships rules
 *   for nodes, volumes and targets).
 *
 * Both carry the labels the operator's `podMonitorSelector` and `ruleSelector` match (kube-prometheus-stack:
 * `release: <its release name>`). The operator's Prometheus must be let in to the app's pods: `pavemaster:ingressFrom`
 * with its namespace (docs/monitoring.md). The objects are validated by the API server against the operator's CRDs
 * (test/integration/prometheusOperator.int.test.ts applies the real v0.85.0 CRDs).
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ArgChecks, throwIfInvalid } from '../shared/args';
import { APP_LABEL, SLOT_LABEL } from '../shared/slots';
import { checkDnsLabel, checkHttpPath, checkLabelKey, checkLabelValue } from '../shared/checks';
import { RuleGroup } from './rules';
import { PROMETHEUS_OPERATOR_DEFAULTS } from './options';

export { PROMETHEUS_OPERATOR_DEFAULTS } from './options';

/** What a stack decides about the objects (`pavemaster:monitoring.prometheusOperator`). */
export interface PrometheusOperatorOptions {
  /** Create the PodMonitor and PrometheusRule (the cluster runs prometheus-operator and its CRDs). @default false */
  readonly enabled?: boolean;
  /** Labels on both objects, for the operator's `podMonitorSelector` / `ruleSelector`. @default none */
  readonly labels?: Readonly<Record<string, string>>;
  /** How often the operator's Prometheus scrapes the app's pods (a Prometheus duration). @default "30s" */
  readonly interval?: string;
}

export interface PrometheusOperatorObjectsArgs {
  /** The app's namespace: both objects live there, beside what they describe. Required. */
  readonly namespace: string;
  /** The app's name: the `app` label of its pods, and the objects' name. Required. */
  readonly appName: string;
  /** The path the app serves its metrics on. @default "/metrics" */
  readonly metricsPath?: string;
  /** The name of the app container's port that serves the metrics. @default "http" */
  readonly portName?: string;
  /** Labels on both objects (the operator's selectors). @default none */
  readonly labels?: Readonly<Record<string, string>>;
  /** The scrape interval (a Prometheus duration). @default "30s" */
  readonly interval?: string;
  /** The rule groups of the PrometheusRule. Required (at least one). */
  readonly ruleGroups: readonly RuleGroup[];
}

// The operator's own duration pattern (monitoring.coreos.com Duration): units from years to milliseconds.
const DURATION =
  /^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/;

/** Every problem with the arguments, all at once. Exported for tests. */
export function checkPrometheusOperatorArgs(a: PrometheusOperatorObjectsArgs) {
  const c = new ArgChecks();
  c.check('namespace', a.namespace, (v) => checkDnsLabel(v));
  c.check('appName', a.appName, (v) => checkDnsLabel(v));
  c.check('metricsPath', a.metricsPath, checkHttpPath);
  c.check('portName', a.portName, (v) =>
    /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/.test(v) ? undefined : 'a port name (IANA_SVC_NAME)',
  );
  c.check('interval', a.interval, (v) =>
    DURATION.test(v) && !/^0+[a-z]*$/.test(v)
      ? undefined
      : 'a Prometheus duration greater than zero, e.g. "30s"',
  );
  for (const [k, v] of Object.entries(a.labels ?? {})) {
    c.check(`labels.${k}`, k, checkLabelKey);
    c.check(`labels.${k}`, v, checkLabelValue);
  }
  if (a.ruleGroups.length === 0) {
    c.fail('ruleGroups', a.ruleGroups, 'at least one rule group');
  }
  return c.problems;
}

/** The PodMonitor's spec. Exported for tests. */
export function podMonitorSpec(a: Required<Omit<PrometheusOperatorObjectsArgs, 'ruleGroups' | 'labels'>>) {
  const copy = (label: string) => ({
    sourceLabels: [`__meta_kubernetes_pod_label_${label}`],
    regex: '(.+)',
    targetLabel: label,
    action: 'replace',
  });
  return {
    selector: { matchLabels: { [APP_LABEL]: a.appName } },
    namespaceSelector: { matchNames: [a.namespace] },
    podMetricsEndpoints: [
      {
        port: a.portName,
        path: a.metricsPath,
        interval: a.interval,
        // The names the stack's own Prometheus gives (prometheusConfig.ts), so the same queries work.
        relabelings: [
          copy(APP_LABEL),
          copy(SLOT_LABEL),
          copy('version'),
          { sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'pod', action: 'replace' },
          { sourceLabels: ['__meta_kubernetes_namespace'], targetLabel: 'namespace', action: 'replace' },
        ],
      },
    ],
  };
}

/** The PrometheusRule's spec: the groups as the operator's schema spells them. Exported for tests. */
export function prometheusRuleSpec(groups: readonly RuleGroup[]) {
  return {
    groups: groups.map((g) => ({
      name: g.name,
      ...(g.interval !== undefined ? { interval: g.interval } : {}),
      rules: g.rules.map((r) => ({
        alert: r.alert,
        expr: r.expr,
        ...(r.for !== undefined ? { for: r.for } : {}),
        labels: r.labels,
        annotations: r.annotations,
      })),
    })),
  };
}

/** The PodMonitor and PrometheusRule of the app, for a cluster's own prometheus-operator. */
export class PrometheusOperatorObjects extends pulumi.ComponentResource {
  /** The PodMonitor's name. */
  readonly podMonitorName: pulumi.Output<string>;
  /** The PrometheusRule's name. */
  readonly prometheusRuleName: pulumi.Output<string>;

  constructor(name: string, args: PrometheusOperatorObjectsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('pavemaster:monitoring:PrometheusOperatorObjects', name, {}, opts);
    throwIfInvalid('PrometheusOperatorObjects', checkPrometheusOperatorArgs(args));
    const a = {
      metricsPath: '/metrics',
      portName: 'http',
      interval: PROMETHEUS_OPERATOR_DEFAULTS.interval,
      ...args,
    };
    const labels = {
      'app.kubernetes.io/name': a.appName,
      'app.kubernetes.io/component': 'monitoring',
      'app.kubernetes.io/managed-by': 'pulumi',
      ...(a.labels ?? {}),
    };
    const metadata = { name: a.appName, namespace: a.namespace, labels };
    const podMonitor = new k8s.apiextensions.CustomResource(
      `${name}-podmonitor`,
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PodMonitor',
        metadata,
        spec: podMonitorSpec(a),
      },
      { parent: this },
    );
    const rule = new k8s.apiextensions.CustomResource(
      `${name}-rules`,
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        metadata,
        spec: prometheusRuleSpec(a.ruleGroups),
      },
      { parent: this },
    );
    this.podMonitorName = podMonitor.metadata.name;
    this.prometheusRuleName = rule.metadata.name;
    this.registerOutputs({
      podMonitorName: this.podMonitorName,
      prometheusRuleName: this.prometheusRuleName,
    });
  }
}
