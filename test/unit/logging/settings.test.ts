/**
 * The `pavemaster:logging` section: per-environment defaults, and every bad value reported as a problem that
 * names its full key, all at once, before any resource is registered.
 */
import { LOGGING_IMAGES } from '../../../components/versions';
import { parseJvmSize } from '../../../components/shared/checks';
import { ConfigError } from '../../../stacks/problems';
import { loadSettings } from '../../../stacks/settings';
import { stackConfig } from '../../support/stackConfig';

function problemsOf(stack: string, logging: unknown): { key: string; allowed: string }[] {
  try {
    loadSettings(stack, stackConfig(stack, { logging }));
  } catch (e) {
    if (e instanceof ConfigError) {
      return e.problems.map((p) => ({ key: p.key, allowed: p.allowed }));
    }
    throw e;
  }
  return [];
}

describe('logging settings defaults', () => {
  it('staging: one Elasticsearch node, 7 days, unprotected, namespaces derived from the app namespace', () => {
    const l = loadSettings('staging', stackConfig('staging')).logging;
    expect(l.enabled).toBe(true);
    expect(l.namespace).toBe('pavemaster-staging-logging');
    expect(l.nodeNamespace).toBe('pavemaster-staging-logging-node');
    expect(l.elasticsearch.replicas).toBe(1);
    expect(l.retentionDays).toBe(7);
    expect(l.protect).toBe(false);
    expect(l.awaitSetupJobs).toBe(false);
    expect(l.elasticsearch.image).toBe(LOGGING_IMAGES.elasticsearch);
  });

  it('production: three nodes, 30 days, protected, heap within half the limit', () => {
    const l = loadSettings('production', stackConfig('production')).logging;
    expect(l.elasticsearch.replicas).toBe(3);
    expect(l.retentionDays).toBe(30);
    expect(l.protect).toBe(true);
    expect(l.elasticsearch.antiAffinity).toBe('required');
    const heap = parseJvmSize(l.elasticsearch.heap) ?? Infinity;
    expect(heap).toBeLessThanOrEqual((4 * 2 ** 30) / 2);
  });

  it('takes overrides', () => {
    const l = loadSettings(
      'staging',
      stackConfig('staging', {
        logging: {
          retentionDays: 14,
          elasticsearch: {
            replicas: 3,
            heap: '1g',
            resources: { limits: { memory: '2Gi' }, requests: { memory: '2Gi' } },
          },
          kibana: { host: 'kibana.example.com', ingressFrom: [{ namespace: 'ingress-nginx' }] },
        },
      }),
    ).logging;
    expect(l.retentionDays).toBe(14);
    expect(l.elasticsearch.replicas).toBe(3);
    expect(l.elasticsearch.heap).toBe('1g');
    expect(l.kibana.host).toBe('kibana.example.com');
    expect(l.kibana.ingressFrom).toEqual([{ namespace: 'ingress-nginx' }]);
  });

  it('Kibana admits nobody else by default; a host needs the sources that may reach it', () => {
    expect(loadSettings('staging', stackConfig('staging')).logging.kibana.ingressFrom).toEqual([]);
    expect(problemsOf('staging', { kibana: { host: 'kibana.example.com' } })).toEqual([
      {
        key: 'pavemaster:logging.kibana.ingressFrom',
        allowed: expect.stringContaining(
          'at least one source with kibana.host "kibana.example.com"',
        ) as string,
      },
    ]);
  });

  it("Kibana ingress sources are checked like the app's, every problem at once", () => {
    const problems = problemsOf('staging', {
      kibana: {
        ingressFrom: [
          { namespace: 'Bad_NS' },
          { namespace: 'a', cidr: '10.0.0.0/8' },
          { podLabels: { 'app.kubernetes.io/name': 'proxy' } },
          { cidr: '10.0.0.0/33' },
          { namespace: 'ok', colour: 'red' },
        ],
      },
    }).map((p) => p.key);
    expect(problems.sort()).toEqual(
      [
        'pavemaster:logging.kibana.ingressFrom[0].namespace',
        'pavemaster:logging.kibana.ingressFrom[1]',
        'pavemaster:logging.kibana.ingressFrom[3].cidr',
        'pavemaster:logging.kibana.ingressFrom[4].colour',
      ].sort(),
    );
  });

  it('the replaced logging.ingressNamespaces is refused with its replacement', () => {
    expect(problemsOf('staging', { ingressNamespaces: ['ingress-nginx'] })).toEqual([
      {
        key: 'pavemaster:logging.ingressNamespaces',
        allowed: expect.stringContaining('replaced by pavemaster:logging.kibana.ingressFrom') as string,
      },
    ]);
  });

  it('Elasticsearch, Logstash and Kibana default images are pinned by a sha256 digest', () => {
    for (const image of [LOGGING_IMAGES.elasticsearch, LOGGING_IMAGES.logstash, LOGGING_IMAGES.kibana]) {
      expect(image).toMatch(/^[a-z]+:8\.19\.22@sha256:[a-f0-9]{64}$/);
    }
  });
});

