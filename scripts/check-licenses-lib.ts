/**
 * The license allowlist check: walks a project's `node_modules` (production and development dependencies, nested
 * copies included), reads each package's `license` (an SPDX expression, or the legacy `licenses` list), and
 * fails when a license is not on the allowlist and the package has no reviewed exception.
 *
 * SPDX expressions are evaluated: `A OR B` passes when either is allowed, `A AND B` when both are,
 * `A WITH exception` when `A` is.
 *
 * Usage: scripts/check-licenses [--allowlist FILE] [PROJECT_DIR...]
 * Default: .github/license-allowlist.json; the repository and, when installed, the policy pack.
 */
import * as fs from 'fs';
import * as path from 'path';

/** The allowlist file's shape. */
export interface Allowlist {
  /** SPDX identifier -> why the project accepts it. */
  licenses: Record<string, string>;
  /** "name@version" -> a reviewed exception for one package version. */
  packages: Record<string, { license: string; reason: string }>;
}

/** One installed package. */
export interface InstalledPackage {
  name: string;
  version: string;
  /** The declared license text ("UNKNOWN" when the package declares none). */
  license: string;
  /** Where it is installed, relative to the project. */
  location: string;
}

/** A package whose license is not allowed. */
export interface Violation extends InstalledPackage {
  why: string;
}

/** Reads and checks the allowlist file. */
export function readAllowlist(file: string): Allowlist {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Allowlist>;
  const problems: string[] = [];
  const licenses = raw.licenses ?? {};
  const packages = raw.packages ?? {};
  for (const [id, reason] of Object.entries(licenses)) {
    if (typeof reason !== 'string' || reason.trim() === '') {
      problems.push(`license ${id} has no reason`);
    }
  }
  for (const [key, entry] of Object.entries(packages)) {
    if (!/^(@[^/@]+\/)?[^/@]+@\d[^@]*$/.test(key)) {
      problems.push(`package exception "${key}" must be "name@exact-version"`);
    }
    if (!entry || typeof entry.reason !== 'string' || entry.reason.trim() === '') {
      problems.push(`package exception ${key} has no reason`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`${file}: ${problems.join('; ')}`);
  }
  return { licenses, packages };
}

type Token = { kind: 'id' | 'and' | 'or' | 'with' | 'open' | 'close'; text: string };

function tokenize(expression: string): Token[] {
  const tokens: Token[] = [];
  for (const part of expression.replace(/\(/g, ' ( ').replace(/\)/g, ' ) ').split(/\s+/)) {
    if (part === '') {
      continue;
    }
    const upper = part.toUpperCase();
    if (part === '(') {
      tokens.push({ kind: 'open', text: part });
    } else if (part === ')') {
      tokens.push({ kind: 'close', text: part });
    } else if (upper === 'AND' || upper === 'OR' || upper === 'WITH') {
      tokens.push({ kind: upper.toLowerCase() as 'and' | 'or' | 'with', text: part });
    } else {
      tokens.push({ kind: 'id', text: part });
    }
  }
  return tokens;
}

/**
 * True when an SPDX expression is satisfied by the allowed identifiers. Throws on a malformed expression (a
 * license text that is not SPDX, e.g. "SEE LICENSE IN ..."), which the caller reports as not allowed.
 */
export function expressionAllowed(expression: string, allowed: ReadonlySet<string>): boolean {
  const tokens = tokenize(expression);
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`not an SPDX expression (${what}): "${expression}"`);
  };
  // or := and ("OR" and)* ; and := atom ("AND" atom)* ; atom := "(" or ")" | id ["WITH" id]
  const parseOr = (): boolean => {
    let value = parseAnd();
    while (tokens[i]?.kind === 'or') {
      i++;
      const right = parseAnd();
      value = value || right;
    }
    return value;
  };
  const parseAnd = (): boolean => {
    let value = parseAtom();
    while (tokens[i]?.kind === 'and') {
      i++;
      const right = parseAtom();
      value = value && right;
    }
    return value;
  };
  const parseAtom = (): boolean => {
    const token = tokens[i++];
    if (token === undefined) {
      return fail('ends too early');
    }
    if (token.kind === 'open') {
      const value = parseOr();
      if (tokens[i++]?.kind !== 'close') {
        fail('unbalanced parenthesis');
      }
      return value;
    }
    if (token.kind !== 'id' || !/^[A-Za-z0-9.+-]+$/.test(token.text)) {
      return fail(`unexpected "${token.text}"`);
    }
    if (tokens[i]?.kind === 'with') {
      i++;
      if (tokens[i++]?.kind !== 'id') {
        fail('WITH needs an exception');
      }
    }
    return allowed.has(token.text.replace(/\+$/, ''));
  };
  const value = parseOr();
  if (i !== tokens.length) {
    fail(`unexpected "${tokens[i].text}"`);
  }
  return value;
}

