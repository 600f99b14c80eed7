/**
 * The app image: with `pavemaster:imageBuild`, the program registers a docker Image with the right build
 * arguments and the target slot runs the pushed image by its digest; without it, no docker resource exists.
 */
import * as pulumi from '@pulumi/pulumi';
import { pinnedReference, resolveAppImageArgs } from '../../../components/AppImage';
import { BlueGreenApp } from '../../../components/BlueGreenApp';
import { slotImages } from '../../../infra/image';
import { loadSettings } from '../../../stacks/settings';
import { record } from '../../support/harness';
import { stackConfig } from '../../support/stackConfig';

const DIGEST = `sha256:${'ab12'.repeat(16)}`;
const REPOSITORY = 'registry.example.com/pavemaster/web';

interface Seen {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  /** "type::name" of the parent resource, if not the stack. */
  parent?: string;
}

/**
 * Our own mocks (the shared harness echoes inputs as state): the docker provider "pushes" and reports a repo
 * digest, the way the real provider's `repoDigest` output looks.
 */
async function runWithDockerMocks(
  program: () => Promise<unknown>,
): Promise<{ seen: Seen[]; result: unknown }> {
  const seen: Seen[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs) {
        const inputs = (args.inputs ?? {}) as Record<string, unknown>;
        seen.push({ type: args.type, name: args.name, inputs });
        const state: Record<string, unknown> = { ...inputs };
        if (args.type === 'docker:index/image:Image') {
          const imageName = String(inputs.imageName);
          state.repoDigest = `${imageName.slice(0, imageName.lastIndexOf(':'))}@${DIGEST}`;
        }
        return { id: `${args.name}-id`, state };
      },
      call(args: pulumi.runtime.MockCallArgs) {
        return args.inputs as Record<string, unknown>;
      },
    },
    'pavemaster',
    'staging',
    false,
  );
  let result: unknown;
  const parents = new Map<string, string>();
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((args) => {
      const parent = args.opts.parent as unknown as { __pulumiType?: string; __name?: string } | undefined;
      if (parent?.__pulumiType !== undefined && parent.__pulumiType !== 'pulumi:pulumi:Stack') {
        parents.set(`${args.type}::${args.name}`, `${parent.__pulumiType}::${parent.__name ?? ''}`);
      }
      return undefined;
    });
    result = await program();
    return undefined;
  });
  await pulumi.runtime.disconnect();
  for (const r of seen) {
    r.parent = parents.get(`${r.type}::${r.name}`);
  }
  return { seen, result };
}

function unwrap<T>(value: pulumi.Input<T>): Promise<T> {
  return new Promise((resolve) => {
    pulumi.output(value).apply((v) => {
      resolve(v as T);
      return v;
    });
  });
}

