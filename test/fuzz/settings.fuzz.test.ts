/**
 * Fuzzed configuration (property-based, fast-check): every settings key the real loader reads (found by
 * test/fuzz/shapes.ts, not listed by hand) gets generated values of every kind: wrong types, huge and tiny
 * numbers, unicode, control characters, empty and blank strings, JSON-looking text, deep nesting, dangerous
 * object keys (`__proto__`), the key unset, and near misses of its allowed values and bounds. For each value:
 *
 * - `loadSettings` either returns settings or throws exactly one ConfigError (no other exception escapes);
 * - the ConfigError names the fuzzed key (or a key below it), and names other keys only where a documented
 *   rule ties them to it (DEPENDENTS below); every problem has its key, value and what is allowed in the message;
 * - a secret key's value never appears in the message;
 * - through the program entry (infra/index.ts, evaluated under Pulumi's mocks exactly as the language host runs
 *   it), a config the loader rejects fails with the same ConfigError and registers no resource.
 *
 * The counts tried are printed (`fuzz: ... cases`) and asserted (at least 10,000 through the loader). Runs are
 * reproducible: the seed is fixed (FUZZ_SEED overrides it) and printed with any counterexample.
 */
import fc from 'fast-check';
import { ConfigError } from '../../stacks/problems';
import { stackConfig } from '../support/stackConfig';
import { runEntry } from './entry';
import { baseStrings, checkRejection, load } from './properties';
import { discoverShapes, keyOf, valueFor, withValue } from './shapes';

jest.setTimeout(15 * 60 * 1000);

const SEED = Number(process.env.FUZZ_SEED ?? 18_2026);
/** Cases through the loader, in all (spread over every shape of every base). */
const LOADER_CASES = Number(process.env.FUZZ_CASES ?? 30_000);
/** Rejected cases also run through the program entry under mocks. */
const ENTRY_CASES = Number(process.env.FUZZ_ENTRY_CASES ?? 3_000);
/** Accepted cases also run through the program entry: a config the loader accepts must build. */
const ACCEPTED_ENTRY_CASES = Number(process.env.FUZZ_ACCEPTED_ENTRY_CASES ?? 25);

/** The configs the values are put into: both committed stacks, and one that sets the optional keys. */
const BASES: { name: string; stack: string; raw: Record<string, string> }[] = [
  { name: 'staging', stack: 'staging', raw: stackConfig('staging') },
  { name: 'production', stack: 'production', raw: stackConfig('production') },
  {
    // A stack not named after its environment, with the keys read only when set.
    name: 'optioned',
    stack: 'review-42',
    raw: stackConfig('staging', {
      environment: 'staging',
      namespace: 'pm-review-42',
      secretEnv: { DB_PASSWORD: { secret: 'db', key: 'password' } },
      appSecrets: { API_TOKEN: 'fuzz-app-token-value' },
      smtpPassword: 'fuzz-smtp-password-value',
      slackWebhookUrl: 'https://hooks.slack.com/services/T0/B0/fuzzwebhookvalue',
      imageBuild: { context: 'examples/web', dockerfile: 'Dockerfile', repository: 'pavemaster/web' },
      release: { smoke: { paths: ['/healthz', '/'] }, migration: { command: ['./bin/migrate', 'up'] } },
      monitoring: {
        alerting: {
          email: {
            enabled: true,
            to: ['ops@example.com'],
            from: 'alerts@example.com',
            smarthost: 'smtp.example.com:587',
          },
        },
      },
    }),
  },
];

interface Tally {
  cases: number;
  loaded: number;
  rejected: number;
  entryRejected: number;
  entryAccepted: number;
}

/** Rejected cases kept for the program-entry property. */
const rejectedCases: { base: string; stack: string; raw: Record<string, string>; message: string }[] = [];
/** Accepted cases kept for the program-entry property, with the key that was fuzzed. */
const acceptedCases: { base: string; stack: string; raw: Record<string, string>; key: string }[] = [];

const shapesByBase = new Map(BASES.map((b) => [b.name, discoverShapes(b.stack, b.raw)]));
const totalShapes = [...shapesByBase.values()].reduce((n, s) => n + s.length, 0);
const runsPerShape = Math.ceil(LOADER_CASES / totalShapes);
const tally: Tally = { cases: 0, loaded: 0, rejected: 0, entryRejected: 0, entryAccepted: 0 };

afterAll(() => {
  console.log(
    `fuzz: ${tally.cases} cases through loadSettings over ${totalShapes} key shapes ` +
      `(${BASES.map((b) => `${b.name} ${shapesByBase.get(b.name)?.length ?? 0}`).join(', ')}): ` +
      `${tally.loaded} loaded, ${tally.rejected} rejected with one ConfigError naming the key; through the ` +
      `program entry: ${tally.entryRejected} rejected (no resource registered), ${tally.entryAccepted} built; ` +
      `seed ${SEED}`,
  );
});

