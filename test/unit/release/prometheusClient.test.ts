/**
 * The post-promotion check's Prometheus client for a managed Prometheus reached directly: bearer token (inline
 * secret or a file read at each query), basic auth, a CA of its own for https; validated with every other config
 * problem, secrets never shown. Against real HTTP(S) servers on 127.0.0.1 (certificates made by openssl now).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as util from 'util';
import { PrometheusClient, resolvePrometheus } from '../../../release/postPromotion';
import { makeTestPki, Recorder, startRecorder, TestPki } from '../../../release/testing/recorder';
import { ConfigError, Problems } from '../../../stacks/problems';
import { ReleaseSettings } from '../../../stacks/release';
import { parseReleaseFor } from './support';

/** A fake token, built at run time (no key-shaped literal in git). */
const fakeToken = (n: number) => ['test', 'bearer', String(Date.now()), String(n)].join('-');

/** Parses release config as the loader does: secret keys redacted in problems. */
function parse(config: Record<string, unknown>): { r: ReleaseSettings; problems: Problems } {
  const { problems, ...r } = parseReleaseFor(config, { redactSecrets: true });
  return { r, problems };
}

const vector = JSON.stringify({
  status: 'success',
  data: { resultType: 'vector', result: [{ metric: {}, value: [1700000000, '1'] }] },
});

describe('pavemaster:release.prometheusClient', () => {
  it('reads basic auth, a token file and a CA for a prometheusUrl reached directly', () => {
    const password = fakeToken(1);
    const { r, problems } = parse({
      release: {
        prometheusUrl: 'https://prometheus.example.com/api/prom',
        prometheusClient: { basicAuthUser: 'pavemaster', caFile: '/etc/ssl/prom-ca.pem', timeoutSeconds: 20 },
      },
      prometheusPassword: password,
    });
    expect(problems.list).toEqual([]);
    expect(r.prometheusClient).toMatchObject({
      basicAuthUser: 'pavemaster',
      caFile: '/etc/ssl/prom-ca.pem',
      timeoutSeconds: 20,
    });
    expect(r.prometheusClient.basicAuthPassword?.reveal()).toBe(password);
    // The secret never prints: not as a string, not as JSON, not through util.inspect (console.log, jest).
    const shown = [
      String(r.prometheusClient.basicAuthPassword),
      JSON.stringify(r),
      util.inspect(r, { depth: 10 }),
    ].join('\n');
    expect(shown).not.toContain(password);
    expect(shown).toContain('[secret]');
    expect(parse({}).r.prometheusClient).toEqual({
      basicAuthUser: undefined,
      basicAuthPassword: undefined,
      bearerToken: undefined,
      bearerTokenFile: undefined,
      caPem: undefined,
      caFile: undefined,
      timeoutSeconds: 10,
    });
  });

  it('lists every bad setting at once, naming the key and what is allowed, secrets redacted', () => {
    const token = fakeToken(2);
    const password = fakeToken(3);
    const { problems } = parse({
      release: {
        prometheusUrl: 'http://prometheus.pavemaster-staging-monitoring.svc:9090',
        prometheusClient: {
          basicAuthUser: 'a:b',
          bearerTokenFile: '/run/token',
          caPem: 'not a certificate',
          caFile: '/etc/ca.pem',
          timeoutSeconds: 0,
          tokne: 'x',
        },
      },
      prometheusBearerToken: token,
      prometheusPassword: password,
    });
    const text = new ConfigError('staging', problems.list).message;
    expect(problems.list.map((p) => p.key)).toEqual([
      'pavemaster:release.prometheusClient.basicAuthUser',
      'pavemaster:release.prometheusClient.caPem',
      'pavemaster:release.prometheusClient.timeoutSeconds',
      'pavemaster:release.prometheusClient.bearerTokenFile',
      // the user was given (if badly) with a bearer token: both auth kinds at once
      'pavemaster:release.prometheusClient.basicAuthUser',
      // each setting that needs a URL reached directly, on its own key
      'pavemaster:prometheusBearerToken',
      'pavemaster:prometheusPassword',
      'pavemaster:release.prometheusClient.bearerTokenFile',
      'pavemaster:release.prometheusClient.caFile',
      'pavemaster:release.prometheusClient.tokne',
    ]);
    expect(text).toContain(
      'a pavemaster:release.prometheusUrl reached directly (it is "http://prometheus.pavemaster-staging-monitoring.svc:9090"',
    );
    expect(text).toContain('no such key');
    expect(text).not.toContain(token);
    expect(text).not.toContain(password);
  });

  it('pairs basic auth with its password, and refuses both auth kinds at once', () => {
    const url = { prometheusUrl: 'https://prom.example.com' };
    expect(
      parse({ release: { ...url, prometheusClient: { basicAuthUser: 'u' } } }).problems.list.map((p) => [
        p.key,
        p.allowed,
      ]),
    ).toEqual([
      [
        'pavemaster:release.prometheusClient.basicAuthUser',
        'set together with the secret pavemaster:prometheusPassword',
      ],
    ]);
    const lone = parse({ release: url, prometheusPassword: fakeToken(4) }).problems.list;
    expect(lone).toEqual([
      {
        key: 'pavemaster:prometheusPassword',
        value: '[secret]',
        allowed: 'set together with pavemaster:release.prometheusClient.basicAuthUser',
      },
    ]);
    const both = parse({
      release: { ...url, prometheusClient: { basicAuthUser: 'u' } },
      prometheusPassword: fakeToken(5),
      prometheusBearerToken: fakeToken(6),
    }).problems.list;
    expect(both.map((p) => p.allowed)).toEqual([
      expect.stringContaining('one of bearer token or basic auth'),
    ]);
  });

  it('never sends credentials in clear (https, or loopback such as a port-forward) and a CA needs https', () => {
    const token = { prometheusBearerToken: fakeToken(7) };
    expect(
      parse({ release: { prometheusUrl: 'http://prom.example.com:9090' }, ...token }).problems.list.map(
        (p) => [p.key, p.value, p.allowed],
      ),
    ).toEqual([
      [
        'pavemaster:prometheusBearerToken',
        '[secret]',
        'unset, or an https pavemaster:release.prometheusUrl (or a loopback one, such as a port-forward; it is "http://prom.example.com:9090"): credentials are never sent in clear',
      ],
    ]);
    expect(parse({ release: { prometheusUrl: 'http://127.0.0.1:9090' }, ...token }).problems.list).toEqual(
      [],
    );
    expect(parse({ release: { prometheusUrl: 'https://prom.example.com' }, ...token }).problems.list).toEqual(
      [],
    );
    expect(parse({ ...token }).problems.list.map((p) => p.key)).toEqual(['pavemaster:prometheusBearerToken']);
    expect(
      parse({ release: { prometheusUrl: 'http://127.0.0.1:9090', prometheusClient: { caFile: '/ca.pem' } } })
        .problems.list,
    ).toEqual([
      {
        key: 'pavemaster:release.prometheusClient.caFile',
        value: '/ca.pem',
        allowed: 'unset, or an https pavemaster:release.prometheusUrl (it is "http://127.0.0.1:9090")',
      },
    ]);
  });
});