describe('slotImages with pavemaster:imageBuild', () => {
  const settings = () =>
    loadSettings(
      'staging',
      stackConfig('staging', {
        imageBuild: {
          context: 'app',
          dockerfile: 'docker/Dockerfile',
          repository: REPOSITORY,
          slot: 'green',
        },
        greenVersion: '1.4.2',
      }),
    );

  it('registers one docker Image with the build arguments and feeds its digest to the target slot', async () => {
    const { seen, result } = await runWithDockerMocks(async () => {
      const { images } = slotImages(settings());
      return { blue: await unwrap(images.blue), green: await unwrap(images.green) };
    });
    const dockerImages = seen.filter((r) => r.type === 'docker:index/image:Image');
    expect(dockerImages).toHaveLength(1);
    const image = dockerImages[0];
    expect(image.name).toBe('pavemaster-build-image');
    expect(image.parent).toBe('pavemaster:app:AppImage::pavemaster-build');
    expect(image.inputs.imageName).toBe(`${REPOSITORY}:1.4.2`);
    expect(image.inputs.build).toEqual({
      context: 'app',
      dockerfile: 'app/docker/Dockerfile',
      platform: 'linux/amd64',
      args: {},
    });
    expect(image.inputs.skipPush).toBe(false);
    expect(image.inputs.buildOnPreview).toBe(false);
    expect(seen.some((r) => r.type === 'pavemaster:app:AppImage' && r.name === 'pavemaster-build')).toBe(
      true,
    );
    // The built slot runs exactly the pushed digest; the other slot keeps its configured reference.
    expect(result).toEqual({ blue: 'pavemaster/web:1.0.0', green: `${REPOSITORY}:1.4.2@${DIGEST}` });
  });

  it('targets the idle slot by default', async () => {
    const raw = stackConfig('staging', { imageBuild: { repository: REPOSITORY }, activeSlot: 'green' });
    const { seen, result } = await runWithDockerMocks(async () => {
      const { images, built } = slotImages(loadSettings('staging', raw));
      return { blue: await unwrap(images.blue), green: await unwrap(images.green), ref: built !== undefined };
    });
    expect(result).toEqual({
      blue: `${REPOSITORY}:1.0.0@${DIGEST}`,
      green: 'pavemaster/web:1.0.0',
      ref: true,
    });
    const image = seen.find((r) => r.type === 'docker:index/image:Image');
    expect(image?.inputs.build).toMatchObject({ context: 'app', dockerfile: 'app/Dockerfile' });
  });

  it('keeps registry credentials secret', async () => {
    const { seen } = await runWithDockerMocks(() => {
      slotImages(settings(), {
        registry: { server: 'registry.example.com', username: 'ci', password: 'not-a-real-password' },
      });
      return Promise.resolve(undefined);
    });
    // The provider receives the credentials as a secret value, never as plain state.
    const image = seen.find((r) => r.type === 'docker:index/image:Image');
    expect(image?.inputs.registry).toEqual({
      [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig,
      value: { server: 'registry.example.com', username: 'ci', password: 'not-a-real-password' },
    });
  });
});

describe('slotImages feeding BlueGreenApp', () => {
  it('runs the built digest in the target slot’s Deployment and the configured image in the other', async () => {
    const settings = loadSettings(
      'staging',
      stackConfig('staging', {
        imageBuild: { repository: REPOSITORY, slot: 'green' },
        greenVersion: '1.4.2',
      }),
    );
    const { seen } = await runWithDockerMocks(() => {
      const { images } = slotImages(settings);
      new BlueGreenApp('pavemaster', {
        namespace: 'pavemaster-staging',
        activeSlot: settings.app.activeSlot,
        slots: {
          blue: { image: images.blue, version: settings.app.slots.blue.version },
          green: { image: images.green, version: settings.app.slots.green.version },
        },
      });
      return Promise.resolve(undefined);
    });
    const imageOf = (name: string) => {
      const deployment = seen.find((r) => r.type === 'kubernetes:apps/v1:Deployment' && r.name === name);
      const spec = deployment?.inputs.spec as { template: { spec: { containers: { image: string }[] } } };
      return spec.template.spec.containers[0].image;
    };
    expect(imageOf('pavemaster-green')).toBe(`${REPOSITORY}:1.4.2@${DIGEST}`);
    expect(imageOf('pavemaster-blue')).toBe('pavemaster/web:1.0.0');
  });
});

describe('slotImages without pavemaster:imageBuild', () => {
  it.each(['staging', 'production'])('registers no docker resource in %s', async (stack) => {
    const settings = loadSettings(stack, stackConfig(stack));
    let images: Record<string, pulumi.Input<string>> = {};
    const resources = await record(() => {
      images = slotImages(settings).images;
    });
    expect(resources.filter((r) => r.type.startsWith('docker:'))).toEqual([]);
    expect(resources.filter((r) => r.type === 'pavemaster:app:AppImage')).toEqual([]);
    expect(images).toEqual({ blue: settings.app.slots.blue.image, green: settings.app.slots.green.image });
  });
});

describe('AppImage arguments', () => {
  const base = { context: 'app', repository: REPOSITORY, tag: '1.4.2' };

  it('applies the defaults in one place', () => {
    expect(resolveAppImageArgs('x', base)).toEqual({
      ...base,
      dockerfile: 'Dockerfile',
      platform: 'linux/amd64',
      buildArgs: {},
      registry: undefined,
      buildOnPreview: false,
    });
  });

  it('reports every bad argument at once', () => {
    const attempt = () =>
      resolveAppImageArgs('web', {
        context: '/abs/path',
        dockerfile: '../Dockerfile',
        repository: 'Registry/Web:1.0',
        tag: 'latest',
        platform: 'amd64',
        buildArgs: { 'bad-name': 'x' },
        registry: { server: 'https://registry', username: 'u', password: 'p' },
      });
    expect(attempt).toThrow(/AppImage web/);
    const message = (() => {
      try {
        attempt();
        return '';
      } catch (e) {
        return (e as Error).message;
      }
    })();
    for (const word of [
      'context',
      'dockerfile',
      'repository',
      'latest',
      'platform',
      'bad-name',
      'registry',
    ]) {
      expect(message).toContain(word);
    }
  });

  it('rejects a malformed tag', () => {
    expect(() => resolveAppImageArgs('x', { ...base, tag: '-bad' })).toThrow(/tag "-bad"/);
  });
});

describe('pinnedReference', () => {
  it('keeps the tag and pins the digest', () => {
    expect(pinnedReference(REPOSITORY, '1.4.2', `${REPOSITORY}@${DIGEST}`)).toBe(
      `${REPOSITORY}:1.4.2@${DIGEST}`,
    );
  });

  it('refuses anything that is not a sha256 repo digest', () => {
    expect(() => pinnedReference(REPOSITORY, '1.4.2', '')).toThrow(/no sha256 digest/);
    expect(() => pinnedReference(REPOSITORY, '1.4.2', `${REPOSITORY}:1.4.2`)).toThrow(/no sha256 digest/);
  });
});
