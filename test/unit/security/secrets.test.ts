/**
 * No secret value is committed: the stack files hold secret config keys only as `secure:` ciphertext (set with
 * `pulumi config set --secret`), no plain value that is named like a secret or looks like one, and no plain
 * environment variable named like a secret. And the rendered manifests never carry a secret value.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse } from 'yaml';
import { configEntryProblem, namesSecret, SECRET_ENV_NAME } from '../../../policy/policies/secrets';
import { SECRET_KEYS } from '../../../stacks/settings';
import { REPO } from '../../support/stackConfig';
import { readManifests, renderWithCli } from './scanners';

jest.setTimeout(300_000);

/** Every problem of one stack file's text. */
export function stackFileProblems(file: string, text: string): string[] {
  const doc = (parse(text) ?? {}) as { config?: Record<string, unknown> };
  const problems: string[] = [];
  for (const [fullKey, value] of Object.entries(doc.config ?? {})) {
    const key = fullKey.replace(/^[^:]+:/, '');
    const secure = value !== null && typeof value === 'object' && 'secure' in value;
    if (secure) {
      continue;
    }
    if (SECRET_KEYS.includes(key) || namesSecret(key)) {
      problems.push(`${file}: ${fullKey} is a secret but is not encrypted (use pulumi config set --secret)`);
      continue;
    }
    if (key === 'env' && value !== null && typeof value === 'object') {
      for (const name of Object.keys(value).filter((n) => SECRET_ENV_NAME.test(n))) {
        problems.push(`${file}: ${fullKey}.${name} is a plain environment variable named like a secret`);
      }
    }
    const problem = configEntryProblem(fullKey, typeof value === 'string' ? value : JSON.stringify(value));
    if (problem !== undefined) {
      problems.push(`${file}: ${problem}`);
    }
  }
  return problems;
}

describe('committed stack files', () => {
  const files = fs.readdirSync(REPO).filter((f) => /^Pulumi\.[^.]+\.yaml$/.test(f));

  it('exist for both environments', () => {
    expect(files).toEqual(expect.arrayContaining(['Pulumi.staging.yaml', 'Pulumi.production.yaml']));
  });

  it.each(files)('%s holds no secret value', (file) => {
    expect(stackFileProblems(file, fs.readFileSync(path.join(REPO, file), 'utf8'))).toEqual([]);
  });

  // Every key is declared (stacks/schema.ts); an optional secret key's only allowed default is the empty
  // placeholder for "not set" ("" or {}), never a value.
  it('declares no default value for a secret key in Pulumi.yaml', () => {
    const project = parse(fs.readFileSync(path.join(REPO, 'Pulumi.yaml'), 'utf8')) as {
      config?: Record<string, { default?: unknown }>;
    };
    const withDefault = Object.entries(project.config ?? {})
      .filter(
        ([key, decl]) =>
          SECRET_KEYS.includes(key.replace(/^[^:]+:/, '')) &&
          decl.default !== undefined &&
          decl.default !== '' &&
          JSON.stringify(decl.default) !== '{}',
      )
      .map(([key]) => key);
    expect(withDefault).toEqual([]);
  });

  it('would catch a plaintext secret, an encrypted one passes', () => {
    const bad = [
      'config:',
      '  pavemaster:smtpPassword: hunter2',
      '  pavemaster:dbPassword: hunter2',
      '  pavemaster:env:',
      '    API_TOKEN: abc',
      '  pavemaster:webhook: https://hooks.slack.com/services/T0/B0/xyz',
    ].join('\n');
    expect(stackFileProblems('Pulumi.bad.yaml', bad)).toEqual([
      expect.stringContaining('pavemaster:smtpPassword is a secret but is not encrypted'),
      expect.stringContaining('pavemaster:dbPassword is a secret but is not encrypted'),
      expect.stringContaining('pavemaster:env.API_TOKEN is a plain environment variable'),
      expect.stringContaining('"pavemaster:env" sets API_TOKEN to a literal value'),
      expect.stringContaining('holds a Slack webhook URL'),
    ]);
    const good =
      'config:\n  pavemaster:smtpPassword:\n    secure: v1:abc:def\n  pavemaster:tlsSecretName: tls\n';
    expect(stackFileProblems('Pulumi.good.yaml', good)).toEqual([]);
  });
});

describe('rendered manifests', () => {
  const SECRETS = {
    smtpPassword: 'render-smtp-password-4f1c',
    slackWebhookUrl: 'https://hooks.slack.com/services/T0000/B0000/renderwebhook7d2e',
    appSecrets: JSON.stringify({ API_TOKEN: 'render-app-token-9b3a' }),
  };
  const monitoring = JSON.stringify({
    alerting: {
      email: {
        enabled: true,
        to: ['ops@example.com'],
        from: 'alertmanager@example.com',
        smarthost: 'smtp.example.com:587',
        username: 'alertmanager',
      },
    },
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-render-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('show configured and generated secrets only as placeholders', () => {
    const sets = Object.entries({ ...SECRETS, monitoring }).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
    const res = renderWithCli(dir, [...sets, 'production']);
    expect(res.stderr).not.toContain('SECRET OUTSIDE A SECRET');
    expect(res.status).toBe(0);
    const file = path.join(dir, 'production', 'manifests.yaml');
    const text = fs.readFileSync(file, 'utf8');
    for (const value of [
      SECRETS.smtpPassword,
      SECRETS.slackWebhookUrl,
      'render-app-token-9b3a',
      'mock-password-',
      Buffer.from(SECRETS.smtpPassword).toString('base64'),
    ]) {
      expect(text).not.toContain(value);
    }
    const manifests = readManifests(file);
    for (const m of manifests) {
      expect(m.apiVersion).toMatch(/^([a-z0-9.-]+\/)?v[0-9]+((alpha|beta)[0-9]+)?$/);
      expect(m.kind).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(m.metadata.name).toEqual(expect.any(String));
    }
    // The app's secret values went into the program: its Secret exists with the key, holding a placeholder.
    const appSecret = manifests.find((m) => m.kind === 'Secret' && m.metadata.name === 'pavemaster-env');
    expect(appSecret?.stringData).toEqual({ API_TOKEN: '<secret>' });
    const kinds = new Set(manifests.map((m) => `${m.apiVersion} ${m.kind}`));
    for (const k of [
      'v1 Namespace',
      'apps/v1 Deployment',
      'networking.k8s.io/v1 NetworkPolicy',
      'v1 Secret',
    ]) {
      expect(kinds).toContain(k);
    }
  });
});
