/**
 * Runs the independent scanners (checkov, kube-score: installed by scripts/setup/scanners.sh) on rendered
 * manifests and normalizes what they report, so that tests can require zero unaccepted failures.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse, parseAllDocuments } from 'yaml';
import { REPO } from '../../support/stackConfig';

export const CACHE = process.env.PAVEMASTER_CACHE ?? path.join(os.homedir(), '.cache', 'pavemaster');
export const CHECKOV = path.join(CACHE, 'venv-checkov', 'bin', 'checkov');
export const KUBE_SCORE = path.join(CACHE, 'bin', 'kube-score');
export const SCANNERS_DIR = path.join(REPO, 'policy', 'scanners');

export type Scanner = 'checkov' | 'kube-score';

/** One failed check on one object. */
export interface Finding {
  scanner: Scanner;
  check: string;
  kind: string;
  namespace: string;
  name: string;
  /** What the scanner says (check name, container, details). */
  message: string;
}

/** What one scanner run gives. */
export interface ScanResult {
  failed: Finding[];
  /** Checks that passed (checkov: passed checks; kube-score: checks graded OK). */
  passed: number;
  /** kube-score warnings (not failures by kube-score's own exit code), for the log. */
  warnings: Finding[];
}

/** A finding accepted for one workload (policy/scanners/accepted.yaml). */
export interface Acceptance {
  check: string;
  kind: string;
  name: string;
  /** A glob: `*` matches any run of characters. */
  namespace: string;
  reason: string;
}

function requireTool(file: string): void {
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: run scripts/setup/scanners.sh`);
  }
}

function run(cmd: string, args: string[]): string {
  const res = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 300_000 });
  if (res.error) {
    throw res.error;
  }
  if (res.stdout.trim() === '') {
    throw new Error(`${path.basename(cmd)} printed nothing (exit ${String(res.status)}): ${res.stderr}`);
  }
  return res.stdout;
}

type Json = Record<string, unknown>;

/**
 * The checkov config file (both stacks): the framework and output only; every default check runs. A stack may
 * have `checkov.<stack>.yaml`, but none does, and the test requires that no config turns a check off.
 */
export function checkovConfig(stack: string): string {
  const specific = path.join(SCANNERS_DIR, `checkov.${stack}.yaml`);
  return fs.existsSync(specific) ? specific : path.join(SCANNERS_DIR, 'checkov.yaml');
}

/** Runs checkov on a manifest file with the stack's config file. */
export function runCheckov(file: string, stack: string): ScanResult {
  requireTool(CHECKOV);
  const out = run(CHECKOV, ['--config-file', checkovConfig(stack), '-f', file, '-o', 'json']);
  const parsed = JSON.parse(out) as Json | Json[];
  const reports = Array.isArray(parsed) ? parsed : [parsed];
  const failed: Finding[] = [];
  let passed = 0;
  for (const report of reports) {
    const results = (report.results ?? {}) as { failed_checks?: Json[]; passed_checks?: Json[] };
    passed += (results.passed_checks ?? []).length;
    for (const check of results.failed_checks ?? []) {
      // checkov names a Kubernetes resource "Kind.namespace.name" (names may hold dots; kinds and namespaces not).
      const [kind, namespace, ...rest] = String(check.resource).split('.');
      failed.push({
        scanner: 'checkov',
        check: String(check.check_id),
        kind,
        namespace,
        name: rest.join('.'),
        message: String(check.check_name),
      });
    }
  }
  return { failed, passed, warnings: [] };
}

/** The kube-score flags of policy/scanners/kube-score.yaml. */
export function kubeScoreFlags(): string[] {
  const config = parse(fs.readFileSync(path.join(SCANNERS_DIR, 'kube-score.yaml'), 'utf8')) as {
    kubernetesVersion?: string;
    ignoreTests?: { id: string; reason: string }[];
  };
  return [
    ...(config.kubernetesVersion ? ['--kubernetes-version', config.kubernetesVersion] : []),
    ...(config.ignoreTests ?? []).flatMap((t) => ['--ignore-test', t.id]),
  ];
}

const GRADE_CRITICAL = 1;
const GRADE_WARNING = 5;

/** Runs kube-score on a manifest file with the flags file; CRITICAL grades are failures. */
export function runKubeScore(file: string): ScanResult {
  requireTool(KUBE_SCORE);
  const out = run(KUBE_SCORE, ['score', ...kubeScoreFlags(), '-o', 'json', file]);
  const objects = JSON.parse(out) as {
    type_meta: { kind: string };
    object_meta: { name: string; namespace?: string };
    checks: {
      check: { id: string; name: string };
      grade: number;
      skipped: boolean;
      comments: { path?: string; summary?: string }[] | null;
    }[];
  }[];
  const result: ScanResult = { failed: [], passed: 0, warnings: [] };
  for (const o of objects) {
    for (const c of o.checks) {
      if (c.skipped) {
        continue;
      }
      const finding: Finding = {
        scanner: 'kube-score',
        check: c.check.id,
        kind: o.type_meta.kind,
        namespace: o.object_meta.namespace ?? 'default',
        name: o.object_meta.name,
        message: [
          c.check.name,
          ...(c.comments ?? []).map((x) => `${x.path ? `(${x.path}) ` : ''}${x.summary ?? ''}`),
        ].join('; '),
      };
      if (c.grade <= GRADE_CRITICAL) {
        result.failed.push(finding);
      } else if (c.grade <= GRADE_WARNING) {
        result.warnings.push(finding);
      } else {
        result.passed++;
      }
    }
  }
  return result;
}

/** The accepted findings of a scanner. */
export function acceptances(scanner: Scanner): Acceptance[] {
  const doc = parse(fs.readFileSync(path.join(SCANNERS_DIR, 'accepted.yaml'), 'utf8')) as Partial<
    Record<Scanner, Acceptance[]>
  >;
  return doc[scanner] ?? [];
}

function glob(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

/** True when an acceptance covers a finding. */
export function covers(a: Acceptance, f: Finding): boolean {
  return a.check === f.check && a.kind === f.kind && a.name === f.name && glob(a.namespace).test(f.namespace);
}

/** "scanner CHECK Kind ns/name: message", for failure output. */
export function describeFinding(f: Finding): string {
  return `${f.scanner} ${f.check} ${f.kind} ${f.namespace}/${f.name}: ${f.message}`;
}

/** One Kubernetes object as rendered. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** The stacks the project has. */
export const STACKS = ['staging', 'production'] as const;

/**
 * Runs the real `scripts/render-manifests` into `out` (extra arguments such as `--set k=v` or stack names);
 * returns its output and the manifests file of each stack it wrote.
 */
export function renderWithCli(
  out: string,
  args: string[] = [],
): { stdout: string; stderr: string; status: number } {
  const res = spawnSync(path.join(REPO, 'scripts', 'render-manifests'), ['--out', out, ...args], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 300_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.error) {
    throw res.error;
  }
  return { stdout: res.stdout, stderr: res.stderr, status: res.status ?? -1 };
}

/** The objects of a rendered multi-document file. */
export function readManifests(file: string): Manifest[] {
  return parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS() as Manifest);
}
