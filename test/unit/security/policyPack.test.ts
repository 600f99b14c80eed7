/**
 * The policy pack on both stacks as the program builds them (mocks harness): every policy runs on every
 * registered resource, and the stack policies on all of them, with the stack's policy config file
 * (policy/config/<stack>.json) the way `pulumi preview --policy-pack policy --policy-pack-config ...` applies
 * it. No mandatory violation may remain; advisory ones are printed. This is the quick, engine-free twin of the
 * real preview (which the integration run performs on the local cluster).
 */
import * as fs from 'fs';
import * as path from 'path';
import { ALL_POLICIES, EnforcementLevel } from '../../../policy/policies/all';
import { FakeResource, validateResource, validateStack } from '../../../policy/test/fakes';
import { recordStack, unsecret } from '../../support/harness';
import { REPO, stackConfig } from '../../support/stackConfig';
import { STACKS } from './scanners';

jest.setTimeout(120_000);

type PolicyConfigFile = Record<string, EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & object)>;

/** The enforcement level and properties of a policy under a config file (with the schema's defaults). */
export function policySettings(
  name: string,
  file: PolicyConfigFile,
): { level: EnforcementLevel; config: Record<string, unknown> } {
  const policy = ALL_POLICIES.find((p) => p.name === name);
  const defaults = Object.fromEntries(
    Object.entries(policy?.configSchema?.properties ?? {}).map(([k, schema]) => [k, schema.default]),
  );
  const entry = file[name];
  const all = file.all;
  const fromAll = typeof all === 'string' ? all : all?.enforcementLevel;
  if (typeof entry === 'string') {
    return { level: entry, config: defaults };
  }
  const { enforcementLevel, ...props } = entry ?? {};
  return {
    level: enforcementLevel ?? fromAll ?? policy?.enforcementLevel ?? 'mandatory',
    config: { ...defaults, ...props },
  };
}

/** A value with every Pulumi secret marker replaced by its value, as CrossGuard hands props to policies. */
function reveal(value: unknown): unknown {
  const v = unsecret(value);
  if (Array.isArray(v)) {
    return v.map(reveal);
  }
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)]));
  }
  return v;
}

function readConfig(stack: string): PolicyConfigFile {
  return JSON.parse(
    fs.readFileSync(path.join(REPO, 'policy', 'config', `${stack}.json`), 'utf8'),
  ) as PolicyConfigFile;
}

describe('policy config files', () => {
  it.each(STACKS)('%s names only policies of the pack and declared properties', (stack) => {
    const file = readConfig(stack);
    for (const [name, entry] of Object.entries(file)) {
      if (name === 'all') {
        expect(['mandatory', 'advisory', 'disabled']).toContain(entry);
        continue;
      }
      const policy = ALL_POLICIES.find((p) => p.name === name);
      expect(policy).toBeDefined();
      const { enforcementLevel, ...props } = (
        typeof entry === 'string' ? { enforcementLevel: entry } : entry
      ) as {
        enforcementLevel?: string;
      };
      expect(['mandatory', 'advisory', 'disabled', undefined]).toContain(enforcementLevel);
      expect(Object.keys(props).filter((k) => !(k in (policy?.configSchema?.properties ?? {})))).toEqual([]);
    }
  });

  it('keeps every policy mandatory in production, with the strict settings', () => {
    const file = readConfig('production');
    for (const policy of ALL_POLICIES) {
      expect(policySettings(policy.name, file).level).toBe('mandatory');
    }
    expect(policySettings('image-pinning', file).config.requireDigest).toBe(true);
    expect(policySettings('stateful-resources-protected', file).config.requireProtect).toBe(true);
    expect(policySettings('no-external-services', file).config.allowExternalServices).toBe(false);
    expect(policySettings('ingress-tls', file).config.requireTls).toBe(true);
  });

  it('relaxes staging only where documented (digests; protection and Ingress TLS advisory)', () => {
    const file = readConfig('staging');
    const relaxed = ALL_POLICIES.filter((p) => policySettings(p.name, file).level !== 'mandatory').map(
      (p) => p.name,
    );
    expect(relaxed).toEqual(['stateful-resources-protected', 'ingress-tls']);
    expect(policySettings('image-pinning', file).config.requireDigest).toBe(false);
    // Reported, not blocking: staging's Ingress has no certificate on the local cluster yet.
    expect(policySettings('ingress-tls', file).config.requireTls).toBe(true);
  });
});

describe.each(STACKS)('the %s stack', (stack) => {
  it('has no mandatory violation of any policy', async () => {
    const { resources } = await recordStack(stack, stackConfig(stack));
    const fakes: FakeResource[] = resources
      .filter((r) => r.custom)
      .map((r) => ({
        type: r.type,
        name: r.name,
        props: reveal(r.inputs) as Record<string, unknown>,
        protect: r.protect,
      }));
    const file = readConfig(stack);
    const mandatory: string[] = [];
    for (const policy of ALL_POLICIES) {
      const { level, config } = policySettings(policy.name, file);
      if (level === 'disabled') {
        continue;
      }
      const messages: string[] = [];
      if ('validateStack' in policy) {
        const found = await validateStack(policy, fakes, config);
        messages.push(...found.map((v) => v.message));
      } else {
        for (const r of fakes) {
          const found = await validateResource(policy, r, config);
          messages.push(...found.map((v) => v.message));
        }
      }
      for (const m of messages) {
        if (level === 'mandatory') {
          mandatory.push(`${policy.name}: ${m}`);
        } else {
          console.log(`${stack}: advisory ${policy.name}: ${m}`);
        }
      }
    }
    expect(fakes.length).toBeGreaterThan(50);
    expect(mandatory).toEqual([]);
  });
});