describe('the Prometheus client on fetch, against servers on 127.0.0.1', () => {
  let dir: string;
  let pki: TestPki;
  let tlsServer: Recorder;
  let plain: Recorder;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-prom-client-'));
    pki = makeTestPki(dir, (args) => execFileSync('openssl', args, { stdio: 'pipe' }));
    tlsServer = await startRecorder({ tls: { key: pki.key, cert: pki.cert } });
    tlsServer.body = vector;
    plain = await startRecorder();
    plain.body = vector;
  });
  afterAll(async () => {
    await tlsServer?.close();
    await plain?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    tlsServer.requests.length = 0;
    plain.requests.length = 0;
    tlsServer.status = 200;
    plain.status = 200;
  });

  function client(url: string, config: Record<string, unknown>, secrets: Record<string, string> = {}) {
    const { r, problems } = parse({ release: { prometheusUrl: url, ...config }, ...secrets });
    expect(problems.list).toEqual([]);
    const target = resolvePrometheus({ configUrl: r.prometheusUrl, client: r.prometheusClient });
    if (!target.transport) {
      throw new Error(target.source);
    }
    return { client: new PrometheusClient(target.transport), source: target.source };
  }

  it('trusts its own CA (inline or from a file) for https, and names the fix when the CA is not trusted', async () => {
    const inline = client(tlsServer.url, { prometheusClient: { caPem: pki.caPem } });
    await expect(inline.client.query('up')).resolves.toEqual([{ metric: {}, value: 1 }]);
    expect(inline.source).toContain('own CA');
    const file = path.join(dir, 'ca-bundle.pem');
    fs.writeFileSync(file, pki.caPem);
    await expect(
      client(tlsServer.url, { prometheusClient: { caFile: file } }).client.query('up'),
    ).resolves.toEqual([{ metric: {}, value: 1 }]);
    // The system's roots do not know the test CA; another CA does not either.
    await expect(client(tlsServer.url, {}).client.query('up')).rejects.toThrow(
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify.*trust its CA with pavemaster:release.prometheusClient.caPem or caFile/,
    );
    await expect(
      client(tlsServer.url, { prometheusClient: { caPem: pki.otherCaPem } }).client.query('up'),
    ).rejects.toThrow(/caPem or caFile/);
    expect(tlsServer.requests.filter((r) => r.path.startsWith('/api/v1/query'))).toHaveLength(2);
  });

  it('sends the bearer token (secret) over https, and basic auth', async () => {
    const token = fakeToken(8);
    await client(
      tlsServer.url,
      { prometheusClient: { caPem: pki.caPem } },
      { prometheusBearerToken: token },
    ).client.query('up');
    expect(tlsServer.requests[0].headers.authorization).toBe(`Bearer ${token}`);
    const password = fakeToken(9);
    const basic = client(
      tlsServer.url,
      { prometheusClient: { caPem: pki.caPem, basicAuthUser: 'grafana-cloud-1234' } },
      { prometheusPassword: password },
    );
    await basic.client.query('up');
    expect(basic.source).toContain('basic auth');
    expect(basic.source).not.toContain(password);
    const header = String(tlsServer.requests[1].headers.authorization);
    expect(header.startsWith('Basic ')).toBe(true);
    expect(Buffer.from(header.slice(6), 'base64').toString('utf8')).toBe(`grafana-cloud-1234:${password}`);
  });

  it('reads a token file before every query, so a rotated token is used at once', async () => {
    const file = path.join(dir, 'token');
    const first = fakeToken(10);
    const second = fakeToken(11);
    fs.writeFileSync(file, `${first}\n`);
    const c = client(plain.url, { prometheusClient: { bearerTokenFile: file } }).client;
    await c.query('up');
    fs.writeFileSync(file, second);
    await c.query('up');
    expect(plain.requests.map((r) => r.headers.authorization)).toEqual([
      `Bearer ${first}`,
      `Bearer ${second}`,
    ]);
    fs.rmSync(file);
    await expect(c.query('up')).rejects.toThrow(
      /pavemaster:release.prometheusClient.bearerTokenFile .* cannot be read: ENOENT/,
    );
  });

  it('says which credentials a 401 refused, without the secret; follows no redirect', async () => {
    const token = fakeToken(12);
    const c = client(plain.url, {}, { prometheusBearerToken: token }).client;
    plain.status = 401;
    plain.body = 'authentication required';
    const refused = await c.query('up').then(
      () => '',
      (e: Error) => e.message,
    );
    expect(refused).toMatch(/^HTTP 401 from http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query \(sent bearer token\)/);
    expect(refused).toContain('pavemaster:prometheusBearerToken');
    expect(refused).not.toContain(token);
    plain.status = 302;
    plain.body = '';
    await expect(c.query('up')).rejects.toThrow(/HTTP 302 .* not followed/);
    expect(plain.requests).toHaveLength(2);
    plain.body = vector;
  });

  it('gives the credentials only to the configured origin: a --prometheus-url elsewhere gets none', async () => {
    const token = fakeToken(13);
    const { r } = parse({
      release: { prometheusUrl: 'https://prom.example.com' },
      prometheusBearerToken: token,
    });
    const elsewhere = resolvePrometheus({
      flagUrl: plain.url,
      configUrl: r.prometheusUrl,
      client: r.prometheusClient,
    });
    await new PrometheusClient(elsewhere.transport as NonNullable<typeof elsewhere.transport>).query('up');
    expect(plain.requests[0].headers.authorization).toBeUndefined();
    expect(elsewhere.source).toBe(`--prometheus-url: ${plain.url}`);
  });

  it('counts a Prometheus that accepts but never answers as unanswered after the timeout', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const started = Date.now();
      await expect(new PrometheusClient(`http://127.0.0.1:${port}`, 300).query('up')).rejects.toThrow(
        `no answer from http://127.0.0.1:${port} within 300 ms`,
      );
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      sockets.forEach((socket) => socket.destroy());
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});
