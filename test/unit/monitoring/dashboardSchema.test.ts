/**
 * The generated dashboards are in the schema the deployed Grafana writes (issue 17). No Grafana can be built or
 * run here, and Grafana publishes its dashboard schema as TypeScript types only (@grafana/schema, generated from
 * its CUE kinds; no JSON Schema), so this is a type check: every dashboard of both the stack's own Grafana and the
 * sidecar ConfigMaps is written out as a TypeScript object literal and checked by the TypeScript compiler with
 * `satisfies Dashboard` against the raw, CUE-generated dashboard type of the @grafana/schema release that matches
 * the pinned Grafana image. An object literal gets excess-property checks, so a misspelled or unknown field fails
 * as well as a wrong type or a missing required one (the negative cases show each).
 *
 * What a type check cannot see: panel options typed by string enums in the panel plugins' own schemas (timeseries
 * legend modes, ...) are `Record<string, unknown>` in the dashboard type, and values inside strings (PromQL, units)
 * are not checked here (tools.test.ts parses every query with promtool).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { DASHBOARD_SCHEMA_VERSION } from '../../../components/monitoring/dashboard';
import { allDashboards } from '../../../components/monitoring/dashboards';
import { sidecarDashboard } from '../../../components/monitoring/GrafanaSidecarObjects';
import { MONITORING_IMAGES } from '../../../components/versions';
import { imageTag } from '../../../components/shared/image';
import { REPO } from '../../support/stackConfig';

jest.setTimeout(120 * 1000);

const SCHEMA_DIR = path.dirname(require.resolve('@grafana/schema/package.json'));
/** The raw dashboard types, generated from Grafana's CUE kind (the veneer on top only loosens or renames). */
const DASHBOARD_TYPES = path.join(SCHEMA_DIR, 'dist', 'types', 'raw', 'dashboard', 'x', 'types.gen');
const VIRTUAL = path.join(REPO, 'test', 'unit', 'monitoring', '__generated_dashboards__.ts');

const OPTIONS: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.CommonJS,
  moduleResolution: ts.ModuleResolutionKind.Node10,
  skipLibCheck: true,
  types: [],
};

/** The compiler's messages about `dashboards` written as `satisfies Dashboard` literals (none: they conform). */
function typeCheck(dashboards: Record<string, unknown>): string[] {
  const source = [
    `import type { Dashboard } from ${JSON.stringify(DASHBOARD_TYPES)};`,
    ...Object.entries(dashboards).map(
      ([name, d], i) => `// ${name}\nexport const d${i} = ${JSON.stringify(d, null, 1)} satisfies Dashboard;`,
    ),
  ].join('\n');
  const host = ts.createCompilerHost(OPTIONS);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (file, version, onError) =>
    file === VIRTUAL ? ts.createSourceFile(file, source, version) : getSourceFile(file, version, onError);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (file) => file === VIRTUAL || fileExists(file);
  const program = ts.createProgram([VIRTUAL], OPTIONS, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file !== undefined && d.start !== undefined) {
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      return `${path.basename(d.file.fileName)}:${line + 1}: ${text}`;
    }
    return text;
  });
}

const own = allDashboards({ appNamespace: 'pavemaster-staging', appName: 'pavemaster' });

describe('the generated dashboards against Grafana’s dashboard schema', () => {
  it('use the @grafana/schema release of the pinned Grafana, and its schema version', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(pkg.version).toBe(imageTag(MONITORING_IMAGES.grafana));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const schema = require('@grafana/schema') as { defaultDashboard: { schemaVersion: number } };
    expect(DASHBOARD_SCHEMA_VERSION).toBe(schema.defaultDashboard.schemaVersion);
    for (const d of Object.values(own)) {
      expect(d.schemaVersion).toBe(DASHBOARD_SCHEMA_VERSION);
    }
  });

  it('conform, those of the stack’s own Grafana and those of the sidecar ConfigMaps', () => {
    const all: Record<string, unknown> = {};
    for (const [file, d] of Object.entries(own)) {
      all[file] = d;
      all[`sidecar ${file}`] = sidecarDashboard(d, 'pavemaster-staging', 'prometheus');
    }
    expect(typeCheck(all)).toEqual([]);
  });

  it('would fail a dashboard with an unknown field, a wrong type, or a panel with a wrong grid position', () => {
    const d = own['application.json'];
    const panel = d.panels.findIndex((p) => p.type !== 'row');
    const broken = {
      misspelled: { ...d, refersh: '30s' },
      wrongType: { ...d, schemaVersion: String(d.schemaVersion) },
      badGrid: {
        ...d,
        panels: d.panels.map((p, i) => (i === panel ? { ...p, gridPos: { ...p.gridPos, w: '12' } } : p)),
      },
    };
    const messages = typeCheck(broken);
    expect(messages.filter((m) => /'"refersh"' does not exist in type 'Dashboard'/.test(m))).toHaveLength(1);
    expect(messages.filter((m) => /'string' is not assignable to type 'number'/.test(m))).toHaveLength(2);
    expect(messages).toHaveLength(3);
  });
});
