import {
  HistoryEntryLike,
  parseHistory,
  planFullRestore,
  planRestore,
  renderChanges,
  renderHistory,
} from '../../../release/history';

// Shaped like `pulumi stack history --json --show-secrets` as the Automation API returns it (newest first).
const entries: HistoryEntryLike[] = [
  {
    version: 3,
    kind: 'update',
    result: 'succeeded',
    startTime: new Date('2026-01-03T10:00:00Z'),
    endTime: new Date('2026-01-03T10:00:30Z'),
    config: {
      'pavemaster:activeSlot': { value: 'green', secret: false },
      'pavemaster:blueImage': { value: 'pavemaster/web:1.0.0', secret: false },
      'pavemaster:greenImage': { value: 'pavemaster/web:2.0.0', secret: false },
      'pavemaster:greenReleaseId': { value: 'r20260103-095900', secret: false },
      'pavemaster:appSecrets': { value: '{"TOKEN":"s3cret"}', secret: true },
    },
  },
  {
    version: 2,
    kind: 'update',
    result: 'failed',
    startTime: '2026-01-02T10:00:00Z',
    config: {
      'pavemaster:activeSlot': { value: 'blue', secret: false },
      'pavemaster:blueImage': { value: 'pavemaster/web:1.0.0', secret: false },
      'pavemaster:greenImage': { value: 'pavemaster/web:2.0.0', secret: false },
    },
  },
  {
    version: 1,
    kind: 'update',
    result: 'succeeded',
    startTime: '2026-01-01T10:00:00Z',
    config: {
      'pavemaster:blueImage': { value: 'pavemaster/web:1.0.0', secret: false },
      'pavemaster:greenImage': 'pavemaster/web:1.0.0',
      'pavemaster:greenVersion': { value: 'one', secret: false },
    },
  },
  { version: 4, kind: 'refresh', result: 'succeeded', startTime: '2026-01-04T10:00:00Z', config: {} },
];

describe('parseHistory', () => {
  it('reads slot, images, versions (tag by default) and time of every version, newest first', () => {
    const versions = parseHistory(entries);
    expect(versions.map((v) => v.version)).toEqual([4, 3, 2, 1]);
    const v3 = versions[1];
    expect(v3).toMatchObject({
      activeSlot: 'green',
      result: 'succeeded',
      startTime: '2026-01-03T10:00:00.000Z',
      images: { blue: 'pavemaster/web:1.0.0', green: 'pavemaster/web:2.0.0' },
      versions: { blue: '1.0.0', green: '2.0.0' },
      releaseIds: { blue: undefined, green: 'r20260103-095900' },
    });
    // activeSlot absent: Pulumi.yaml's default, blue; an explicit version label wins over the tag.
    expect(versions[3]).toMatchObject({ activeSlot: 'blue', versions: { blue: '1.0.0', green: 'one' } });
  });

  it('renders a table with one line per version', () => {
    const text = renderHistory(parseHistory(entries));
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^VERSION\s+TIME\s+RESULT\s+ACTIVE\s+BLUE\s+GREEN$/);
    expect(lines[2]).toMatch(
      /^3\s+2026-01-03T10:00:00Z\s+update\/succeeded\s+green\s+1\.0\.0 \(pavemaster\/web:1\.0\.0\)\s+2\.0\.0/,
    );
    expect(text).not.toContain('s3cret');
  });
});

