/**
 * Bring your own Prometheus (issue 17): with `monitoring.prometheusOperator.enabled`, a stack that leaves out its
 * own monitoring (`monitoring.enabled: false`) gets a PodMonitor and a PrometheusRule for the cluster's
 * prometheus-operator. The real operator CRDs (v0.85.0, from the Go module proxy: the module ships them under
 * example/prometheus-operator-crd) are applied to the local API server, so the API server validates both objects
 * against the operator's own OpenAPI schema, and the real engine deploys the stack.
 *
 * The test shows the schema is in force (an interval or `for` the operator would not parse is refused by the API
 * server) and that the deployed objects select the app's pods of both slots, carry the selector labels, and hold
 * the app's alert group.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ThrowawayStack, dig, items, kubectlJson, parseObject, run, runOk } from './helpers';

jest.setTimeout(20 * 60 * 1000);

const OPERATOR_MODULE = 'github.com/prometheus-operator/prometheus-operator@v0.85.0';
const CRDS = ['podmonitors', 'prometheusrules'].map((k) => `monitoring.coreos.com_${k}.yaml`);
const NS = 'pm-byo-prom';
const SELECTOR = { release: 'kube-prometheus-stack' };

/** The object as one would apply it again: without the server's fields. */
function reapplicable(obj: Record<string, unknown>): Record<string, unknown> {
  const metadata = dig(obj, 'metadata') as Record<string, unknown>;
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: { name: metadata.name, namespace: metadata.namespace, labels: metadata.labels },
    spec: obj.spec,
  };
}

/** `kubectl apply --dry-run=server` of one object: what the API server says about it. */
async function serverDryRun(obj: Record<string, unknown>) {
  const r = await run('kubectl', ['apply', '--dry-run=server', '-f', '-', '-o', 'name'], {
    input: JSON.stringify(obj),
  });
  return { code: r.code, output: r.stdout + r.stderr };
}

