/**
 * The program entry point: with bad config it fails before registering any resource, and with good config it
 * exports what operators and the release command read.
 */
import * as pulumi from '@pulumi/pulumi';
import * as fs from 'fs';
import * as path from 'path';
import { record } from '../../support/harness';
import { REPO, stackConfig } from '../../support/stackConfig';

function setStackConfig(raw: Record<string, string>): void {
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    values[`pavemaster:${k}`] = v;
  }
  pulumi.runtime.setAllConfig(values, []);
}

test('bad config fails before any resource is registered, naming every problem', async () => {
  let error: unknown;
  const resources = await record(
    () => {
      setStackConfig(stackConfig('staging', { activeSlot: 'teal', replicas: 0 }));
      jest.isolateModules(() => {
        try {
          // A fresh copy of the program module per run: jest.isolateModules needs a synchronous require.
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          require('../../../infra/index');
        } catch (e) {
          error = e;
        }
      });
    },
    { stack: 'staging' },
  );
  expect(String(error)).toMatch(/pavemaster:activeSlot = "teal"[\s\S]*pavemaster:replicas = "0"/);
  expect(resources.filter((r) => r.type !== 'pulumi:pulumi:Stack')).toEqual([]);
});

test('good config registers the stack and exports its outputs', async () => {
  let exported: Record<string, unknown> = {};
  await record(
    () => {
      setStackConfig(stackConfig('staging'));
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        exported = require('../../../infra/index') as Record<string, unknown>;
      });
    },
    { stack: 'staging' },
  );
  for (const key of [
    'environment',
    'namespace',
    'activeSlot',
    'idleSlot',
    'images',
    'versions',
    'activeServiceName',
    'previewServiceName',
    'blueDeploymentName',
    'greenDeploymentName',
    'url',
  ]) {
    expect(exported).toHaveProperty(key);
  }
  const images = await new Promise((resolve) => (exported.images as pulumi.Output<unknown>).apply(resolve));
  expect(images).toEqual({ blue: 'pavemaster/web:1.0.0', green: 'pavemaster/web:1.0.0' });
});

test('the layout is what users expect', () => {
  for (const p of [
    'Pulumi.yaml',
    'Pulumi.staging.yaml',
    'Pulumi.production.yaml',
    'package.json',
    'tsconfig.json',
    'infra/index.ts',
    'components/BlueGreenApp.ts',
    'stacks/settings.ts',
    'README.md',
    '.ci/run',
  ]) {
    expect({ p, exists: fs.existsSync(path.join(REPO, p)) }).toEqual({ p, exists: true });
  }
  const tsconfig = JSON.parse(fs.readFileSync(path.join(REPO, 'tsconfig.json'), 'utf8')) as {
    compilerOptions: { strict: boolean };
  };
  expect(tsconfig.compilerOptions.strict).toBe(true);
  expect(fs.readFileSync(path.join(REPO, 'Pulumi.yaml'), 'utf8')).toMatch(
    /^name: pavemaster$[\s\S]*^main: infra\/main\.js$/m,
  );
});

test('the committed stack files hold no secret values and no machine-specific settings', () => {
  for (const stack of ['staging', 'production']) {
    const text = fs.readFileSync(path.join(REPO, `Pulumi.${stack}.yaml`), 'utf8');
    expect(text).not.toMatch(/secure:/);
    expect(text).not.toMatch(/\/(root|home|work|tmp|Users)\//);
    expect(text).not.toMatch(/password|webhook|token/i);
    expect(text).not.toMatch(/127\.0\.0\.1|localhost:\d+/);
  }
});