describe('logging settings validation', () => {
  it('refuses a heap above half the memory limit, naming the heap key', () => {
    const problems = problemsOf('staging', {
      elasticsearch: { heap: '800m', resources: { limits: { memory: '1Gi' } } },
    });
    expect(problems).toEqual([
      expect.objectContaining({
        key: 'pavemaster:logging.elasticsearch.heap',
        allowed: expect.stringContaining('half'),
      }),
    ]);
  });

  it('accepts a heap of exactly half the limit', () => {
    expect(problemsOf('staging', { elasticsearch: { heap: '512m' } })).toEqual([]);
  });

  it('refuses a Logstash heap above half its limit', () => {
    expect(problemsOf('staging', { logstash: { heap: '1g' } }).map((p) => p.key)).toEqual([
      'pavemaster:logging.logstash.heap',
    ]);
  });

  it('refuses malformed heaps', () => {
    for (const heap of ['1024', '1.5g', '64m', 'lots']) {
      expect(problemsOf('staging', { elasticsearch: { heap } }).map((p) => p.key)).toEqual([
        'pavemaster:logging.elasticsearch.heap',
      ]);
    }
  });

  it('refuses a retention below one day, or below 7 days in production', () => {
    expect(problemsOf('staging', { retentionDays: 0 }).map((p) => p.key)).toEqual([
      'pavemaster:logging.retentionDays',
    ]);
    expect(problemsOf('staging', { retentionDays: 'a week' }).map((p) => p.key)).toEqual([
      'pavemaster:logging.retentionDays',
    ]);
    expect(problemsOf('production', { retentionDays: 3 })).toEqual([
      expect.objectContaining({
        key: 'pavemaster:logging.retentionDays',
        allowed: expect.stringContaining('7'),
      }),
    ]);
    expect(problemsOf('staging', { retentionDays: 1 })).toEqual([]);
  });

  it('refuses a rollover age longer than the retention', () => {
    expect(problemsOf('staging', { retentionDays: 2, rollover: { maxAge: '3d' } }).map((p) => p.key)).toEqual(
      ['pavemaster:logging.rollover.maxAge'],
    );
  });

  it('refuses an even number of Elasticsearch nodes, and fewer than three in production', () => {
    expect(problemsOf('staging', { elasticsearch: { replicas: 2 } }).map((p) => p.key)).toEqual([
      'pavemaster:logging.elasticsearch.replicas',
    ]);
    expect(problemsOf('production', { elasticsearch: { replicas: 1 } }).map((p) => p.key)).toEqual([
      'pavemaster:logging.elasticsearch.replicas',
    ]);
  });

  it('refuses latest images in production and bad references anywhere', () => {
    expect(problemsOf('production', { kibana: { image: 'kibana:latest' } }).map((p) => p.key)).toEqual([
      'pavemaster:logging.kibana.image',
    ]);
    expect(problemsOf('staging', { shipper: { image: 'Not An Image' } }).map((p) => p.key)).toEqual([
      'pavemaster:logging.shipper.image',
    ]);
  });

  it('requires digests everywhere when requireDigest is set', () => {
    const keys = problemsOf('production', { requireDigest: true }).map((p) => p.key);
    // The three images without a published digest (see docs/logging.md) are the ones reported.
    expect(keys.sort()).toEqual([
      'pavemaster:logging.exporter.image',
      'pavemaster:logging.logstash.exporterImage',
      'pavemaster:logging.shipper.image',
    ]);
  });

  it('reports every problem at once, with unknown keys and typos', () => {
    const keys = problemsOf('staging', {
      retentionDays: -1,
      elasticsearch: { replicas: 4, storageSize: '1Ki', heapp: '1g' },
      logstash: { queueSize: '10Mi' },
      nodeNamespace: 'Bad_Name',
    }).map((p) => p.key);
    expect(keys.sort()).toEqual(
      [
        'pavemaster:logging.retentionDays',
        'pavemaster:logging.elasticsearch.replicas',
        'pavemaster:logging.elasticsearch.storageSize',
        'pavemaster:logging.elasticsearch.heapp',
        'pavemaster:logging.logstash.queueSize',
        'pavemaster:logging.nodeNamespace',
      ].sort(),
    );
  });

  it('refuses a shipper namespace equal to the logging namespace', () => {
    expect(problemsOf('staging', { namespace: 'logs', nodeNamespace: 'logs' }).map((p) => p.key)).toEqual([
      'pavemaster:logging.nodeNamespace',
    ]);
  });
});

