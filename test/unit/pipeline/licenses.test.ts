/**
 * The license allowlist check: SPDX expressions, the walk over node_modules (nested and scoped packages), reviewed
 * package exceptions, and the real command on this repository and on a project with a disallowed license.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  Allowlist,
  checkPackages,
  expressionAllowed,
  installedPackages,
  readAllowlist,
} from '../../../scripts/check-licenses-lib';
import { REPO, run, tempDir } from './tools';

// Real tools on a two-core machine that may be busy with other suites: generous bounds.
jest.setTimeout(60_000);

const ALLOWED = new Set(['MIT', 'Apache-2.0', 'ISC']);

describe('expressionAllowed', () => {
  it.each([
    ['MIT', true],
    ['GPL-3.0-only', false],
    ['(MIT OR GPL-3.0-only)', true],
    ['(GPL-3.0-only OR AGPL-3.0-only)', false],
    ['(MIT AND Apache-2.0)', true],
    ['(MIT AND GPL-3.0-only)', false],
    ['Apache-2.0 WITH LLVM-exception', true],
    ['((MIT OR GPL-2.0) AND (ISC OR BSD-3-Clause))', true],
    ['MIT OR GPL-2.0 AND SSPL-1.0', true],
  ])('%s -> %s', (expression, ok) => {
    expect(expressionAllowed(expression, ALLOWED)).toBe(ok);
  });

  it.each(['SEE LICENSE IN LICENSE', '(MIT', 'MIT OR', 'UNLICENSED AND'])(
    'refuses non-SPDX text %s',
    (text) => {
      expect(() => expressionAllowed(text, ALLOWED)).toThrow(/not an SPDX expression/);
    },
  );
});

describe('installedPackages and checkPackages', () => {
  const tmp = tempDir('licenses');
  const pkg = (dir: string, manifest: Record<string, unknown>) => {
    fs.mkdirSync(path.join(tmp.dir, dir), { recursive: true });
    fs.writeFileSync(path.join(tmp.dir, dir, 'package.json'), JSON.stringify(manifest));
  };
  pkg('node_modules/a', { name: 'a', version: '1.0.0', license: 'MIT' });
  pkg('node_modules/@scope/b', { name: '@scope/b', version: '2.0.0', license: '(MIT OR GPL-3.0-only)' });
  pkg('node_modules/a/node_modules/c', { name: 'c', version: '3.0.0', license: 'GPL-3.0-only' });
  pkg('node_modules/d', { name: 'd', version: '4.0.0', licenses: [{ type: 'ISC' }] });
  pkg('node_modules/e', { name: 'e', version: '5.0.0' });
  pkg('node_modules/f', { name: 'f', version: '6.0.0', license: 'SEE LICENSE IN LICENSE' });
  const allowlist: Allowlist = {
    licenses: { MIT: 'ok', ISC: 'ok' },
    packages: { 'f@6.0.0': { license: 'MIT', reason: 'read the LICENSE file' } },
  };

  afterAll(() => tmp.remove());

  it('finds nested, scoped and legacy-declared packages', () => {
    const found = installedPackages(tmp.dir).map((p) => `${p.name}@${p.version} ${p.license}`);
    expect(found.sort()).toEqual(
      [
        'a@1.0.0 MIT',
        '@scope/b@2.0.0 (MIT OR GPL-3.0-only)',
        'c@3.0.0 GPL-3.0-only',
        'd@4.0.0 ISC',
        'e@5.0.0 UNKNOWN',
        'f@6.0.0 SEE LICENSE IN LICENSE',
      ].sort(),
    );
  });

  it('reports the disallowed and the undeclared, honouring reviewed exceptions', () => {
    const violations = checkPackages(installedPackages(tmp.dir), allowlist);
    expect(violations.map((v) => `${v.name} ${v.location}`).sort()).toEqual(
      ['c node_modules/a/node_modules/c', 'e node_modules/e'].sort(),
    );
  });

  it('does not carry an exception over to another version', () => {
    const moved: Allowlist = { ...allowlist, packages: { 'f@6.0.1': allowlist.packages['f@6.0.0'] } };
    expect(checkPackages(installedPackages(tmp.dir), moved).map((v) => v.name)).toContain('f');
  });
});

describe('the allowlist file', () => {
  it('gives a reason for every license and exception', () => {
    const allowlist = readAllowlist(path.join(REPO, '.github', 'license-allowlist.json'));
    expect(Object.keys(allowlist.licenses)).toContain('MIT');
    expect(Object.keys(allowlist.licenses)).not.toContain('GPL-3.0-only');
  });

  it('rejects an exception without a reason or exact version', () => {
    const tmp = tempDir('allowlist');
    try {
      const file = path.join(tmp.dir, 'allow.json');
      fs.writeFileSync(file, JSON.stringify({ licenses: { MIT: '' }, packages: { x: { license: 'MIT' } } }));
      expect(() => readAllowlist(file)).toThrow(/MIT has no reason.*name@exact-version.*no reason/);
    } finally {
      tmp.remove();
    }
  });
});

describe('scripts/check-licenses', () => {
  it('passes on this repository’s installed dependencies, the policy pack’s included', async () => {
    const projects = fs.existsSync(path.join(REPO, 'policy', 'node_modules')) ? 2 : 1;
    const result = await run('scripts/check-licenses', [], { timeoutMs: 120_000 });
    expect(result.stdout).toMatch(
      new RegExp(`check-licenses: \\d{3,} packages in ${projects} project\\(s\\), 0 not allowed`),
    );
    expect(result.code).toBe(0);
  }, 150_000);

  it('fails on a project with a disallowed license', async () => {
    const tmp = tempDir('licenses-cli');
    try {
      fs.mkdirSync(path.join(tmp.dir, 'node_modules', 'copyleft'), { recursive: true });
      fs.writeFileSync(
        path.join(tmp.dir, 'node_modules', 'copyleft', 'package.json'),
        JSON.stringify({ name: 'copyleft', version: '1.0.0', license: 'AGPL-3.0-only' }),
      );
      const result = await run('scripts/check-licenses', [tmp.dir], { timeoutMs: 120_000 });
      expect(result.stdout).toContain('NOT ALLOWED copyleft@1.0.0');
      expect(result.code).toBe(1);
    } finally {
      tmp.remove();
    }
  }, 150_000);
});
