/**
 * The Logging component's own arguments: defaults applied in one place, and every bad argument refused at once
 * (the component reads no config; stacks/logging.ts validates config before it gets here).
 */
import { LOGGING_IMAGES } from '../../../components/versions';
import { resolveLoggingArgs } from '../../../components/logging/Logging';

const base = { namespace: 'logs', environment: 'staging', appNamespaces: ['app'] };

describe('Logging arguments', () => {
  it('defaults to a small single-node stack with pinned Elastic images and no protection', () => {
    const a = resolveLoggingArgs('logging', base);
    expect(a.nodeNamespace).toBe('logs-node');
    expect(a.elasticsearch).toMatchObject({ replicas: 1, heap: '512m', bootstrapped: false });
    expect(a.elasticsearch.image).toBe(LOGGING_IMAGES.elasticsearch);
    expect(a.retentionDays).toBe(7);
    expect(a.dropPaths).toEqual(['/healthz', '/readyz', '/metrics']);
    expect(a.protect).toBe(false);
    expect(a.awaitSetupJobs).toBe(false);
    expect(a.apiServer).toEqual({ cidr: '0.0.0.0/0', ports: [443, 6443] });
  });

  it('refuses every bad argument at once', () => {
    let message = '';
    try {
      resolveLoggingArgs('logging', {
        ...base,
        nodeNamespace: 'logs',
        environment: 'pave-master',
        appNamespaces: [],
        retentionDays: 0,
        elasticsearch: { replicas: 2, heap: '2g' },
        logstash: { heap: 'big', queueSize: '1Mi' },
      });
    } catch (e) {
      message = (e as Error).message;
    }
    for (const part of [
      'nodeNamespace = "logs": a namespace other than namespace',
      'environment = "pave-master": lowercase letters',
      'appNamespaces = []: at least one namespace',
      'retentionDays = 0: a whole number of at least 1',
      'elasticsearch.replicas = 2: 1 or an odd number',
      'elasticsearch.heap = "2g": a heap of at most half the memory limit (elasticsearch.resources.limits.memory = "1Gi"',
      'logstash.heap = "big": a JVM size',
      'logstash.queueSize = "1Mi": a queue volume of at least "256Mi"',
    ]) {
      expect(message).toContain(part);
    }
  });

  it('refuses every bad field of an external Elasticsearch at once, and applies its defaults', () => {
    const external = {
      hosts: ['https://logs.example.com:9243'],
      ca: { secret: 'logs-ca' },
      credentials: { secret: 'logs-writer', type: 'apiKey' as const },
      egress: [{ cidr: '203.0.113.0/24', ports: [9243] }],
    };
    const a = resolveLoggingArgs('logging', { ...base, elasticsearch: { external } });
    expect(a.elasticsearch.external).toMatchObject({
      ca: { secret: 'logs-ca', key: 'ca.crt', systemTrustStore: false },
      credentials: { apiKeyKey: 'api_key' },
      dataStream: { dataset: 'pavemaster' },
    });
    let message = '';
    try {
      resolveLoggingArgs('logging', {
        ...base,
        kibana: { host: 'kibana.example.com', ingressFrom: [{ namespace: 'ingress-nginx' }] },
        elasticsearch: {
          external: {
            hosts: ['http://logs.example.com'],
            ca: {},
            credentials: {},
            egress: [],
          },
        },
      });
    } catch (e) {
      message = (e as Error).message;
    }
    for (const part of [
      'elasticsearch.external.hosts[0] = "http://logs.example.com": an https URL',
      'elasticsearch.external.ca = {"key":"ca.crt","systemTrustStore":false}: exactly one of "configMap" or "secret"',
      'elasticsearch.external.credentials.secret = (unset): the name of an existing Secret',
      'elasticsearch.external.credentials.type = (unset): one of "apiKey"',
      'elasticsearch.external.egress = []: at least one destination',
      'kibana.host = "kibana.example.com": no host with elasticsearch.external',
    ]) {
      expect(message).toContain(part);
    }
  });
});
