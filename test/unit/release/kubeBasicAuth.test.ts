/**
 * A kubeconfig whose user authenticates with `username`/`password` (HTTP basic auth, which kubectl sends): the
 * release command sends it on both of its paths to the API server, the direct client (release/kubeapi.ts) and the
 * client library (release/kubelib.ts, `PAVEMASTER_KUBE_CLIENT=library`), for the kinds it reads and for the
 * service proxy the post-promotion check reaches Prometheus through. Against an HTTPS server on 127.0.0.1 (its
 * certificate made by openssl now) that answers only requests carrying the right basic-auth header, as an API
 * server (or the authenticating proxy in front of one) that accepts basic auth does. The same server shows how a
 * port-forward to a Service picks its pod and port (the forward itself runs on the real node: releaseE2e), and
 * how a service-proxy refusal reads.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as https from 'https';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { Kube } from '../../../release/kube';
import { KubeApi } from '../../../release/kubeapi';
import { PrometheusClient, serviceProxyTransport } from '../../../release/postPromotion';
import { makeTestPki } from '../../../release/testing/recorder';

/** A fake password, built at run time (nothing secret-shaped in git). */
const password = ['test', 'password', String(Date.now())].join('-');
const USER = 'operator';

let dir: string;
let server: https.Server;
let port: number;
/** The `Authorization` header of every request, in order. */
const seen: (string | undefined)[] = [];

const CONFIGMAP = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'x', namespace: 'default', resourceVersion: '7' },
  data: { answer: '42' },
};
/** The discovery document the client library reads to find a kind's plural. */
const CORE_RESOURCES = {
  kind: 'APIResourceList',
  apiVersion: 'v1',
  groupVersion: 'v1',
  resources: [
    { name: 'configmaps', singularName: 'configmap', namespaced: true, kind: 'ConfigMap', verbs: ['get'] },
  ],
};
const PROXY = '/api/v1/namespaces/mon/services/http:prometheus:9090/proxy/api/v1/query';
/** The monitoring namespace's objects a port-forward reads: Grafana's Service and pods. */
const GRAFANA_SERVICE = {
  metadata: { name: 'grafana' },
  spec: { selector: { app: 'grafana' }, ports: [{ name: 'http', port: 3000, targetPort: 'web' }] },
};
const grafanaPod = (name: string, ready: boolean) => ({
  metadata: { name, labels: { app: 'grafana' } },
  spec: { containers: [{ name: 'grafana', ports: [{ name: 'web', containerPort: 3001 }] }] },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});
/** What the pods list answers; the port-forward's pod requests are recorded. */
let grafanaPods = [grafanaPod('grafana-old', false), grafanaPod('grafana-new', true)];

function status(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-basicauth-'));
  const pki = makeTestPki(dir, (args) => execFileSync('openssl', args, { stdio: 'pipe' }));
  const expected = `Basic ${Buffer.from(`${USER}:${password}`).toString('base64')}`;
  server = https.createServer({ key: pki.key, cert: pki.cert }, (req, res) => {
    seen.push(req.headers.authorization);
    res.setHeader('content-type', 'application/json');
    if (req.headers.authorization !== expected) {
      res.statusCode = 401;
      res.end(status(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    const url = new URL(req.url ?? '/', 'https://x');
    if (url.pathname === '/api/v1') {
      res.end(JSON.stringify(CORE_RESOURCES));
    } else if (url.pathname === '/api/v1/namespaces/default/configmaps/x') {
      res.end(JSON.stringify(CONFIGMAP));
    } else if (url.pathname === '/api/v1/namespaces/mon/services/grafana') {
      res.end(JSON.stringify(GRAFANA_SERVICE));
    } else if (
      url.pathname === '/api/v1/namespaces/mon/pods' &&
      url.searchParams.get('labelSelector') === 'app=grafana'
    ) {
      res.end(JSON.stringify({ kind: 'PodList', items: grafanaPods }));
    } else if (url.pathname === '/api/v1/namespaces/mon/services/http:empty:9090/proxy/api/v1/query') {
      res.statusCode = 503;
      res.end(status(503, 'ServiceUnavailable', 'no endpoints available for service "empty"'));
    } else if (url.pathname === PROXY && url.searchParams.get('query') === 'vector(42)') {
      res.end(
        JSON.stringify({
          status: 'success',
          data: { resultType: 'vector', result: [{ metric: {}, value: [1700000000, '42'] }] },
        }),
      );
    } else {
      res.statusCode = 404;
      res.end(status(404, 'NotFound', `${url.pathname} not found`));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
  const kubeconfig = (pass: string) => ({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'c',
        cluster: {
          server: `https://127.0.0.1:${port}`,
          'certificate-authority-data': Buffer.from(pki.caPem).toString('base64'),
        },
      },
    ],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'basic' } }],
    users: [{ name: 'basic', user: { username: USER, password: pass } }],
    'current-context': 'ctx',
  });
  fs.writeFileSync(path.join(dir, 'good.yaml'), stringify(kubeconfig(password)));
  fs.writeFileSync(path.join(dir, 'bad.yaml'), stringify(kubeconfig(`${password}-wrong`)));
});

