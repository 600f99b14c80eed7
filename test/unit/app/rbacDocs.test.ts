/**
 * Every Role or ClusterRole under docs/rbac that lets its identity deploy Deployments also lets it list and watch
 * PersistentVolumeClaims: the Kubernetes provider's Deployment await watches them, and without that permission it
 * does not fail but waits silently until the update is cancelled (docs/security.md, "Least privilege"). A role
 * file that grants it must say why next to the rule, or the next tidy-up removes an "unused" permission.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import { REPO } from '../../support/stackConfig';

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
}

const DIR = path.join(REPO, 'docs', 'rbac');
const files = fs.readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));

const grants = (rules: readonly Rule[], group: string, resource: string, verb: string): boolean =>
  rules.some(
    (r) =>
      (r.apiGroups ?? []).some((g) => g === group || g === '*') &&
      (r.resources ?? []).some((x) => x === resource || x === '*') &&
      (r.verbs ?? []).some((v) => v === verb || v === '*'),
  );

describe('docs/rbac', () => {
  it('has role files', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s: a role that deploys Deployments may list and watch PersistentVolumeClaims', (file) => {
    const text = fs.readFileSync(path.join(DIR, file), 'utf8');
    const roles = parseAllDocuments(text)
      .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string }; rules?: Rule[] })
      .filter((d) => d.kind === 'Role' || d.kind === 'ClusterRole');
    expect(roles.length).toBeGreaterThan(0);
    for (const role of roles) {
      const rules = role.rules ?? [];
      if (!grants(rules, 'apps', 'deployments', 'create')) {
        continue;
      }
      expect([role.metadata?.name, 'list', grants(rules, '', 'persistentvolumeclaims', 'list')]).toEqual([
        role.metadata?.name,
        'list',
        true,
      ]);
      expect([role.metadata?.name, 'watch', grants(rules, '', 'persistentvolumeclaims', 'watch')]).toEqual([
        role.metadata?.name,
        'watch',
        true,
      ]);
    }
    // The reason is written down in the file's comments.
    const comments = text
      .split('\n')
      .filter((line) => /^\s*#/.test(line))
      .map((line) => line.replace(/^\s*#/, ''))
      .join(' ');
    expect(comments).toMatch(/Deployment await[^]*PersistentVolumeClaims[^]*silently/);
  });
});