describe('the loader finds the key shapes it reads', () => {
  it.each(BASES.map((b) => b.name))('%s: the base config loads, and its keys are found', (name) => {
    const base = BASES.find((b) => b.name === name)!;
    expect(load(base.stack, base.raw)).toEqual({ ok: true });
    const keys = (shapesByBase.get(name) ?? []).map((s) => keyOf(s.path));
    // Spot checks over every section and depth: top level, nested, per-component, gate jobs.
    for (const key of [
      'pavemaster:replicas',
      'pavemaster:activeSlot',
      'pavemaster:resources.limits.memory',
      'pavemaster:monitoring.prometheus.replicas',
      'pavemaster:monitoring.alerting.email.to',
      'pavemaster:logging.elasticsearch.heap',
      'pavemaster:release.postPromotion.windowSeconds',
    ]) {
      expect(keys).toContain(key);
    }
    expect(keys.length).toBeGreaterThan(100);
  });

  it('the optioned base reaches the keys read only when set', () => {
    const keys = (shapesByBase.get('optioned') ?? []).map((s) => keyOf(s.path));
    for (const key of ['pavemaster:imageBuild.repository', 'pavemaster:secretEnv.DB_PASSWORD.secret']) {
      expect(keys).toContain(key);
    }
  });
});

describe.each(BASES.map((b) => b.name))('fuzzed values for every key of the %s config', (baseName) => {
  const base = BASES.find((b) => b.name === baseName)!;
  const values = baseStrings(base.raw);
  const shapes = shapesByBase.get(baseName) ?? [];

  it(`each value loads, or fails with one ConfigError naming the key (${runsPerShape} values per key)`, () => {
    const failures: string[] = [];
    shapes.forEach((shape, i) => {
      const result = fc.check(
        fc.property(valueFor(shape), (value) => {
          const raw = withValue(base.raw, shape.path, value);
          const outcome = load(base.stack, raw);
          tally.cases++;
          if (outcome.ok) {
            tally.loaded++;
            if (value !== undefined) {
              acceptedCases.push({ base: baseName, stack: base.stack, raw, key: keyOf(shape.path) });
            }
            return true;
          }
          tally.rejected++;
          const wrong = checkRejection(shape, value, outcome.error, values);
          if (wrong !== undefined) {
            throw new Error(wrong);
          }
          if (rejectedCases.length < ENTRY_CASES * 4) {
            rejectedCases.push({ base: baseName, stack: base.stack, raw, message: outcome.error.message });
          }
          return true;
        }),
        { numRuns: runsPerShape, seed: SEED + i },
      );
      if (result.failed) {
        failures.push(
          `${keyOf(shape.path)} (${shape.kind}): ${fc.defaultReportMessage(result)?.slice(0, 1500)}`,
        );
      }
    });
    expect(failures).toEqual([]);
  });
});

describe('fuzzed configs through the program entry under Pulumi mocks', () => {
  it('counts at least 10,000 loader cases', () => {
    expect(tally.cases).toBeGreaterThanOrEqual(Math.min(LOADER_CASES, 10_000));
  });

  it('a good config registers resources through the entry (the count below sees registrations)', async () => {
    for (const base of BASES.slice(0, 2)) {
      const { error, registered } = await runEntry(base.stack, base.raw);
      expect(error).toBeUndefined();
      expect(registered.length).toBeGreaterThan(50);
    }
  });

  it('every rejected config fails in the entry with the same ConfigError and registers no resource', async () => {
    // An even spread over the rejected cases of every base and key.
    const step = Math.max(1, Math.floor(rejectedCases.length / ENTRY_CASES));
    const picked = rejectedCases.filter((_, i) => i % step === 0).slice(0, ENTRY_CASES);
    const wrong: string[] = [];
    for (const c of picked) {
      const { error, registered } = await runEntry(c.stack, c.raw);
      if (!(error instanceof ConfigError) || error.message !== c.message || registered.length > 0) {
        wrong.push(
          `${c.base}: ${error instanceof Error ? error.message.slice(0, 300) : String(error)}; registered ${registered.length}`,
        );
      }
    }
    tally.entryRejected = picked.length;
    console.log(
      `fuzz: ${picked.length} rejected configs through the program entry under mocks: ` +
        `${picked.length - wrong.length} failed with the loader's ConfigError and registered nothing`,
    );
    expect(picked.length).toBeGreaterThanOrEqual(Math.min(ENTRY_CASES, 1_000));
    expect(wrong).toEqual([]);
  });

  it('every accepted config builds through the entry without an exception', async () => {
    const step = Math.max(1, Math.floor(acceptedCases.length / ACCEPTED_ENTRY_CASES));
    const picked = acceptedCases.filter((_, i) => i % step === 0).slice(0, ACCEPTED_ENTRY_CASES);
    const wrong: string[] = [];
    for (const c of picked) {
      const { error, registered } = await runEntry(c.stack, c.raw);
      if (error !== undefined || registered.length === 0) {
        wrong.push(
          `${c.base} ${c.key}: ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`,
        );
      }
    }
    tally.entryAccepted = picked.length;
    console.log(`fuzz: ${picked.length} accepted configs built through the program entry under mocks`);
    expect(picked.length).toBeGreaterThanOrEqual(Math.min(ACCEPTED_ENTRY_CASES, 20));
    expect(wrong).toEqual([]);
  });
});
