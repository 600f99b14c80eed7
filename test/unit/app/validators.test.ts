/**
 * The shared checks (components/shared/checks.ts, components/shared/image.ts) that stacks/, components/, the
 * policy pack and the scripts all use, and the config-only ones of stacks/validators.ts.
 */
import {
  checkCpu,
  checkDnsLabel,
  checkHostName,
  checkMemory,
  parseQuantity,
} from '../../../components/shared/checks';
import { imageVersion, parseImageReference } from '../../../components/shared/image';
import { checkImage, suggest } from '../../../stacks/validators';

describe('Kubernetes quantities', () => {
  test.each([
    ['250m', 0.25],
    ['1', 1],
    ['1.5', 1.5],
    ['.5', 0.5],
    ['512Mi', 512 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['500M', 5e8],
    ['1e3', 1000],
    ['2E', 2e18],
    ['100k', 1e5],
  ])('%s parses to %d', (text, value) => {
    expect(parseQuantity(text)).toBeCloseTo(value);
  });

  test.each(['', '1 Gi', '512MB', 'one', '1.2.3', 'Mi', '5i', ' 1', '1Gb'])(
    '%j is not a quantity',
    (text) => {
      expect(parseQuantity(text)).toBeUndefined();
    },
  );

  test('CPU must be positive and at least a millicore', () => {
    expect(checkCpu('100m')).toBeUndefined();
    expect(checkCpu('0')).toMatch(/greater than zero/);
    expect(checkCpu('-1')).toMatch(/greater than zero/);
    expect(checkCpu('100u')).toMatch(/at least "1m"/);
  });

  test('memory must be at least a byte', () => {
    expect(checkMemory('64Mi')).toBeUndefined();
    expect(checkMemory('0')).toMatch(/at least one byte/);
    expect(checkMemory('64MB')).toMatch(/memory quantity/);
  });
});

describe('image references', () => {
  test.each([
    ['pavemaster/web:1.0.0', { repository: 'pavemaster/web', tag: '1.0.0' }],
    [
      'registry.example:5000/team/web:v2',
      { registry: 'registry.example:5000', repository: 'registry.example:5000/team/web', tag: 'v2' },
    ],
    ['localhost/web:1', { registry: 'localhost', repository: 'localhost/web', tag: '1' }],
    ['[::1]:5000/web', { registry: '[::1]:5000', repository: '[::1]:5000/web' }],
    ['web', { repository: 'web' }],
    [`web@sha256:${'b'.repeat(64)}`, { repository: 'web', digest: `sha256:${'b'.repeat(64)}` }],
    [`a/b:1@sha256:${'c'.repeat(64)}`, { repository: 'a/b', tag: '1', digest: `sha256:${'c'.repeat(64)}` }],
  ])('%s parses', (text, ref) => {
    expect(parseImageReference(text)).toEqual(ref);
  });

  test.each([
    '',
    'Web:1',
    'web:',
    'web::1',
    'web@sha256:abc',
    'a//b:1',
    '-web:1',
    'web:-tag',
    'web:1 2',
    // Not a registry "Pavemaster" (no ".", ":" or "localhost"): a Docker Hub path, which must be lowercase.
    'Pavemaster/web',
    'Pavemaster/web:1.0.0',
    'registry.example.com/Team/web:1',
    `${'a'.repeat(256)}:1`,
  ])('%j is malformed', (text) => {
    expect(parseImageReference(text)).toBeUndefined();
  });

  test('production refuses latest, untagged and, when required, undigested images', () => {
    const prod = { production: true, requireDigest: false };
    expect(checkImage('web:latest', prod)).toMatch(/latest/);
    expect(checkImage('web', prod)).toMatch(/latest/);
    expect(checkImage('web:1.0', prod)).toBeUndefined();
    expect(checkImage('web:1.0', { production: true, requireDigest: true })).toMatch(/pinned by digest/);
    expect(checkImage('web:latest', { production: false, requireDigest: false })).toBeUndefined();
  });

  test('versions come from the tag, else the digest', () => {
    expect(imageVersion('web:1.4.2')).toBe('1.4.2');
    expect(imageVersion(`web@sha256:${'0123456789ab'.repeat(5)}abcd`)).toBe('0123456789ab');
  });
});

test('DNS labels are at most 63 (or the given) characters of lowercase letters, digits and "-"', () => {
  expect(checkDnsLabel('pavemaster-staging')).toBeUndefined();
  expect(checkDnsLabel('a'.repeat(63))).toBeUndefined();
  expect(checkDnsLabel('a'.repeat(64))).toMatch(/at most 63/);
  expect(checkDnsLabel('a'.repeat(51), 50)).toMatch(/at most 50/);
  for (const bad of ['Pave', '-a', 'a-', 'a_b', '']) {
    expect(checkDnsLabel(bad)).toBeDefined();
  }
});

describe('host names', () => {
  test.each(['app.example.com', 'localhost', '*.example.com', 'a-b.c'])('%s is fine', (h) =>
    expect(checkHostName(h)).toBeUndefined(),
  );
  test.each([
    'App.example.com',
    'a_b.com',
    '-a.com',
    'a..b',
    '',
    'a.' + 'b'.repeat(64) + '.com',
    'http://a.com',
  ])('%j is not', (h) => expect(checkHostName(h)).toBeDefined());
});

test('typo suggestions pick the nearest known key', () => {
  expect(suggest('replica', ['replicas', 'resources'])).toBe('replicas');
  expect(suggest('activeslot', ['activeSlot', 'host'])).toBe('activeSlot');
  expect(suggest('zzzzzz', ['replicas', 'host'])).toBeUndefined();
});
