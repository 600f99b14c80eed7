/**
 * release/kube.ts against the local Kubernetes API server, both ways it calls it: the direct client
 * (release/kubeapi.ts, the switch path) and the Kubernetes client library (release/kubelib.ts: watches, waiting
 * deletes, Job logs, the gate Jobs' server-side apply, and every call with `PAVEMASTER_KUBE_CLIENT=library` or a
 * kubeconfig the direct client does not support, here an `exec` credential plugin). The same calls give the same
 * answers either way; a wait ends on the watch event, not after polling; a delete waits for the object's
 * finalizer; no call spawns kubectl (the tests' own checks do, through `kubectlRun`).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse, stringify } from 'yaml';
import { Kube } from '../../release/kube';
import { ensureCluster, envFromScript } from '../../release/testing/sandbox';

jest.setTimeout(5 * 60 * 1000);

// Its own namespace each run: the last run's may still be terminating.
const NS = `it-kubeclient-${Date.now().toString(36)}`;

interface ConfigMap {
  metadata: {
    name: string;
    resourceVersion?: string;
    managedFields?: { manager?: string; operation?: string }[];
  };
  data?: Record<string, string>;
}

/** The tests' own kubectl, with its output checked. */
let admin: Kube;
let dir: string;

async function kubectl(...args: string[]): Promise<string> {
  const r = await admin.kubectlRun(args);
  if (r.code !== 0) {
    throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  }
  return r.stdout;
}

function configMap(name: string, data: Record<string, string>, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: NS, labels: { 'pavemaster.test/name': name }, ...extra },
    data,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  Object.assign(process.env, envFromScript());
  await ensureCluster();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-kubeclient-'));
  admin = new Kube(NS);
  const r = await admin.kubectlRun(['create', 'namespace', NS]);
  if (r.code !== 0 && !/AlreadyExists/.test(r.stderr)) {
    throw new Error(r.stderr);
  }
});

afterAll(async () => {
  await admin?.kubectlRun(['delete', 'namespace', NS, '--wait=false', '--ignore-not-found']);
  if (dir) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe.each([
  ['direct', {}],
  ['library', { PAVEMASTER_KUBE_CLIENT: 'library' }],
] as const)('release/kube.ts through the %s client', (mode, extraEnv) => {
  let kube: Kube;

  beforeAll(() => {
    kube = new Kube(NS, 'kubectl', { ...process.env, ...extraEnv });
    expect(typeof kube.api()).toBe(mode === 'direct' ? 'object' : 'string');
  });

  it('creates, reads, lists, replaces, server-side applies and deletes as the API server answers', async () => {
    const name = `objects-${mode}`;
    expect(await kube.create(configMap(name, { a: '1' }))).toEqual({ created: true });
    expect(await kube.create(configMap(name, { a: '1' }))).toEqual({ created: false });
    expect(
      await kube.create({ ...configMap(name, {}), metadata: { name, namespace: 'it-kubeclient-missing' } }),
    ).toEqual({ created: false, namespaceMissing: true });

    const got = await kube.get<ConfigMap>('configmap', name);
    expect(got?.data).toEqual({ a: '1' });
    expect(await kube.get('configmap', `${name}-absent`)).toBeUndefined();
    expect(
      (await kube.list<ConfigMap>('configmaps', `pavemaster.test/name=${name}`)).map((c) => c.metadata.name),
    ).toEqual([name]);

    // A replace at the resourceVersion read succeeds once; the same resourceVersion again is a conflict.
    const at = { resourceVersion: got?.metadata.resourceVersion };
    const replaced = await kube.replace(configMap(name, { a: '2' }, at));
    expect(replaced.replaced).toBe(true);
    expect(await kube.replace(configMap(name, { a: '3' }, at))).toEqual({ replaced: false });
    expect(await kube.replace(configMap(`${name}-absent`, { a: '3' }, { resourceVersion: '1' }))).toEqual({
      replaced: false,
    });

    // Server-side apply: under a named manager, and under the release command's (no namespace in the manifest).
    await kube.applyAs('pavemaster-test', configMap(name, { b: '3' }));
    await kube.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { c: '4' } });
    const applied = JSON.parse(
      await kubectl('get', 'configmap', name, '-o', 'json', '--show-managed-fields'),
    ) as ConfigMap;
    expect(applied.data).toEqual({ a: '2', b: '3', c: '4' });
    const appliers = (applied.metadata.managedFields ?? [])
      .filter((f) => f.operation === 'Apply')
      .map((f) => f.manager)
      .sort();
    expect(appliers).toEqual(['pavemaster-release', 'pavemaster-test']);
    await expect(kube.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: {} })).rejects.toThrow(
      /server-side apply \(field manager pavemaster-release\) failed: the manifest has no kind or no metadata.name/,
    );

    await kube.delete('configmap', name);
    expect(await kube.get('configmap', name)).toBeUndefined();
    await kube.delete('configmap', name);
  });

  it('a wait ends on the watch event of the change, not after polling', async () => {
    const name = `wait-${mode}`;
    await kube.create(configMap(name, { state: 'waiting' }));
    let checks = 0;
    const waiting = kube.waitFor(
      async () => {
        checks += 1;
        const c = await kube.get<ConfigMap>('configmap', name);
        return c?.data?.state === 'done' ? c.data.state : undefined;
      },
      [{ kind: 'configmap', fieldSelector: `metadata.name=${name}` }],
      { timeoutMs: 60_000, what: `configmap/${name} to be done` },
    );
    // 3 s without a change: a 250 ms poll would have checked a dozen times; the watch checks on events only.
    await sleep(3000);
    const checksBefore = checks;
    await kubectl(
      'patch',
      'configmap',
      name,
      '--type=merge',
      '-p',
      JSON.stringify({ data: { state: 'done' } }),
    );
    const patched = Date.now();
    expect(await waiting).toBe('done');
    const ms = Date.now() - patched;
    console.log(`${mode}: the wait ended ${ms} ms after the patch; ${checksBefore} checks before it`);
    expect(checksBefore).toBeLessThanOrEqual(2);
    expect(checks).toBeLessThanOrEqual(checksBefore + 2);
    await kube.delete('configmap', name);
  });

  it('a delete waits until the object is gone (its finalizer removed); a wait that never ends says so', async () => {
    const name = `finalized-${mode}`;
    await kube.create(configMap(name, {}, { finalizers: ['pavemaster.test/hold'] }));
    let done = false;
    const deleting = kube.delete('configmap', name).then(() => {
      done = true;
    });
    await sleep(2000);
    const held = await kube.get<{ metadata: { deletionTimestamp?: string } }>('configmap', name);
    const removeFinalizer = () =>
      kubectl(
        'patch',
        'configmap',
        name,
        '--type=json',
        '-p',
        '[{"op":"remove","path":"/metadata/finalizers"}]',
      );
    try {
      expect(done).toBe(false);
      // The API server's string, from either client.
      expect(held?.metadata.deletionTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    } finally {
      await removeFinalizer();
      await deleting;
    }
    expect(done).toBe(true);
    expect(await kube.get('configmap', name)).toBeUndefined();

    await expect(
      kube.waitFor(
        () => Promise.resolve(undefined),
        [{ kind: 'configmap', fieldSelector: 'metadata.name=none' }],
        {
          timeoutMs: 1500,
          what: 'nothing',
          last: () => Promise.resolve('still nothing'),
        },
      ),
    ).rejects.toThrow('timed out after 2s waiting for nothing: still nothing');
  });
});

