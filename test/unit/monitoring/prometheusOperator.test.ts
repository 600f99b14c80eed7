/**
 * `pavemaster:monitoring.prometheusOperator` (issue 17, bring your own Prometheus): the program itself (mocks)
 * registers a PodMonitor and a PrometheusRule for the cluster's prometheus-operator only when asked, also without
 * the stack's own monitoring, with what the operator's Prometheus needs to watch the app as the stack's own one does;
 * a bad setting is refused with the key, the value and what is allowed, every problem at once. The real API server
 * validating the objects against the operator's CRDs: test/integration/prometheusOperator.int.test.ts.
 */
import {
  checkPrometheusOperatorArgs,
  prometheusRuleSpec,
} from '../../../components/monitoring/PrometheusOperatorObjects';
import {
  alertRuleGroups,
  ALERT_THRESHOLD_DEFAULTS,
  APP_RULE_GROUP,
} from '../../../components/monitoring/rules';
import { ConfigError } from '../../../stacks/problems';
import { loadSettings } from '../../../stacks/settings';
import { at, ofType, recordStack } from '../../support/harness';
import { stackConfig } from '../../support/stackConfig';

const COMPONENT = 'pavemaster:monitoring:PrometheusOperatorObjects';
const POD_MONITOR = 'kubernetes:monitoring.coreos.com/v1:PodMonitor';
const RULE = 'kubernetes:monitoring.coreos.com/v1:PrometheusRule';

/** The stack's committed config with `monitoring` (an object) merged with `extra`. */
function withMonitoring(stack: string, extra: Record<string, unknown>, more: Record<string, unknown> = {}) {
  const base = stackConfig(stack);
  const monitoring =
    base.monitoring !== undefined ? (JSON.parse(base.monitoring) as Record<string, unknown>) : {};
  return stackConfig(stack, { ...more, monitoring: { ...monitoring, ...extra } });
}

function problemsOf(raw: Record<string, string>): string[] {
  try {
    loadSettings('staging', raw);
  } catch (e) {
    if (e instanceof ConfigError) {
      return e.problems.map((p) => `${p.key} = ${JSON.stringify(p.value)}`);
    }
    throw e;
  }
  return [];
}

describe.each(['staging', 'production'])('%s', (stack) => {
  it('registers no operator object by default (the render baseline stays as it was)', async () => {
    const { resources } = await recordStack(stack, stackConfig(stack));
    expect(ofType(resources, COMPONENT)).toEqual([]);
    expect(resources.filter((r) => r.type.startsWith('kubernetes:monitoring.coreos.com/'))).toEqual([]);
  });
});