describe('logging.tls', () => {
  it('defaults to generation 1 and takes a new generation', () => {
    expect(loadSettings('staging', stackConfig('staging')).logging.tls).toEqual({ rotation: 1 });
    const l = loadSettings(
      'production',
      stackConfig('production', { logging: { tls: { rotation: 4 } } }),
    ).logging;
    expect(l.tls.rotation).toBe(4);
  });

  it('refuses a generation that is not a whole number from 1, with the full key', () => {
    for (const rotation of [0, -2, 1.5, 'next', 2_000_000]) {
      const problems = problemsOf('staging', { tls: { rotation } });
      expect(problems.map((p) => p.key)).toEqual(['pavemaster:logging.tls.rotation']);
      expect(problems[0].allowed).toMatch(/whole number|integer|at (least|most)/);
    }
  });

  it('refuses to turn TLS off, in every profile, and unknown keys', () => {
    for (const stack of ['staging', 'production']) {
      const problems = problemsOf(stack, { tls: { enabled: false } });
      expect(problems).toEqual([
        {
          key: 'pavemaster:logging.tls.enabled',
          allowed: expect.stringContaining('cannot be turned off') as string,
        },
      ]);
    }
    expect(problemsOf('staging', { tls: { enabled: true } })).toEqual([]);
    expect(problemsOf('staging', { tls: { rotate: 2 } }).map((p) => p.key)).toEqual([
      'pavemaster:logging.tls.rotate',
    ]);
  });
});