describe('numberHistory', () => {
  it("numbers the file backend's entries (all recorded as version 0) by start time, oldest = 1", () => {
    // As `pulumi stack history --json` prints them on the local backend: newest first, version 0 each.
    const local: HistoryEntryLike[] = [
      {
        version: 0,
        kind: 'update',
        result: 'succeeded',
        startTime: '2026-01-02T00:00:00Z',
        config: {
          'pavemaster:activeSlot': 'green',
          'pavemaster:blueImage': 'a:1',
          'pavemaster:greenImage': 'a:2',
        },
      },
      { version: 0, kind: 'refresh', result: 'succeeded', startTime: '2026-01-01T12:00:00Z' },
      {
        version: 0,
        kind: 'update',
        result: 'succeeded',
        startTime: '2026-01-01T00:00:00Z',
        config: { 'pavemaster:blueImage': 'a:1', 'pavemaster:greenImage': 'a:1' },
      },
    ];
    expect(parseHistory(local).map((v) => [v.version, v.kind, v.activeSlot])).toEqual([
      [3, 'update', 'green'],
      [2, 'refresh', 'blue'],
      [1, 'update', 'blue'],
    ]);
    expect(planRestore(local, 3).set).toMatchObject({ activeSlot: 'green', greenImage: 'a:2' });
    expect(planRestore(local, 1).set).toMatchObject({ activeSlot: 'blue', greenImage: 'a:1' });
  });
});

describe('planRestore', () => {
  it('sets every release key the version recorded and removes the ones it did not', () => {
    expect(planRestore(entries, 1)).toEqual({
      version: 1,
      set: {
        activeSlot: 'blue',
        blueImage: 'pavemaster/web:1.0.0',
        greenImage: 'pavemaster/web:1.0.0',
        greenVersion: 'one',
      },
      remove: ['blueVersion', 'blueReleaseId', 'blueReleasedAt', 'greenReleaseId', 'greenReleasedAt'],
    });
    expect(planRestore(entries, 3).set).toEqual({
      activeSlot: 'green',
      blueImage: 'pavemaster/web:1.0.0',
      greenImage: 'pavemaster/web:2.0.0',
      greenReleaseId: 'r20260103-095900',
    });
  });

  it('refuses unknown versions, failed updates and non-updates', () => {
    expect(() => planRestore(entries, 9)).toThrow(
      'stack version 9 is not in the history (versions: 1, 2, 3, 4)',
    );
    expect(() => planRestore(entries, 2)).toThrow(
      'was a failed update; only a succeeded update can be restored',
    );
    expect(() => planRestore(entries, 4)).toThrow('was a succeeded refresh');
  });
});

describe('planFullRestore (rollback --to: every pavemaster:* key, secrets included)', () => {
  const current = {
    activeSlot: 'blue',
    blueImage: 'pavemaster/web:1.0.0',
    greenImage: 'pavemaster/web:3.0.0',
    replicas: '3',
    appSecrets: '{"TOKEN":"n3w"}',
  };
  it('sets what the version recorded, removes the rest, and shows the diff without secret values', () => {
    const plan = planFullRestore(entries, 3, current, new Set(['appSecrets']));
    expect(plan.set).toEqual({
      activeSlot: { value: 'green', secret: false },
      blueImage: { value: 'pavemaster/web:1.0.0', secret: false },
      greenImage: { value: 'pavemaster/web:2.0.0', secret: false },
      greenReleaseId: { value: 'r20260103-095900', secret: false },
      appSecrets: { value: '{"TOKEN":"s3cret"}', secret: true },
    });
    expect(plan.remove).toEqual(['replicas']);
    expect(renderChanges(plan.changes)).toEqual([
      'pavemaster:activeSlot: blue -> green',
      'pavemaster:appSecrets: [secret] -> [secret]',
      'pavemaster:greenImage: pavemaster/web:3.0.0 -> pavemaster/web:2.0.0',
      'pavemaster:greenReleaseId: (unset) -> r20260103-095900',
      'pavemaster:replicas: 3 -> (unset)',
    ]);
    expect(JSON.stringify(plan.changes)).not.toContain('s3cret');
    expect(JSON.stringify(plan.changes)).not.toContain('n3w');
  });

  it('refuses what planRestore refuses', () => {
    expect(() => planFullRestore(entries, 2, current)).toThrow('only a succeeded update can be restored');
  });
});
