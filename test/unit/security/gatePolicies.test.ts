/**
 * The gate Jobs the release command creates itself (outside Pulumi, so no `pulumi preview --policy-pack` ever
 * sees them) pass the same rules as everything the program deploys: every policy of the pack, with production's
 * policy config, on the Jobs and the smoke test's egress NetworkPolicy exactly as `release promote` builds them
 * for production. A weakened gate Job is refused, so the check can fail.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ALL_POLICIES } from '../../../policy/policies/all';
import { FakeResource, validateResource, validateStack } from '../../../policy/test/fakes';
import { jobManifest, smokeCommand, smokeEgressPolicy } from '../../../release/gates';
import { REPO } from '../../support/stackConfig';
import { parseReleaseFor } from '../release/support';

type Level = 'mandatory' | 'advisory' | 'disabled';

/** The level and settings of a policy in production's policy config (mandatory and default settings if unset). */
function production(name: string): { level: Level; config: Record<string, unknown> } {
  const file = JSON.parse(
    fs.readFileSync(path.join(REPO, 'policy', 'config', 'production.json'), 'utf8'),
  ) as Record<string, unknown>;
  const entry = file[name] ?? file.all ?? 'mandatory';
  if (typeof entry === 'string') {
    return { level: entry as Level, config: {} };
  }
  const { enforcementLevel, ...config } = entry as { enforcementLevel?: Level } & Record<string, unknown>;
  return { level: enforcementLevel ?? 'mandatory', config };
}

/** Every violation of every policy on `resources`, as "policy: message". */
async function violations(resources: FakeResource[]): Promise<string[]> {
  const out: string[] = [];
  for (const policy of ALL_POLICIES) {
    const { level, config } = production(policy.name);
    if (level === 'disabled') {
      continue;
    }
    if ('validateStack' in policy) {
      out.push(
        ...(await validateStack(policy, resources, config)).map((v) => `${policy.name}: ${v.message}`),
      );
    } else {
      for (const r of resources) {
        out.push(...(await validateResource(policy, r, config)).map((v) => `${policy.name}: ${v.message}`));
      }
    }
  }
  return out;
}

function asResource(manifest: Record<string, unknown>): FakeResource {
  const apiVersion = String(manifest.apiVersion);
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['core', apiVersion];
  const metadata = manifest.metadata as { name: string };
  return {
    type: `kubernetes:${group}/${version}:${String(manifest.kind)}`,
    name: metadata.name,
    props: manifest,
  };
}

const settings = parseReleaseFor({}, { production: true });
const appImage = `pavemaster/web:2.0.0@sha256:${'b'.repeat(64)}`;

function gates(overrides: { smokeImage?: string } = {}): FakeResource[] {
  const base = {
    app: 'pavemaster',
    namespace: 'pavemaster-production',
    releaseId: 'r20260105-090000',
    slot: 'green' as const,
    jobs: settings.jobs,
  };
  return [
    jobManifest({
      ...base,
      gate: 'migration',
      image: appImage,
      command: ['./bin/migrate', 'up'],
      secretEnv: { DATABASE_URL: { secret: 'pavemaster-db', key: 'url' } },
      timeoutSeconds: 900,
    }),
    jobManifest({
      ...base,
      gate: 'backup',
      image: appImage,
      command: ['./bin/backup'],
      timeoutSeconds: 900,
    }),
    jobManifest({
      ...base,
      gate: 'smoke',
      image: overrides.smokeImage ?? settings.smoke.image,
      command: smokeCommand('http://pavemaster-preview.pavemaster-production.svc', ['/healthz'], 5),
      timeoutSeconds: 300,
    }),
    smokeEgressPolicy('pavemaster', 'pavemaster-production', 8080),
  ].map(asResource);
}

it('the production gate Jobs pass every policy of the pack under production policy config', async () => {
  expect(settings.problems.list).toEqual([]);
  expect(ALL_POLICIES.length).toBeGreaterThanOrEqual(12);
  expect(await violations(gates())).toEqual([]);
});

it('a weakened gate Job is refused by the same rules', async () => {
  const [migration, backup, smoke, egress] = gates({ smokeImage: 'curlimages/curl:latest' });
  const props = JSON.parse(JSON.stringify(migration.props)) as {
    spec: { template: { spec: { containers: Record<string, unknown>[] } } };
  };
  const c = props.spec.template.spec.containers[0];
  c.securityContext = { ...(c.securityContext as object), allowPrivilegeEscalation: true };
  c.env = [{ name: 'DB_PASSWORD', value: 'literal-password-in-a-job' }];
  delete c.resources;
  const found = await violations([{ ...migration, props }, backup, smoke, egress]);
  expect(found).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^pod-security-restricted: .*allowPrivilegeEscalation must be set to false/),
      expect.stringMatching(/^container-resources: /),
      expect.stringMatching(/^no-plaintext-secrets: .*DB_PASSWORD/),
      expect.stringMatching(/^image-pinning: .*curlimages\/curl:latest/),
    ]),
  );
});
