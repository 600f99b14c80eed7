import { messages, validateResource } from '../test/fakes';
import { ingressTlsPolicy } from './ingress';

function ingress(tls: unknown, hosts = ['app.example.com']) {
  return {
    type: 'kubernetes:networking.k8s.io/v1:Ingress',
    name: 'web',
    props: {
      metadata: { name: 'web', namespace: 'apps' },
      spec: { ...(tls !== undefined ? { tls } : {}), rules: hosts.map((host) => ({ host })) },
    },
  };
}

describe('ingress-tls', () => {
  it('passes an Ingress whose tls covers every host', async () => {
    const tls = [{ hosts: ['app.example.com', 'www.example.com'], secretName: 'web-tls' }];
    expect(
      await validateResource(ingressTlsPolicy, ingress(tls, ['app.example.com', 'www.example.com'])),
    ).toEqual([]);
  });

  it('refuses an Ingress without tls (secure by default: no config needed)', async () => {
    expect(messages(await validateResource(ingressTlsPolicy, ingress(undefined)))).toEqual([
      'Ingress apps/web has no tls section: it would serve plain HTTP.',
    ]);
    expect(await validateResource(ingressTlsPolicy, ingress(undefined), { requireTls: true })).toHaveLength(
      1,
    );
  });

  it('refuses a host the tls section leaves out, and a tls entry without a Secret', async () => {
    const tls = [{ hosts: ['app.example.com'] }];
    expect(
      messages(
        await validateResource(ingressTlsPolicy, ingress(tls, ['app.example.com', 'www.example.com'])),
      ),
    ).toEqual([
      'Ingress apps/web tls 0 names no certificate Secret (secretName).',
      'Ingress apps/web serves host www.example.com without TLS (no tls entry lists it).',
    ]);
  });

  it('allows plain HTTP only when the config says requireTls false', async () => {
    expect(await validateResource(ingressTlsPolicy, ingress(undefined), { requireTls: false })).toEqual([]);
  });

  it('ignores other kinds', async () => {
    const svc = { type: 'kubernetes:core/v1:Service', name: 'web', props: { metadata: { name: 'web' } } };
    expect(await validateResource(ingressTlsPolicy, svc)).toEqual([]);
  });
});
