/**
 * The Logging component's own arguments: defaults applied in one place, and every bad argument refused at once
 * (the component reads no config; stacks/logging.ts validates config before it gets here).
 */
import { DEFAULT_IMAGES } from '../../../components/logging/defaults';
import { resolveLoggingArgs } from '../../../components/logging/Logging';

const base = { namespace: 'logs', environment: 'staging', appNamespaces: ['app'] };

describe('Logging arguments', () => {
  it('defaults to a small single-node stack with pinned Elastic images and no protection', () => {
    const a = resolveLoggingArgs('logging', base);
    expect(a.nodeNamespace).toBe('logs-node');
    expect(a.elasticsearch).toMatchObject({ replicas: 1, heap: '512m', bootstrapped: false });
    expect(a.elasticsearch.image).toBe(DEFAULT_IMAGES.elasticsearch);
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
      'nodeNamespace must differ',
      'environment "pave-master"',
      'appNamespaces names no namespace',
      'retentionDays 0',
      'elasticsearch.replicas 2',
      'elasticsearch.heap "2g" is more than half the memory limit "1Gi"',
      'logstash.heap "big"',
      'logstash.queueSize "1Mi"',
    ]) {
      expect(message).toContain(part);
    }
  });
});
