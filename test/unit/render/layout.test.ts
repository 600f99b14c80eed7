/**
 * A newcomer finds every object of a stack within two hops of `infra/index.ts`: in every render case, each
 * Kubernetes (or docker, random) object sits at most two components deep (a stack component that `infra/` creates,
 * then the service component that declares it; the stack's one Kubernetes provider sits at the top), and the README's table "Where every object of a stack is
 * declared" names every component the program registers, with the file that declares it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { RENDER_CASES } from '../../support/render';
import { renderHere } from '../../support/renderHere';
import { REPO } from '../../support/stackConfig';

jest.setTimeout(10 * 60 * 1000);

/** The components `infra/` creates itself. */
const STACK_COMPONENTS = [
  'pavemaster:app:BlueGreenApp',
  'pavemaster:app:AppImage',
  'pavemaster:logging:Logging',
  'pavemaster:monitoring:Monitoring',
  'pavemaster:monitoring:PrometheusOperatorObjects',
];

/** The README's table: component type token -> the file declaring it. */
function readmeTable(): Map<string, string> {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const section = readme.split('### Where every object of a stack is declared')[1]?.split(/\n## /)[0] ?? '';
  const table = new Map<string, string>();
  for (const m of section.matchAll(/^\| `(pavemaster:[^`]+)`\s*\| `([^`]+)`/gm)) {
    table.set(m[1], m[2]);
  }
  return table;
}

/** The components above an object, from the qualified type of its URN (the stack itself is never in it). */
function componentPath(urn: string): string[] {
  return urn
    .split('::')[2]
    .split('$')
    .slice(0, -1)
    .filter((t) => t.startsWith('pavemaster:'));
}

describe('every object of a stack', () => {
  const table = readmeTable();

  it('the README table names files that declare their component', () => {
    expect(table.size).toBeGreaterThanOrEqual(16);
    for (const [type, file] of table) {
      const text = fs.readFileSync(path.join(REPO, file), 'utf8');
      expect([type, text.includes(`'${type}'`)]).toEqual([type, true]);
    }
  });

  it.each(RENDER_CASES.map((c) => c.id))(
    '%s: at most two components below infra/, each in the README',
    async (id) => {
      const r = await renderHere(id);
      const seen = new Set<string>();
      for (const res of r.resources) {
        const components = componentPath(res.urn);
        if (res.type.startsWith('pavemaster:')) {
          seen.add(res.type);
          continue;
        }
        if (res.type.startsWith('pulumi:providers:')) {
          // The stack's explicit Kubernetes provider (infra/cluster.ts) belongs to the stack itself.
          expect({ urn: res.urn, components }).toEqual({ urn: res.urn, components: [] });
          continue;
        }
        expect({ urn: res.urn, depth: components.length <= 2 }).toEqual({ urn: res.urn, depth: true });
        expect({ urn: res.urn, top: STACK_COMPONENTS.includes(components[0] ?? '(none)') }).toEqual({
          urn: res.urn,
          top: true,
        });
      }
      for (const type of seen) {
        expect({ type, listed: table.has(type) }).toEqual({ type, listed: true });
      }
    },
  );
});
