/**
 * The direct API client's reading of a kubeconfig (release/kubeapi.ts): the current context resolved as kubectl
 * resolves it (KUBECONFIG's files merged, the first one naming an entry wins, relative paths from the file's
 * folder), and every credential it does not support named, so that the client library makes those calls instead. The client
 * itself runs against the real API server in test/integration/switch.int.test.ts.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { KubeTarget, kubeApiFor, resolveKubeconfig, resourcePath } from '../../../release/kubeapi';

let dir: string;

function write(name: string, doc: Record<string, unknown>): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, stringify(doc));
  return file;
}

function config(
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', ...cluster } }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    users: [{ name: 'u', user }],
    'current-context': 'ctx',
  };
}

function resolved(env: NodeJS.ProcessEnv): KubeTarget {
  const t = resolveKubeconfig(env);
  if (typeof t === 'string') {
    throw new Error(`not resolved: ${t}`);
  }
  return t;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-kubeapi-'));
  fs.mkdirSync(path.join(dir, 'pki'));
  fs.writeFileSync(path.join(dir, 'pki', 'ca.crt'), 'CA');
  fs.writeFileSync(path.join(dir, 'pki', 'admin.crt'), 'CERT');
  fs.writeFileSync(path.join(dir, 'pki', 'admin.key'), 'KEY');
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('kubeconfig for the direct client', () => {
  it('reads certificate files relative to the kubeconfig, and the same as inline data', () => {
    const files = write(
      'files.yaml',
      config(
        { 'client-certificate': 'pki/admin.crt', 'client-key': 'pki/admin.key' },
        { 'certificate-authority': 'pki/ca.crt', 'tls-server-name': 'kube' },
      ),
    );
    const t = resolved({ KUBECONFIG: files });
    expect(t.server.href).toBe('https://127.0.0.1:6443/');
    expect([t.ca?.toString(), t.cert?.toString(), t.key?.toString()]).toEqual(['CA', 'CERT', 'KEY']);
    expect(t.serverName).toBe('kube');
    expect(t.insecure).toBe(false);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const data = write(
      'data.yaml',
      config(
        { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') },
        { 'certificate-authority-data': b64('CA') },
      ),
    );
    const d = resolved({ KUBECONFIG: data });
    expect([d.ca?.toString(), d.cert?.toString(), d.key?.toString()]).toEqual(['CA', 'CERT', 'KEY']);
  });

  it('takes a token or a token file, and insecure-skip-tls-verify', () => {
    fs.writeFileSync(path.join(dir, 'token'), 'abc\n');
    const t = resolved({
      KUBECONFIG: write('t.yaml', config({ tokenFile: 'token' }, { 'insecure-skip-tls-verify': true })),
    });
    expect(t.token).toBe('abc');
    expect(t.insecure).toBe(true);
    expect(resolved({ KUBECONFIG: write('t2.yaml', config({ token: 'xyz' })) }).token).toBe('xyz');
  });

  it('merges KUBECONFIG files as kubectl does: the first current-context and the first entry of a name win', () => {
    const first = write('first.yaml', {
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.2:1' } }],
      'current-context': 'ctx',
    });
    const second = write('second.yaml', {
      ...config({ token: 'second' }),
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.3:2' } }],
      'current-context': 'other',
    });
    const t = resolved({ KUBECONFIG: [first, path.join(dir, 'missing.yaml'), second].join(path.delimiter) });
    expect(t.server.host).toBe('127.0.0.2:1');
    expect(t.token).toBe('second');
  });

  it('takes a username and password as basic auth (kubectl sends them); a token set as well wins', () => {
    const file = write('basic.yaml', config({ username: 'a', password: 'b' }));
    expect(resolved({ KUBECONFIG: file }).basicAuth).toEqual({ username: 'a', password: 'b' });
    expect(typeof kubeApiFor({ KUBECONFIG: file })).toBe('object');
    const both = write('both.yaml', config({ username: 'a', password: 'b', token: 't' }));
    expect(resolved({ KUBECONFIG: both })).toMatchObject({ token: 't', basicAuth: { username: 'a' } });
  });

  it('names what it leaves to the client library: credential plugins, impersonation, proxies, no context', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [config({ exec: { command: 'x' } }), /authenticates with exec/],
      [config({ 'auth-provider': { name: 'oidc' } }), /authenticates with auth-provider/],
      [config({ password: 'b' }), /user u has a password but no username/],
      [config({ token: 't', as: 'someone' }), /authenticates with as/],
      [config({ token: 't' }, { 'proxy-url': 'http://proxy:3128' }), /through a proxy/],
      [config({ 'client-certificate': 'pki/admin.crt' }), /without its key/],
      [config({ token: 't' }, { server: 'http://127.0.0.1:8080' }), /not https/],
      [{ ...config({ token: 't' }), 'current-context': undefined }, /no current context/],
    ];
    for (const [doc, why] of cases) {
      const file = write('case.yaml', doc);
      expect(resolveKubeconfig({ KUBECONFIG: file })).toMatch(why);
      expect(kubeApiFor({ KUBECONFIG: file })).toMatch(why);
    }
    const remote = write('remote.yaml', config({ token: 't' }, { server: 'https://kube.example:6443' }));
    expect(resolveKubeconfig({ KUBECONFIG: remote, HTTPS_PROXY: 'http://proxy:3128' })).toMatch(
      /proxy is set/,
    );
    expect(typeof resolveKubeconfig({ KUBECONFIG: remote })).toBe('object');
    expect(resolveKubeconfig({ KUBECONFIG: path.join(dir, 'none.yaml') })).toBe('no kubeconfig file');
  });

  it('PAVEMASTER_KUBE_CLIENT=library turns the direct client off; one client per kubeconfig', () => {
    const file = write('k.yaml', config({ token: 't' }));
    expect(kubeApiFor({ KUBECONFIG: file, PAVEMASTER_KUBE_CLIENT: 'library' })).toBe(
      'PAVEMASTER_KUBE_CLIENT=library',
    );
    const a = kubeApiFor({ KUBECONFIG: file });
    expect(typeof a).toBe('object');
    expect(kubeApiFor({ KUBECONFIG: file })).toBe(a);
    const other = write('k2.yaml', config({ token: 'other' }));
    expect(kubeApiFor({ KUBECONFIG: other })).not.toBe(a);
  });

  it('knows the kinds the release command calls, by kubectl names and by manifest apiVersion', () => {
    expect(resourcePath('svc')).toEqual({
      prefix: 'api/v1',
      plural: 'services',
      kind: 'Service',
      apiVersion: 'v1',
    });
    expect(resourcePath('Lease', 'coordination.k8s.io/v1')).toEqual({
      prefix: 'apis/coordination.k8s.io/v1',
      plural: 'leases',
      kind: 'Lease',
      apiVersion: 'coordination.k8s.io/v1',
    });
    expect(resourcePath('endpointslices')).toEqual(resourcePath('EndpointSlice', 'discovery.k8s.io/v1'));
    expect(resourcePath('Job', 'batch/v2')).toBeUndefined();
    expect(resourcePath('ValidatingAdmissionPolicy', 'admissionregistration.k8s.io/v1')).toBeUndefined();
  });
});