function declaredLicense(pkg: Record<string, unknown>): string {
  const license = pkg.license;
  if (typeof license === 'string' && license.trim() !== '') {
    return license.trim();
  }
  if (license && typeof license === 'object' && typeof (license as { type?: unknown }).type === 'string') {
    return (license as { type: string }).type;
  }
  const legacy = pkg.licenses;
  if (Array.isArray(legacy) && legacy.length > 0) {
    const ids = legacy.map((l: unknown) =>
      typeof l === 'string'
        ? l
        : typeof l === 'object' && l !== null
          ? String((l as { type?: unknown }).type)
          : '',
    );
    return ids.length === 1 ? ids[0] : `(${ids.join(' OR ')})`;
  }
  return 'UNKNOWN';
}

/** Every package installed under `<projectDir>/node_modules`, nested and scoped ones included. */
export function installedPackages(projectDir: string): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  const visit = (modulesDir: string) => {
    if (!fs.existsSync(modulesDir)) {
      return;
    }
    for (const entry of fs.readdirSync(modulesDir, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || !(entry.isDirectory() || entry.isSymbolicLink())) {
        continue;
      }
      const full = path.join(modulesDir, entry.name);
      if (entry.name.startsWith('@')) {
        for (const scoped of fs.readdirSync(full, { withFileTypes: true })) {
          if (scoped.isDirectory()) {
            visitPackage(path.join(full, scoped.name));
          }
        }
      } else {
        visitPackage(full);
      }
    }
  };
  const visitPackage = (dir: string) => {
    const manifest = path.join(dir, 'package.json');
    if (!fs.existsSync(manifest) || fs.lstatSync(dir).isSymbolicLink()) {
      return;
    }
    const pkg = JSON.parse(fs.readFileSync(manifest, 'utf8')) as Record<string, unknown>;
    if (typeof pkg.name === 'string' && typeof pkg.version === 'string') {
      out.push({
        name: pkg.name,
        version: pkg.version,
        license: declaredLicense(pkg),
        location: path.relative(projectDir, dir),
      });
    }
    visit(path.join(dir, 'node_modules'));
  };
  visit(path.join(projectDir, 'node_modules'));
  return out;
}

/** The packages whose license the allowlist does not accept. */
export function checkPackages(packages: readonly InstalledPackage[], allowlist: Allowlist): Violation[] {
  const allowed = new Set(Object.keys(allowlist.licenses));
  const violations: Violation[] = [];
  for (const pkg of packages) {
    const exception = allowlist.packages[`${pkg.name}@${pkg.version}`];
    if (exception !== undefined) {
      continue;
    }
    let ok = false;
    let why = `license "${pkg.license}" is not on the allowlist`;
    try {
      ok = expressionAllowed(pkg.license, allowed);
    } catch (e) {
      why = `${(e as Error).message}: read its license and add a reviewed package exception`;
    }
    if (!ok) {
      violations.push({ ...pkg, why });
    }
  }
  return violations;
}

function main(argv: string[]): number {
  const repo = path.resolve(__dirname, '..');
  let allowlistFile = path.join(repo, '.github', 'license-allowlist.json');
  const dirs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--allowlist') {
      allowlistFile = path.resolve(argv[++i] ?? '');
    } else if (argv[i].startsWith('-')) {
      process.stderr.write('usage: scripts/check-licenses [--allowlist FILE] [PROJECT_DIR...]\n');
      return 64;
    } else {
      dirs.push(path.resolve(argv[i]));
    }
  }
  if (dirs.length === 0) {
    dirs.push(repo);
    if (fs.existsSync(path.join(repo, 'policy', 'node_modules'))) {
      dirs.push(path.join(repo, 'policy'));
    }
  }
  const allowlist = readAllowlist(allowlistFile);
  let total = 0;
  const violations: Violation[] = [];
  for (const dir of dirs) {
    const packages = installedPackages(dir);
    if (packages.length === 0) {
      process.stderr.write(`check-licenses: no node_modules under ${dir}: run npm ci first\n`);
      return 1;
    }
    total += packages.length;
    violations.push(...checkPackages(packages, allowlist));
  }
  for (const v of violations) {
    process.stdout.write(`NOT ALLOWED ${v.name}@${v.version} (${v.location}): ${v.why}\n`);
  }
  process.stdout.write(
    `check-licenses: ${total} packages in ${dirs.length} project(s), ${violations.length} not allowed\n`,
  );
  return violations.length === 0 ? 0 : 1;
}

if (require.main === module) {
  process.exit(main(process.argv.slice(2)));
}