describe('a kubeconfig the direct client does not support', () => {
  it('an exec credential plugin: every call goes through the client library, which runs the plugin', async () => {
    // The cluster's own client certificate, handed out by a credential plugin instead of the kubeconfig.
    const file = (process.env.KUBECONFIG ?? '').split(path.delimiter)[0];
    const doc = parse(fs.readFileSync(file, 'utf8')) as {
      users: { name: string; user: Record<string, string> }[];
      contexts: { name: string; context: { user: string } }[];
      'current-context': string;
    };
    const userName = doc.contexts.find((c) => c.name === doc['current-context'])?.context.user;
    const user = doc.users.find((u) => u.name === userName)?.user ?? {};
    const pem = (data: string | undefined, certFile: string | undefined) =>
      data !== undefined
        ? Buffer.from(data, 'base64').toString('utf8')
        : fs.readFileSync(path.resolve(path.dirname(file), certFile ?? ''), 'utf8');
    const credential = {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: {
        clientCertificateData: pem(user['client-certificate-data'], user['client-certificate']),
        clientKeyData: pem(user['client-key-data'], user['client-key']),
      },
    };
    const calls = path.join(dir, 'plugin-calls');
    const plugin = path.join(dir, 'credential-plugin');
    fs.writeFileSync(path.join(dir, 'credential.json'), JSON.stringify(credential));
    fs.writeFileSync(
      plugin,
      `#!/bin/sh\necho called >> '${calls}'\ncat '${path.join(dir, 'credential.json')}'\n`,
      {
        mode: 0o700,
      },
    );
    const users = doc.users.map((u) =>
      u.name === userName
        ? {
            name: u.name,
            user: {
              exec: {
                apiVersion: 'client.authentication.k8s.io/v1',
                command: plugin,
                interactiveMode: 'Never',
              },
            },
          }
        : u,
    );
    const execConfig = path.join(dir, 'exec-kubeconfig.yaml');
    fs.writeFileSync(execConfig, stringify({ ...doc, users }));

    const kube = new Kube(NS, 'kubectl', { ...process.env, KUBECONFIG: execConfig });
    expect(kube.api()).toBe(`user ${userName} authenticates with exec`);
    const name = 'exec-plugin';
    expect(await kube.create(configMap(name, { via: 'exec' }))).toEqual({ created: true });
    expect((await kube.get<ConfigMap>('configmap', name))?.data).toEqual({ via: 'exec' });
    await kube.delete('configmap', name);
    expect(await kube.get('configmap', name)).toBeUndefined();
    expect(fs.readFileSync(calls, 'utf8')).toContain('called');
  });
});