describe('logging.elasticsearch.external (an existing cluster)', () => {
  /** A complete, valid setting: Elastic Cloud-like endpoint, its CA in a ConfigMap, an API key in a Secret. */
  const EXTERNAL = {
    hosts: ['https://logs.example.com:9243'],
    ca: { configMap: 'logs-ca' },
    credentials: { secret: 'logs-writer', type: 'apiKey' },
    egress: [{ cidr: '203.0.113.0/24', ports: [9243] }],
  };

  it('is off by default: the stack runs its own Elasticsearch', () => {
    for (const stack of ['staging', 'production']) {
      expect(loadSettings(stack, stackConfig(stack)).logging.elasticsearch.external).toBeUndefined();
    }
  });

  it('reads hosts, CA, credentials by reference and egress, with the documented defaults', () => {
    const l = loadSettings(
      'production',
      stackConfig('production', { logging: { elasticsearch: { external: EXTERNAL } } }),
    ).logging;
    expect(l.elasticsearch.external).toEqual({
      hosts: ['https://logs.example.com:9243'],
      ca: { configMap: 'logs-ca', key: 'ca.crt', systemTrustStore: false },
      credentials: {
        secret: 'logs-writer',
        type: 'apiKey',
        apiKeyKey: 'api_key',
        usernameKey: 'username',
        passwordKey: 'password',
      },
      egress: [{ cidr: '203.0.113.0/24', ports: [9243], protocol: 'TCP' }],
      dataStream: { dataset: 'pavemaster' },
    });
  });

  it('takes basic auth from a basic-auth Secret, an ECK CA Secret, an in-cluster peer and a data stream name', () => {
    const external = {
      hosts: ['https://logs-es-http.elastic-system.svc:9200', 'https://10.20.0.7:9200'],
      ca: { secret: 'logs-es-http-certs-public', key: 'tls.crt' },
      credentials: { secret: 'logs-writer', type: 'basic', usernameKey: 'user', passwordKey: 'pass' },
      egress: [
        {
          namespace: 'elastic-system',
          podLabels: { 'elasticsearch.k8s.elastic.co/cluster-name': 'logs' },
          ports: [9200],
        },
      ],
      dataStream: { dataset: 'pavemaster.app', namespace: 'team_a' },
    };
    expect(problemsOf('staging', { elasticsearch: { external } })).toEqual([]);
    const e = loadSettings('staging', stackConfig('staging', { logging: { elasticsearch: { external } } }))
      .logging.elasticsearch.external;
    expect(e?.ca).toEqual({ secret: 'logs-es-http-certs-public', key: 'tls.crt', systemTrustStore: false });
    expect(e?.credentials).toMatchObject({ type: 'basic', usernameKey: 'user', passwordKey: 'pass' });
    expect(e?.dataStream).toEqual({ dataset: 'pavemaster.app', namespace: 'team_a' });
  });

  it('trusts the system CAs only when told so explicitly', () => {
    const withoutCa = { ...EXTERNAL, ca: undefined };
    const missing = problemsOf('staging', { elasticsearch: { external: withoutCa } });
    expect(missing).toEqual([
      {
        key: 'pavemaster:logging.elasticsearch.external.ca',
        allowed: expect.stringContaining('"systemTrustStore: true"') as string,
      },
    ]);
    expect(
      problemsOf('staging', {
        elasticsearch: { external: { ...EXTERNAL, ca: { systemTrustStore: false } } },
      }).map((p) => p.key),
    ).toEqual(['pavemaster:logging.elasticsearch.external.ca']);
    expect(
      problemsOf('staging', {
        elasticsearch: { external: { ...EXTERNAL, ca: { systemTrustStore: true } } },
      }),
    ).toEqual([]);
  });

  it('reports every bad field of the setting in one error, each with what is allowed', () => {
    const problems = problemsOf('staging', {
      elasticsearch: {
        external: {
          hosts: [
            'http://logs.example.com:9200',
            'https://writer:hunter2@logs.example.com',
            'https://logs.example.com:99999',
            'https://logs.example.com:9243',
          ],
          ca: { configMap: 'logs-ca', secret: 'logs-ca', key: 'ca crt' },
          credentials: { type: 'token', apiKeyKey: 'api key' },
          egress: [
            { cidr: '10.0.0.0/33', ports: [] },
            { namespace: 'elastic-system', ports: [9200, 70000], protocol: 'UDP' },
            { podLabels: { app: 'es' }, ports: [9200] },
          ],
          dataStream: { dataset: 'my-app', namespace: 'Prod' },
          colour: 'blue',
        },
      },
    });
    const byKey = Object.fromEntries(problems.map((p) => [p.key, p.allowed]));
    const k = (s: string) => `pavemaster:logging.elasticsearch.external.${s}`;
    expect(Object.keys(byKey).sort()).toEqual(
      [
        k('hosts[0]'),
        k('hosts[1]'),
        k('hosts[2]'),
        k('ca'),
        k('ca.key'),
        k('credentials.secret'),
        k('credentials.type'),
        k('credentials.apiKeyKey'),
        k('egress[0].cidr'),
        k('egress[0].ports'),
        k('egress[1].ports[1]'),
        k('egress[1].protocol'),
        k('egress[2]'),
        k('dataStream.dataset'),
        k('dataStream.namespace'),
        k('colour'),
      ].sort(),
    );
    expect(byKey[k('hosts[0]')]).toContain('TLS on every hop');
    expect(byKey[k('hosts[1]')]).toContain('without user, password');
    expect(byKey[k('credentials.secret')]).toContain('existing Secret in the logging namespace');
    expect(byKey[k('credentials.type')]).toContain('one of "apiKey", "basic"');
    expect(byKey[k('egress[1].protocol')]).toContain('"TCP"');
    expect(byKey[k('dataStream.dataset')]).toContain('no "-"');
    expect(byKey[k('colour')]).toContain('no such key');
    // A password written into a URL is not repeated in the error.
    let message = '';
    try {
      loadSettings(
        'staging',
        stackConfig('staging', {
          logging: {
            elasticsearch: { external: { ...EXTERNAL, hosts: ['https://writer:hunter2@logs.example.com'] } },
          },
        }),
      );
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('external.hosts[0] = "https://writer:[secret]@logs.example.com"');
    expect(message).not.toContain('hunter2');
  });

  it('requires hosts, a CA, credentials and egress: an empty setting names each', () => {
    expect(
      problemsOf('staging', { elasticsearch: { external: {} } })
        .map((p) => p.key)
        .sort(),
    ).toEqual(
      [
        'pavemaster:logging.elasticsearch.external.hosts',
        'pavemaster:logging.elasticsearch.external.ca',
        'pavemaster:logging.elasticsearch.external.credentials.secret',
        'pavemaster:logging.elasticsearch.external.credentials.type',
        'pavemaster:logging.elasticsearch.external.egress',
      ].sort(),
    );
  });

  it("refuses the keys that only serve the stack's own Elasticsearch, instead of ignoring them", () => {
    const problems = problemsOf('production', {
      retentionDays: 30,
      rollover: { maxAge: '1d' },
      grafanaPodLabels: { app: 'grafana' },
      elasticsearch: { replicas: 3, heap: '2g', bootstrapped: true, external: EXTERNAL },
      kibana: { host: 'kibana.example.com', ingressFrom: [{ namespace: 'ingress-nginx' }] },
      exporter: { image: 'prometheuscommunity/elasticsearch-exporter:v1.9.0' },
    });
    expect(problems.map((p) => p.key).sort()).toEqual(
      [
        'pavemaster:logging.retentionDays',
        'pavemaster:logging.rollover',
        'pavemaster:logging.grafanaPodLabels',
        'pavemaster:logging.elasticsearch.replicas',
        'pavemaster:logging.elasticsearch.heap',
        'pavemaster:logging.elasticsearch.bootstrapped',
        'pavemaster:logging.kibana',
        'pavemaster:logging.exporter',
      ].sort(),
    );
    for (const p of problems) {
      expect(p.allowed).toMatch(
        /^nothing with pavemaster:logging\.elasticsearch\.external: .*; remove the key$/,
      );
    }
    // What the external mode still uses stays allowed: the certificate Job's image, the queues' StorageClass.
    expect(
      problemsOf('staging', {
        elasticsearch: { image: 'elasticsearch:8.19.22', storageClass: 'fast', external: EXTERNAL },
        logstash: { replicas: 2 },
      }),
    ).toEqual([]);
  });

  it('asks no digest of the images it does not deploy (Kibana, the exporter)', () => {
    const keys = problemsOf('production', {
      requireDigest: true,
      elasticsearch: { external: EXTERNAL },
    }).map((p) => p.key);
    expect(keys.sort()).toEqual([
      'pavemaster:logging.logstash.exporterImage',
      'pavemaster:logging.shipper.image',
    ]);
  });
});
