/**
 * release/schema.json against the documents the command builds (the integration test validates the real ones
 * of a release on the cluster): each command's result shape is accepted, a wrong shape is refused.
 */
import * as fs from 'fs';
import * as path from 'path';
import Ajv from 'ajv';
import { promoteJson } from '../../../release/commands';
import { annotationsJson, document, historyJson, switchJson } from '../../../release/output';
import { REPO } from '../../../release/testing/sandbox';

const validate = new Ajv({ allErrors: true }).compile(
  JSON.parse(fs.readFileSync(path.join(REPO, 'release', 'schema.json'), 'utf8')) as object,
);
const up = { changes: { update: 2 }, touched: ['urn:pulumi:s::pavemaster::x'], durationMs: 5, events: [] };
const sw = {
  from: 'blue' as const,
  to: 'green' as const,
  up,
  switchMs: 100,
  switchedAt: 0,
  endpointPods: ['p-1'],
};
const version = {
  version: 3,
  kind: 'update',
  result: 'succeeded',
  startTime: '2026-01-05T09:00:00.000Z',
  activeSlot: 'blue' as const,
  images: { blue: 'pavemaster/web:1.0.0', green: undefined },
  versions: { blue: '1.0.0', green: undefined },
  releaseIds: { blue: undefined, green: undefined },
};
const small = { changes: {}, touched: [], durationMs: 1 };
const posted = (event: 'promote' | 'flip-back' | 'rollback' | 'rollback-to') =>
  annotationsJson([
    { event, target: 'grafana', outcome: 'posted', detail: 'annotated on Grafana: x' },
    { event, target: 'slack', outcome: 'skipped', detail: 'Slack: no webhook' },
  ]);

const valid: [string, Record<string, unknown>][] = [
  [
    'promote',
    {
      ok: true,
      exitCode: 0,
      result: promoteJson({
        gates: [{ gate: 'ready', ok: true, detail: 'x' }],
        switched: sw,
        postPromotion: {
          action: 'keep',
          detail: 'passed',
          observations: 3,
          source: 'http://prometheus',
          unverified: false,
        },
        annotations: posted('promote'),
      }),
    },
  ],
  [
    'promote',
    {
      ok: false,
      exitCode: 4,
      error: { message: 'rolled back' },
      result: promoteJson({
        gates: [],
        switched: sw,
        rolledBack: sw,
        postPromotion: {
          action: 'rollback',
          detail: 'breach',
          observations: 1,
          source: 'http://prometheus',
          unverified: false,
        },
        annotations: [
          ...posted('promote'),
          ...annotationsJson([
            { event: 'flip-back', target: 'grafana', outcome: 'failed', detail: 'HTTP 500 from Grafana' },
          ]),
        ],
      }),
    },
  ],
  ['promote', { ok: false, exitCode: 2, error: { message: 'gate smoke failed', gate: 'smoke' } }],
  ['rollback', { ok: true, exitCode: 0, result: { ...switchJson(sw), annotations: posted('rollback') } }],
  [
    'rollback',
    {
      ok: true,
      exitCode: 0,
      result: {
        restored: historyJson([version])[0],
        up: small,
        changes: [{ key: 'replicas', from: '3', to: '2', secret: false }],
        annotations: posted('rollback-to'),
      },
    },
  ],
  ['history', { ok: true, exitCode: 0, result: historyJson([version]) }],
  [
    'deploy',
    {
      ok: true,
      exitCode: 0,
      result: { releaseId: 'r1', slot: 'green', image: 'pavemaster/web:2.0.0', version: '2.0.0', up: small },
    },
  ],
  [
    'abort',
    {
      ok: true,
      exitCode: 0,
      result: {
        releaseId: 'r1',
        slot: 'green',
        restored: { greenImage: 'x', greenVersion: null },
        lockFreed: true,
      },
    },
  ],
  ['recover', { ok: true, exitCode: 0, result: { locks: 1, pending: 0 } }],
  [
    'status',
    {
      ok: true,
      exitCode: 0,
      result: {
        activeSlot: 'blue',
        activeEndpoints: [],
        slots: [{ slot: 'blue', replicas: 1, ready: 1 }],
        drift: [],
        lock: null,
      },
    },
  ],
  [
    'preview',
    { ok: true, exitCode: 0, result: { counts: { same: 3 }, changes: [], traffic: [], warnings: [] } },
  ],
];

describe('release/schema.json', () => {
  it.each(valid)('accepts a %s document', (command, fields) => {
    const doc = JSON.parse(
      JSON.stringify(
        document({ command, stack: 'staging', ...(fields as { ok: boolean; exitCode: number }) }),
      ),
    ) as object;
    expect([validate(doc), validate.errors]).toEqual([true, null]);
  });

  it.each([
    ['a status without its slots', { command: 'status', ok: true, exitCode: 0, result: { slots: 1 } }],
    ['a success with a non-zero exit code', { command: 'status', ok: true, exitCode: 2, result: {} }],
    ['a failure without its error', { command: 'deploy', ok: false, exitCode: 1 }],
    [
      'a rollback that does not say what it posted',
      { command: 'rollback', ok: true, exitCode: 0, result: switchJson(sw) },
    ],
    [
      'an annotation outcome that is not posted, skipped or failed',
      {
        command: 'rollback',
        ok: true,
        exitCode: 0,
        result: {
          ...switchJson(sw),
          annotations: [{ event: 'rollback', target: 'slack', outcome: 'ok', detail: 'x' }],
        },
      },
    ],
    [
      'an exit code that is not documented',
      { command: 'deploy', ok: false, exitCode: 5, error: { message: 'x' } },
    ],
  ])('refuses %s', (_what, fields) => {
    expect(validate({ schema: 'pavemaster.release/v1', stack: 'staging', ...fields })).toBe(false);
  });
});