describe('prometheus-operator objects for a cluster’s own Prometheus', () => {
  let stack: ThrowawayStack;

  beforeAll(async () => {
    const mod = parseObject(await runOk('go', ['mod', 'download', '-json', OPERATOR_MODULE], 10 * 60 * 1000));
    const dir = path.join(String(mod.Dir), 'example', 'prometheus-operator-crd');
    for (const crd of CRDS) {
      expect(fs.existsSync(path.join(dir, crd))).toBe(true);
      // Server-side: the CRDs are too large for the last-applied annotation of a client-side apply.
      await runOk('kubectl', ['apply', '--server-side', '--force-conflicts', '-f', path.join(dir, crd)]);
    }
    await runOk('kubectl', [
      'wait',
      '--for=condition=Established',
      '--timeout=120s',
      'crd/podmonitors.monitoring.coreos.com',
      'crd/prometheusrules.monitoring.coreos.com',
    ]);
    stack = await ThrowawayStack.create('byo-prom', 'staging', { namespace: NS });
    for (const [key, value] of [
      ['monitoring.enabled', 'false'],
      ['logging.enabled', 'false'],
      ['monitoring.prometheusOperator.enabled', 'true'],
      ['monitoring.prometheusOperator.labels.release', SELECTOR.release],
    ]) {
      await stack.pulumi(['config', 'set', '--path', `pavemaster:${key}`, value]);
    }
  });

  afterAll(async () => {
    await stack?.remove();
    // Other files share the cluster: leave no CRD (and so no object of its kinds) behind.
    for (const crd of ['podmonitors', 'prometheusrules']) {
      await run('kubectl', [
        'delete',
        'crd',
        `${crd}.monitoring.coreos.com`,
        '--ignore-not-found',
        '--wait=false',
      ]);
    }
  });

  it('deploys the app with a PodMonitor and a PrometheusRule the API server accepts, and no monitoring stack', async () => {
    await stack.pulumi(['up', '--yes', '--skip-preview'], 15 * 60 * 1000);
    const types = (await stack.resources()).map((r) => r.type);
    expect(types).toContain('pavemaster:monitoring:PrometheusOperatorObjects');
    expect(types).not.toContain('pavemaster:monitoring:Monitoring');

    const monitor = await kubectlJson(['get', 'podmonitor', 'pavemaster', '-n', NS]);
    expect(dig(monitor, 'metadata', 'labels', 'release')).toBe(SELECTOR.release);
    expect(dig(monitor, 'spec', 'selector', 'matchLabels')).toEqual({ app: 'pavemaster' });
    const endpoint = (dig(monitor, 'spec', 'podMetricsEndpoints') as Record<string, unknown>[])[0];
    expect({ port: endpoint.port, path: endpoint.path, interval: endpoint.interval }).toEqual({
      port: 'http',
      path: '/metrics',
      interval: '30s',
    });
    const targets = (endpoint.relabelings as Record<string, unknown>[]).map((r) => r.targetLabel);
    expect(targets).toEqual(['app', 'slot', 'version', 'pod', 'namespace']);

    // The selector picks the pods of both slots (the release analysis compares them), and only the app's.
    const pods = items(await kubectlJson(['get', 'pods', '-n', NS, '-l', 'app=pavemaster']));
    const slots = new Set(pods.map((p) => String(dig(p, 'metadata', 'labels', 'slot'))));
    expect([...slots].sort()).toEqual(['blue', 'green']);
    for (const p of pods) {
      const ports = (dig(p, 'spec', 'containers') as Record<string, unknown>[]).flatMap(
        (c) => (c.ports as Record<string, unknown>[] | undefined) ?? [],
      );
      expect(ports.map((x) => x.name)).toContain('http');
    }

    const rule = await kubectlJson(['get', 'prometheusrule', 'pavemaster', '-n', NS]);
    expect(dig(rule, 'metadata', 'labels', 'release')).toBe(SELECTOR.release);
    const groups = dig(rule, 'spec', 'groups') as { name: string; rules: Record<string, unknown>[] }[];
    expect(groups.map((g) => g.name)).toEqual(['pavemaster-app']);
    expect(groups[0].rules.length).toBeGreaterThan(2);
    for (const r of groups[0].rules) {
      expect(String(r.expr)).toContain(`namespace="${NS}"`);
      expect(dig(r, 'annotations', 'runbook_url')).toMatch(/#pavemaster/);
    }
    // No monitoring namespace of the stack's own.
    const own = await run('kubectl', ['get', 'namespace', `${NS}-monitoring`]);
    expect(own.code).not.toBe(0);
  });

  it('is validated against the operator’s schema: what the operator could not parse is refused', async () => {
    const monitor = reapplicable(await kubectlJson(['get', 'podmonitor', 'pavemaster', '-n', NS]));
    expect(await serverDryRun(monitor)).toMatchObject({ code: 0 });
    const badMonitor = JSON.parse(JSON.stringify(monitor)) as {
      spec: { podMetricsEndpoints: { interval: string }[] };
    };
    badMonitor.spec.podMetricsEndpoints[0].interval = '15 seconds';
    const refused = await serverDryRun(badMonitor);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(/spec\.podMetricsEndpoints\[0\]\.interval/);

    const rule = reapplicable(await kubectlJson(['get', 'prometheusrule', 'pavemaster', '-n', NS]));
    expect(await serverDryRun(rule)).toMatchObject({ code: 0 });
    const badRule = JSON.parse(JSON.stringify(rule)) as { spec: { groups: { rules: { for?: string }[] }[] } };
    badRule.spec.groups[0].rules[0].for = 'five minutes';
    const refusedRule = await serverDryRun(badRule);
    expect(refusedRule.code).not.toBe(0);
    expect(refusedRule.output).toMatch(/spec\.groups\[0\]\.rules\[0\]\.for/);
  });
});
