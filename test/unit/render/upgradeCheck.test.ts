/**
 * The parts of scripts/upgrade-check (scripts/upgrade-check-steps.ts) that decide what it reports, without a cluster: which settings the newer
 * tree gets, how a preview's steps are counted (replacements with the properties forcing them, Job re-runs, new
 * providers, protected deletions), which objects the API server recreated, and the command line. The engine run
 * itself is the script's (README, "Changing the code's structure").
 */
import { parse } from 'yaml';
import {
  isJob,
  objectUids,
  parseArgs,
  previewOps,
  upgradedStackFile,
} from '../../../scripts/upgrade-check-steps';

describe('the newer tree’s stack file', () => {
  const base = [
    '# a comment the check keeps when nothing is added',
    'config:',
    '  pavemaster:environment: production',
    '  pavemaster:replicas: 3',
    'encryptionsalt: v1:abc',
    '',
  ].join('\n');

  it('is the base file itself when the newer one adds no key', () => {
    const newer = 'config:\n  pavemaster:environment: production\n  pavemaster:replicas: 5\n';
    expect(upgradedStackFile(base, newer)).toEqual({ text: base, added: [] });
  });

  it('keeps every base value and adds only the keys the newer file alone has, naming them', () => {
    const newer = [
      'config:',
      '  pavemaster:replicas: 5',
      '  pavemaster:kubernetes:',
      '    context: kwok-pavemaster',
      '    cluster: kwok-pavemaster',
      '',
    ].join('\n');
    const out = upgradedStackFile(base, newer);
    expect(out.added).toEqual(['pavemaster:kubernetes']);
    expect(parse(out.text)).toEqual({
      config: {
        'pavemaster:environment': 'production',
        'pavemaster:replicas': 3,
        'pavemaster:kubernetes': { context: 'kwok-pavemaster', cluster: 'kwok-pavemaster' },
      },
      encryptionsalt: 'v1:abc',
    });
  });
});

describe('the preview’s steps', () => {
  const stack = 'urn:pulumi:staging::pavemaster::';
  const configMap = `${stack}pavemaster:monitoring:Monitoring$pavemaster:monitoring:Grafana$kubernetes:core/v1:ConfigMap::monitoring-grafana-dashboards`;
  const job = `${stack}pavemaster:logging:Logging$pavemaster:logging:Kibana$kubernetes:batch/v1:Job::logging-kibana-setup-job`;
  const statefulSet = `${stack}pavemaster:logging:Logging$pavemaster:logging:Elasticsearch$kubernetes:apps/v1:StatefulSet::logging-elasticsearch-statefulset`;
  const steps = [
    { op: 'same', urn: `${stack}pulumi:pulumi:Stack::pavemaster-staging` },
    { op: 'create', urn: `${stack}pulumi:providers:kubernetes::kubernetes` },
    { op: 'replace', urn: configMap, replaceReasons: ['data'] },
    { op: 'replace', urn: job, replaceReasons: ['spec.template'] },
    { op: 'update', urn: statefulSet },
    { op: 'delete', urn: `${statefulSet}-old`, oldState: { protect: true } },
  ];

  it('names each replacement with the properties forcing it, a Job apart as a re-run', () => {
    const ops = previewOps(JSON.stringify({ steps }));
    expect(ops.replacements).toEqual([
      { urn: configMap, reasons: ['data'] },
      { urn: job, reasons: ['spec.template'] },
    ]);
    expect(ops.reruns).toEqual([job]);
    expect(ops.newProviders).toEqual([`${stack}pulumi:providers:kubernetes::kubernetes`]);
    expect(ops.disturbing).toEqual([`replace ${configMap}`, `delete ${statefulSet}-old`]);
    expect(ops.protectedDeletions).toEqual([`delete ${statefulSet}-old`]);
    expect(ops.counts).toEqual({ replace: 2, update: 1, delete: 1 });
  });

  it('takes a Job below a component and at the top of the stack for a Job, nothing else', () => {
    expect(isJob(job)).toBe(true);
    expect(isJob(`${stack}kubernetes:batch/v1:Job::migrate`)).toBe(true);
    expect(isJob(configMap)).toBe(false);
    expect(isJob(`${stack}kubernetes:batch/v1:CronJob::nightly`)).toBe(false);
  });
});

describe('the objects the API server recreated', () => {
  it('keys Kubernetes objects by type and id with their uid and protection, nothing else', () => {
    const uids = objectUids([
      {
        urn: 'a',
        type: 'kubernetes:apps/v1:StatefulSet',
        id: 'logging/es',
        protect: true,
        outputs: { metadata: { uid: 'u1' } },
      },
      {
        urn: 'b',
        type: 'kubernetes:core/v1:ConfigMap',
        id: 'logging/cm',
        outputs: { metadata: { uid: 'u2' } },
      },
      { urn: 'c', type: 'random:index/randomPassword:RandomPassword', id: 'x', outputs: {} },
      { urn: 'd', type: 'pavemaster:logging:Logging' },
    ]);
    expect([...uids]).toEqual([
      ['kubernetes:apps/v1:StatefulSet logging/es', { uid: 'u1', protect: true }],
      ['kubernetes:core/v1:ConfigMap logging/cm', { uid: 'u2', protect: false }],
    ]);
  });
});

describe('the command line', () => {
  it('takes a base revision, --to anywhere, and stacks (both by default)', () => {
    expect(parseArgs(['b42db1c'])).toEqual({ rev: 'b42db1c', stacks: ['staging', 'production'] });
    expect(parseArgs(['b42db1c', '--to', '1282bd6', 'production'])).toEqual({
      rev: 'b42db1c',
      to: '1282bd6',
      stacks: ['production'],
    });
    expect(parseArgs(['--to', 'main', '1282bd6', 'staging'])).toEqual({
      rev: '1282bd6',
      to: 'main',
      stacks: ['staging'],
    });
  });

  it('refuses a missing revision, a --to without one, and an unknown stack', () => {
    expect(parseArgs([])).toBeUndefined();
    expect(parseArgs(['b42db1c', '--to'])).toBeUndefined();
    expect(parseArgs(['b42db1c', '--to', '--x'])).toBeUndefined();
    expect(parseArgs(['b42db1c', 'prod'])).toBeUndefined();
  });
});
