/**
 * Stack configuration: both committed stacks load with their environment's profile, and every kind of bad value
 * is reported, named by its key, with what is allowed, all at once.
 */
import { ConfigError } from '../../../stacks/problems';
import { loadSettings } from '../../../stacks/settings';
import { stackConfig } from '../../support/stackConfig';

const DIGEST = 'sha256:' + 'a'.repeat(64);

function problemsOf(stack: string, overrides: Record<string, unknown>): string[] {
  try {
    loadSettings(stack, stackConfig(stack, overrides));
  } catch (e) {
    if (e instanceof ConfigError) {
      return e.problems.map((p) => `${p.key}: ${p.allowed}`);
    }
    throw e;
  }
  return [];
}

function errorOf(stack: string, overrides: Record<string, unknown>): ConfigError {
  try {
    loadSettings(stack, stackConfig(stack, overrides));
  } catch (e) {
    if (e instanceof ConfigError) {
      return e;
    }
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('committed stacks', () => {
  test('staging loads with the staging profile', () => {
    const s = loadSettings('staging', stackConfig('staging'));
    expect(s.environment).toBe('staging');
    expect(s.production).toBe(false);
    expect(s.namespace).toBe('pavemaster-staging');
    expect(s.app.replicas).toBe(1);
    expect(s.app.idleReplicas).toBe(1);
    expect(s.app.antiAffinity).toBe('preferred');
    expect(s.app.activeSlot).toBe('blue');
    expect(s.app.slots.blue).toEqual({ image: 'pavemaster/web:1.0.0', version: '1.0.0' });
    expect(s.app.resources.limits.memory).toBe('256Mi');
    expect(s.app.port).toBe(8080);
    expect(s.appSecrets).toBeUndefined();
  });

  test('production loads with more replicas, required anti-affinity and digest-pinned images', () => {
    const s = loadSettings('production', stackConfig('production'));
    expect(s.environment).toBe('production');
    expect(s.production).toBe(true);
    expect(s.app.replicas).toBe(3);
    expect(s.app.antiAffinity).toBe('required');
    expect(s.app.pdbMaxUnavailable).toBe(1);
    expect(s.app.slots.blue.image).toMatch(/@sha256:[a-f0-9]{64}$/);
    expect(s.app.slots.blue.version).toBe('1.0.0');
    expect(s.app.tlsSecretName).toBe('pavemaster-tls');
  });

  test('an explicit version label overrides the tag', () => {
    const s = loadSettings('staging', stackConfig('staging', { greenVersion: '2.0.0-rc.1' }));
    expect(s.app.slots.green.version).toBe('2.0.0-rc.1');
  });

  test('a digest-only image takes the digest prefix as its version', () => {
    const s = loadSettings('staging', stackConfig('staging', { greenImage: `pavemaster/web@${DIGEST}` }));
    expect(s.app.slots.green.version).toBe('aaaaaaaaaaaa');
  });

  test('a stack not named after an environment must say which one it is', () => {
    expect(() => loadSettings('preview-42', stackConfig('staging', { environment: undefined }))).toThrow(
      /pavemaster:environment = \(unset\): required/,
    );
    expect(loadSettings('preview-42', stackConfig('staging')).environment).toBe('staging');
  });
});

describe('validation: each bad value is named with what is allowed', () => {
  test.each<[string, Record<string, unknown>, RegExp]>([
    ['unknown slot name', { activeSlot: 'purple' }, /pavemaster:activeSlot: one of "blue", "green"/],
    ['zero replicas in production', { replicas: 0 }, /pavemaster:replicas: a whole number from 2 to 100/],
    [
      'negative replicas in production',
      { replicas: -3 },
      /pavemaster:replicas: a whole number from 2 to 100/,
    ],
    ['non-numeric replicas', { replicas: 'three' }, /pavemaster:replicas: a whole number/],
    ['malformed image', { greenImage: 'Pavemaster/Web::1' }, /pavemaster:greenImage: an image reference/],
    [
      'latest tag in production',
      { greenImage: 'pavemaster/web:latest' },
      /pavemaster:greenImage: .*"latest".*not allowed in production/,
    ],
    [
      'untagged image in production',
      { blueImage: 'pavemaster/web' },
      /pavemaster:blueImage: .*not allowed in production/,
    ],
    [
      'tag without digest in production',
      { blueImage: 'pavemaster/web:1.2.3' },
      /pavemaster:blueImage: an image pinned by digest/,
    ],
    [
      'bad CPU quantity',
      { resources: { limits: { cpu: '2 cores' } } },
      /pavemaster:resources\.limits\.cpu: a Kubernetes CPU quantity/,
    ],
    [
      'bad memory quantity',
      { resources: { requests: { memory: '512MB' } } },
      /pavemaster:resources\.requests\.memory: a Kubernetes memory quantity/,
    ],
    [
      'zero CPU',
      { resources: { requests: { cpu: '0' } } },
      /pavemaster:resources\.requests\.cpu: a CPU quantity greater than zero/,
    ],
    [
      'request above limit',
      { resources: { requests: { memory: '2Gi' } } },
      /pavemaster:resources\.requests\.memory: a request no larger than its limit/,
    ],
    ['host name not a DNS name', { host: 'Pave_Master.example.com' }, /pavemaster:host: a DNS host name/],
    [
      'unknown key',
      { replica: 3 },
      /pavemaster:replica: no such key \(did you mean "pavemaster:replicas"\?\)/,
    ],
    [
      'unknown nested key',
      { resources: { limit: { cpu: '1' } } },
      /pavemaster:resources\.limit: no such key \(did you mean "pavemaster:resources\.limits"\?\)/,
    ],
    ['bad namespace', { namespace: 'PaveMaster' }, /pavemaster:namespace: an RFC 1123 label/],
    [
      'idle replicas above replicas',
      { idleReplicas: 5 },
      /pavemaster:idleReplicas: a whole number from 0 to 3/,
    ],
    ['privileged port', { port: 80 }, /pavemaster:port: a whole number from 1024 to 65535/],
    ['bad env name', { env: { '1BAD': 'x' } }, /pavemaster:env\.1BAD: an environment variable name/],
    ['bad secret ref', { secretEnv: { DB_URL: { secret: 'db' } } }, /pavemaster:secretEnv\.DB_URL/],
    [
      'NodePort without permission',
      { serviceType: 'NodePort' },
      /pavemaster:serviceType: one of "ClusterIP"/,
    ],
    ['bad environment', { environment: 'prod' }, /pavemaster:environment: one of "staging", "production"/],
    ['probe path without slash', { healthPath: 'healthz' }, /pavemaster:healthPath: an absolute HTTP path/],
    ['bad boolean', { allowExternalServices: 'yes' }, /pavemaster:allowExternalServices: true or false/],
  ])('%s', (_what, overrides, expected) => {
    const problems = problemsOf('production', overrides);
    expect(problems.join('\n')).toMatch(expected);
  });

  test('staging accepts what only production refuses', () => {
    expect(problemsOf('staging', { greenImage: 'pavemaster/web:latest', replicas: 1 })).toEqual([]);
  });

  test('zero replicas are refused in staging too', () => {
    expect(problemsOf('staging', { replicas: 0 }).join('\n')).toMatch(
      /pavemaster:replicas: a whole number from 1 to 100/,
    );
  });

  test('a missing slot image is required', () => {
    expect(problemsOf('staging', { blueImage: undefined }).join('\n')).toMatch(
      /pavemaster:blueImage: an image reference for the blue slot is required/,
    );
  });

  test('every problem is reported at once, in one message, before anything is registered', () => {
    const error = errorOf('production', {
      activeSlot: 'purple',
      replicas: 0,
      greenImage: 'pavemaster/web:latest',
      host: 'not a host',
      resources: { limits: { memory: 'lots' } },
      colour: 'blue',
    });
    expect(error.problems.map((p) => p.key)).toEqual(
      expect.arrayContaining([
        'pavemaster:activeSlot',
        'pavemaster:replicas',
        'pavemaster:greenImage',
        'pavemaster:host',
        'pavemaster:resources.limits.memory',
        'pavemaster:colour',
      ]),
    );
    expect(error.message).toMatch(
      /^Stack 'production' has \d+ invalid configuration values; no resource was registered/,
    );
    expect(error.message).toContain('pavemaster:activeSlot = "purple": one of "blue", "green"');
    expect(error.message).toContain('pavemaster:replicas = "0"');
  });

  test('secret values never appear in messages', () => {
    const error = errorOf('staging', { appSecrets: { '9BAD': 'hunter2-very-secret' } });
    expect(error.message).not.toContain('hunter2-very-secret');
  });
});
