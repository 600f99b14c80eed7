/**
 * The client library's side of release/kube.ts (release/kubelib.ts): it loads in this CommonJS test run (jest's
 * esmToCjs transform; Node.js 24 loads it with require at run time), reads KUBECONFIG as kubectl does, which the
 * library's own loadFromDefault does not (it refuses a name two files define), and says a refused connection in
 * the words release/errors.ts recognises. Its calls against the real API server: test/integration/kubeclient.int.test.ts.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { Kube } from '../../../release/kube';
import { kubeConfigFor, KubeLibrary, loadKubeLibrary } from '../../../release/kubelib';

let dir: string;

function write(name: string, doc: Record<string, unknown>): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, stringify(doc));
  return file;
}

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-kubelib-'));
  fs.mkdirSync(path.join(dir, 'pki'));
  fs.writeFileSync(path.join(dir, 'pki', 'ca.crt'), 'CA');
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the Kubernetes client library', () => {
  it('merges KUBECONFIG files as kubectl does: the first current-context and the first entry of a name win', async () => {
    const lib = await loadKubeLibrary();
    const first = write('first.yaml', {
      clusters: [
        { name: 'c', cluster: { server: 'https://127.0.0.2:1', 'certificate-authority': 'pki/ca.crt' } },
      ],
      'current-context': 'ctx',
    });
    const second = write('second.yaml', {
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.3:2' } }],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
      users: [
        { name: 'u', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'cred' } } },
      ],
      'current-context': 'other',
    });
    const kc = kubeConfigFor(lib, {
      KUBECONFIG: [first, path.join(dir, 'missing.yaml'), second].join(path.delimiter),
    });
    expect(kc.getCurrentContext()).toBe('ctx');
    expect(kc.getCurrentCluster()?.server).toBe('https://127.0.0.2:1');
    // Relative to the file that names it, as kubectl reads it.
    expect(kc.getCurrentCluster()?.caFile).toBe(path.join(dir, 'pki', 'ca.crt'));
    expect(kc.getCurrentUser()?.exec).toMatchObject({ command: 'cred' });
    expect(() => kubeConfigFor(lib, { KUBECONFIG: path.join(dir, 'none.yaml'), HOME: dir })).toThrow(
      /no configuration has been provided: no kubeconfig file/,
    );
    const noContext = write('nocontext.yaml', {
      clusters: [{ name: 'c', cluster: { server: 'https://x:1' } }],
    });
    expect(() => kubeConfigFor(lib, { KUBECONFIG: noContext })).toThrow(/names no current-context/);
  });

  it('says a refused connection as kubectl does, and the direct client off routes calls through it', async () => {
    const port = await closedPort();
    const file = write('k.yaml', {
      clusters: [
        { name: 'c', cluster: { server: `https://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } },
      ],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
      users: [{ name: 'u', user: { token: 't' } }],
      'current-context': 'ctx',
    });
    const lib = await KubeLibrary.forEnv({ KUBECONFIG: file });
    const refused = `Unable to connect to the server: dial tcp 127.0.0.1:${port}: connect: connection refused`;
    await expect(lib.podLog('default', 'p', 'c', 10)).rejects.toThrow(refused);
    const kube = new Kube('default', 'kubectl', { KUBECONFIG: file, PAVEMASTER_KUBE_CLIENT: 'library' });
    expect(kube.api()).toBe('PAVEMASTER_KUBE_CLIENT=library');
    await expect(kube.get('configmap', 'x')).rejects.toThrow(`get configmap x failed: ${refused}`);
  });
});
