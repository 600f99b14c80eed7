import * as fs from 'fs';
import * as path from 'path';
import { EngineEventLike } from '../../../release/events';
import { getPath, renderMarkdown, summarizePreview, trafficLine } from '../../../release/markdown';

const SERVICE = 'kubernetes:core/v1:Service';
const URN = 'urn:pulumi:it::pavemaster::pavemaster:app:BlueGreenApp$kubernetes:core/v1:Service::';

function serviceStep(name: string, metaName: string, from: string, to: string): EngineEventLike {
  const inputs = (slot: string) => ({
    metadata: { name: metaName, namespace: 'ns' },
    spec: { selector: { app: 'pavemaster', slot }, type: 'ClusterIP' },
  });
  return {
    resourcePreEvent: {
      metadata: {
        op: 'update',
        urn: `${URN}${name}`,
        type: SERVICE,
        old: { type: SERVICE, urn: `${URN}${name}`, inputs: inputs(from) },
        new: { type: SERVICE, urn: `${URN}${name}`, inputs: inputs(to) },
        diffs: ['spec'],
        detailedDiff: { 'spec.selector.slot': { diffKind: 'update', inputDiff: true } },
      },
    },
  };
}

function same(type: string, name: string): EngineEventLike {
  return {
    resourcePreEvent: { metadata: { op: 'same', urn: `urn:pulumi:it::pavemaster::${type}::${name}`, type } },
  };
}

describe('summarizePreview / renderMarkdown', () => {
  const promote: EngineEventLike[] = [
    same('pulumi:pulumi:Stack', 'pavemaster-it'),
    same('pulumi:providers:kubernetes', 'default'),
    same('kubernetes:apps/v1:Deployment', 'pavemaster-blue'),
    same('kubernetes:apps/v1:Deployment', 'pavemaster-green'),
    serviceStep('pavemaster-active', 'pavemaster', 'blue', 'green'),
    serviceStep('pavemaster-preview', 'pavemaster-preview', 'green', 'blue'),
    { summaryEvent: { resourceChanges: { same: 4, update: 2 } } },
  ];

  it('shows the traffic move and only the two selector changes of a promote', () => {
    const report = summarizePreview(promote);
    expect(report.counts).toEqual({ same: 2, update: 2 });
    expect(report.traffic).toEqual([
      { service: 'pavemaster', from: 'blue', to: 'green' },
      { service: 'pavemaster-preview', from: 'green', to: 'blue' },
    ]);
    expect(trafficLine(report)).toBe('traffic: blue -> green');
    expect(report.changes.map((c) => [c.name, c.fields.map((f) => f.path)])).toEqual([
      ['pavemaster-active', ['spec.selector.slot']],
      ['pavemaster-preview', ['spec.selector.slot']],
    ]);
    const md = renderMarkdown(report, { stack: 'it' });
    expect(md).toContain('**traffic: blue -> green**');
    expect(md).toContain('update: 2 · same: 2');
    expect(md).toContain('`spec.selector.slot`: `"blue"` → `"green"`');
    expect(md).not.toContain('WARNING');
  });

  it('warns at the top when a protected or stateful resource would be replaced or deleted', () => {
    const pvc = 'kubernetes:core/v1:PersistentVolumeClaim';
    const events: EngineEventLike[] = [
      {
        resourcePreEvent: {
          metadata: {
            op: 'replace',
            urn: `urn:pulumi:p::pavemaster::${pvc}::es-data`,
            type: pvc,
            old: { type: pvc, urn: 'x', inputs: { spec: { storageClassName: 'a' } } },
            new: { type: pvc, urn: 'x', inputs: { spec: { storageClassName: 'b' } } },
            detailedDiff: { 'spec.storageClassName': { diffKind: 'update-replace', inputDiff: true } },
          },
        },
      },
      {
        resourcePreEvent: {
          metadata: {
            op: 'delete',
            urn: 'urn:pulumi:p::pavemaster::kubernetes:apps/v1:Deployment::pavemaster-blue',
            type: 'kubernetes:apps/v1:Deployment',
            old: { type: 'kubernetes:apps/v1:Deployment', urn: 'y', protect: true, inputs: {} },
          },
        },
      },
    ];
    const report = summarizePreview(events);
    expect(report.warnings).toEqual([
      'stateful resource es-data (kubernetes:core/v1:PersistentVolumeClaim) would be replaced',
      'protected resource pavemaster-blue (kubernetes:apps/v1:Deployment) would be deleted',
    ]);
    const md = renderMarkdown(report);
    const firstTable = md.indexOf('| op |');
    expect(md.indexOf('> [!WARNING]')).toBeGreaterThan(0);
    expect(md.indexOf('> [!WARNING]')).toBeLessThan(firstTable);
    expect(md).toContain('| replace | `es-data` |');
    expect(md).toContain('| delete | `pavemaster-blue` 🔒 |');
    expect(trafficLine(report)).toBeUndefined();
  });

  it('says so when nothing changes', () => {
    const md = renderMarkdown(summarizePreview([same('kubernetes:apps/v1:Deployment', 'd')]));
    expect(md).toContain('No changes.');
    expect(md).not.toContain('traffic:');
  });

  it('reads property paths with indexes', () => {
    expect(getPath({ spec: { ports: [{ port: 80 }] } }, 'spec.ports[0].port')).toBe(80);
    expect(getPath({ spec: {} }, 'spec.ports[0].port')).toBeUndefined();
  });

  // Recorded from the real engine (`release promote <stack> --preview` on the local cluster): see fixtures/.
  const recorded = path.join(__dirname, 'fixtures', 'promote-preview.events.json');
  it('renders the recorded engine events of a real promote preview: traffic line, selectors only', () => {
    const events = JSON.parse(fs.readFileSync(recorded, 'utf8')) as EngineEventLike[];
    const report = summarizePreview(events);
    expect(trafficLine(report)).toBe('traffic: blue -> green');
    expect(report.warnings).toEqual([]);
    expect(report.changes.every((c) => c.type === SERVICE && c.op === 'update')).toBe(true);
    expect(report.changes).toHaveLength(2);
    for (const c of report.changes) {
      expect(c.fields.map((f) => f.path)).toEqual(['spec.selector.slot']);
    }
  });
});
