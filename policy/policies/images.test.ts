import { goodContainer, goodPodSpec, validateResource, workloadResource, messages } from '../test/fakes';
import { parseImageReference } from '../../components/shared/image';
import { imageProblem, imagesPolicy } from './images';

const DIGEST = `sha256:${'b'.repeat(64)}`;

function withImage(image: string) {
  return workloadResource('Deployment', goodPodSpec({ containers: [{ ...goodContainer(), image }] }));
}

describe('image-pinning', () => {
  it('parses registries with ports, tags and digests', () => {
    expect(parseImageReference(`reg.example:5000/team/app:1.2@${DIGEST}`)).toEqual({
      registry: 'reg.example:5000',
      repository: 'reg.example:5000/team/app',
      tag: '1.2',
      digest: DIGEST,
    });
    expect(parseImageReference('reg.example:5000/team/app')).toEqual({
      registry: 'reg.example:5000',
      repository: 'reg.example:5000/team/app',
    });
  });

  it('passes a digest-pinned image in production', async () => {
    expect(
      await validateResource(imagesPolicy, withImage(`app:1.0@${DIGEST}`), { requireDigest: true }),
    ).toEqual([]);
    expect(await validateResource(imagesPolicy, withImage(`app@${DIGEST}`), { requireDigest: true })).toEqual(
      [],
    );
  });

  it('requires a digest by default and when configured, not in staging', async () => {
    for (const config of [{}, { requireDigest: true }]) {
      expect(messages(await validateResource(imagesPolicy, withImage('app:1.0'), config))).toEqual([
        expect.stringContaining('not pinned by digest'),
      ]);
    }
    expect(await validateResource(imagesPolicy, withImage('app:1.0'), { requireDigest: false })).toEqual([]);
  });

  it.each(['app', 'app:latest', `app:latest@${DIGEST}`, 'reg.example:5000/app'])(
    'refuses %s even in staging',
    async (image) => {
      expect(await validateResource(imagesPolicy, withImage(image), { requireDigest: false })).toHaveLength(
        1,
      );
    },
  );

  it('exempts only the named repositories, only with a reason, and never from the latest rule', async () => {
    const config = {
      requireDigest: true,
      digestExemptions: [
        { repository: 'elastic/filebeat', reason: 'no published digest reachable here yet' },
        { repository: 'other/image', reason: '' },
      ],
    };
    expect(await validateResource(imagesPolicy, withImage('elastic/filebeat:8.19.22'), config)).toEqual([]);
    expect(
      messages(await validateResource(imagesPolicy, withImage('elastic/heartbeat:8.19.22'), config)),
    ).toEqual([expect.stringContaining('not pinned by digest')]);
    expect(messages(await validateResource(imagesPolicy, withImage('other/image:1.0'), config))).toEqual([
      expect.stringContaining('not pinned by digest'),
    ]);
    expect(
      messages(await validateResource(imagesPolicy, withImage('elastic/filebeat:latest'), config)),
    ).toEqual([expect.stringContaining('latest')]);
  });

  it('refuses malformed digests', () => {
    expect(imageProblem('app:1@sha256:abc', false)).toContain('malformed digest');
  });

  it('refuses what registries refuse: an uppercase repository is no registry host but a bad path', () => {
    expect(imageProblem('Pavemaster/web:1.0.0', false)).toContain('lowercase repository');
    expect(imageProblem('registry.example.com/Team/web:1.0.0', false)).toContain('lowercase repository');
    expect(imageProblem('pavemaster/web:1.0.0', false)).toBeUndefined();
  });
});