afterAll(async () => {
  await new Promise<void>((resolve) => {
    server?.closeAllConnections();
    server?.close(() => resolve());
  });
  fs.rmSync(dir, { recursive: true, force: true });
});

const PATHS: [string, Record<string, string>][] = [
  ['the direct client', {}],
  ['the client library', { PAVEMASTER_KUBE_CLIENT: 'library' }],
];

describe('a kubeconfig user with username and password (basic auth)', () => {
  it.each(PATHS)(
    '%s sends them: reads an object and queries Prometheus through the service proxy',
    async (_, extra) => {
      const env = { KUBECONFIG: path.join(dir, 'good.yaml'), ...extra };
      const kube = new Kube('default', 'kubectl', env);
      // The direct client takes this kubeconfig itself; with the library forced, the library makes every call.
      expect(kube.api() instanceof KubeApi).toBe(extra.PAVEMASTER_KUBE_CLIENT === undefined);
      seen.length = 0;
      expect(await kube.get<typeof CONFIGMAP>('configmap', 'x')).toMatchObject({ data: { answer: '42' } });
      const prometheus = new PrometheusClient(
        serviceProxyTransport(
          { namespace: 'mon', service: 'prometheus', port: '9090', scheme: 'http' },
          { kube },
        ),
      );
      expect(await prometheus.query('vector(42)')).toEqual([{ metric: {}, value: 42 }]);
      expect(seen.length).toBeGreaterThanOrEqual(2);
      expect(new Set(seen)).toEqual(
        new Set([`Basic ${Buffer.from(`${USER}:${password}`).toString('base64')}`]),
      );
    },
  );

  it.each(PATHS)(
    '%s: a wrong password is the API server refusal, not a silent fallback',
    async (_, extra) => {
      const kube = new Kube('default', 'kubectl', { KUBECONFIG: path.join(dir, 'bad.yaml'), ...extra });
      await expect(kube.get('configmap', 'x')).rejects.toThrow(/get configmap x failed: .*Unauthorized/);
      const prometheus = new PrometheusClient(
        serviceProxyTransport(
          { namespace: 'mon', service: 'prometheus', port: '9090', scheme: 'http' },
          { kube },
        ),
      );
      await expect(prometheus.query('vector(42)')).rejects.toThrow(
        "Service mon/prometheus:9090 through the API server's service proxy: HTTP 401: Unauthorized",
      );
    },
  );

  it("a port-forward to a Service resolves its port to a ready pod's (a named target port), and says when none is ready", async () => {
    const kube = new Kube('mon', 'kubectl', { KUBECONFIG: path.join(dir, 'good.yaml') });
    const forward = await kube.forwardService('grafana', '3000');
    try {
      // The ready pod, not the first listed; port 3000 of the Service is the pod's port named web (3001).
      expect([forward.pod, forward.port]).toEqual(['grafana-new', 3001]);
      expect(forward.localPort).toBeGreaterThan(0);
    } finally {
      await forward.close();
    }
    grafanaPods = [grafanaPod('grafana-old', false)];
    await expect(kube.forwardService('grafana', '3000')).rejects.toThrow(
      'no running, ready pod behind service mon/grafana to forward to (1 pod(s) selected)',
    );
    await expect(kube.forwardService('grafana', '80')).rejects.toThrow(
      'service mon/grafana has no port 80 (it has 3000)',
    );
  });

  it("a service-proxy refusal is the API server's reason", async () => {
    const kube = new Kube('mon', 'kubectl', { KUBECONFIG: path.join(dir, 'good.yaml') });
    const empty = new PrometheusClient(
      serviceProxyTransport({ namespace: 'mon', service: 'empty', port: '9090', scheme: 'http' }, { kube }),
    );
    expect(await empty.check()).toBe(
      'Service mon/empty:9090 through the API server\'s service proxy: HTTP 503: no endpoints available for service "empty"',
    );
  });
});