describe('monitoring.prometheusOperator.enabled', () => {
  it('a PodMonitor over both slots and a PrometheusRule with the app group, without the stack’s own monitoring', async () => {
    const { resources, settings } = await recordStack(
      'staging',
      withMonitoring(
        'staging',
        {
          enabled: false,
          prometheusOperator: { enabled: true, labels: { release: 'kps' }, interval: '15s' },
        },
        { logging: { enabled: false } },
      ),
    );
    expect(ofType(resources, 'pavemaster:monitoring:Monitoring')).toEqual([]);
    const [component] = ofType(resources, COMPONENT);
    expect(component.name).toBe('prometheus-operator');
    const [monitor] = ofType(resources, POD_MONITOR);
    const [rule] = ofType(resources, RULE);
    for (const r of [monitor, rule]) {
      expect(r.parent).toEqual({ type: COMPONENT, name: 'prometheus-operator' });
      expect(at(r.inputs, 'metadata.namespace')).toBe(settings.namespace);
      expect(at(r.inputs, 'metadata.labels.release')).toBe('kps');
    }
    expect(at(monitor.inputs, 'spec.selector.matchLabels')).toEqual({ app: settings.app.appName });
    expect(at(monitor.inputs, 'spec.namespaceSelector.matchNames')).toEqual([settings.namespace]);
    expect(at(monitor.inputs, 'spec.podMetricsEndpoints.0.port')).toBe('http');
    expect(at(monitor.inputs, 'spec.podMetricsEndpoints.0.path')).toBe(settings.app.metricsPath);
    expect(at(monitor.inputs, 'spec.podMetricsEndpoints.0.interval')).toBe('15s');
    const relabel = at(monitor.inputs, 'spec.podMetricsEndpoints.0.relabelings') as {
      sourceLabels: string[];
      targetLabel: string;
    }[];
    expect(relabel.map((r) => `${r.sourceLabels[0]} -> ${r.targetLabel}`)).toEqual([
      '__meta_kubernetes_pod_label_app -> app',
      '__meta_kubernetes_pod_label_slot -> slot',
      '__meta_kubernetes_pod_label_version -> version',
      '__meta_kubernetes_pod_name -> pod',
      '__meta_kubernetes_namespace -> namespace',
    ]);
    const groups = at(rule.inputs, 'spec.groups') as {
      name: string;
      rules: { alert: string; for?: string }[];
    }[];
    expect(groups.map((g) => g.name)).toEqual([APP_RULE_GROUP]);
    const own = alertRuleGroups({
      appNamespace: settings.namespace,
      appName: settings.app.appName,
      thresholds: settings.monitoring.thresholds,
      runbookBase: settings.monitoring.runbookBaseUrl,
    }).find((g) => g.name === APP_RULE_GROUP);
    expect(groups[0].rules.map((r) => r.alert)).toEqual(own?.rules.map((r) => r.alert));
  });

  it('defaults the interval to the scrape interval, and lives beside the stack’s own monitoring when both are on', async () => {
    const { resources } = await recordStack(
      'staging',
      withMonitoring('staging', { scrapeInterval: '20s', prometheusOperator: { enabled: true } }),
    );
    expect(ofType(resources, 'pavemaster:monitoring:Monitoring')).toHaveLength(1);
    const [monitor] = ofType(resources, POD_MONITOR);
    expect(at(monitor.inputs, 'spec.podMetricsEndpoints.0.interval')).toBe('20s');
  });

  it('refuses a bad setting with the key and the value, every problem at once', () => {
    expect(
      problemsOf(
        withMonitoring('staging', {
          prometheusOperator: {
            enabled: 'yes',
            interval: '15 seconds',
            labels: { 'bad key!': 'x', release: 'a b' },
          },
        }),
      ),
    ).toEqual([
      'pavemaster:monitoring.prometheusOperator.enabled = "yes"',
      'pavemaster:monitoring.prometheusOperator.labels.bad key! = "bad key!"',
      'pavemaster:monitoring.prometheusOperator.labels.release = "a b"',
      'pavemaster:monitoring.prometheusOperator.interval = "15 seconds"',
    ]);
    expect(problemsOf(withMonitoring('staging', { prometheusOperator: { enabeld: true } }))).toEqual([
      'pavemaster:monitoring.prometheusOperator.enabeld = true',
    ]);
  });

  it('the component checks its own arguments, every problem at once', () => {
    expect(
      checkPrometheusOperatorArgs({
        namespace: 'Bad_NS',
        appName: 'web',
        metricsPath: 'metrics',
        interval: '0s',
        labels: { release: 'a b' },
        ruleGroups: [],
      }).map((p) => p.path),
    ).toEqual(['namespace', 'metricsPath', 'interval', 'labels.release', 'ruleGroups']);
  });

  it('spells the rules as the operator’s schema does (for only where the rule has one)', () => {
    const groups = alertRuleGroups({
      appNamespace: 'ns',
      appName: 'web',
      thresholds: ALERT_THRESHOLD_DEFAULTS,
      runbookBase: 'docs/runbooks.md',
    });
    const spec = prometheusRuleSpec(groups);
    expect(spec.groups.map((g) => g.rules.length)).toEqual(groups.map((g) => g.rules.length));
    for (const [i, g] of spec.groups.entries()) {
      for (const [j, r] of g.rules.entries()) {
        expect(Object.keys(r).sort()).toEqual(
          [
            'alert',
            'annotations',
            'expr',
            'labels',
            ...(groups[i].rules[j].for !== undefined ? ['for'] : []),
          ].sort(),
        );
      }
    }
  });
});
