/**
 * Which image each blue/green slot runs.
 *
 * - Without `pavemaster:imageBuild`, each slot runs its configured reference (`blueImage`, `greenImage`), which
 *   stacks/ has already validated (pinned by digest in production). No docker resource is registered, so such a
 *   stack never loads the docker provider plugin.
 * - With `pavemaster:imageBuild`, an {@link AppImage} builds and pushes `<repository>:<version of the target
 *   slot>`, and the target slot runs the pushed image by its registry digest; the other slot keeps its
 *   configured reference.
 */
import * as pulumi from '@pulumi/pulumi';
import { AppImage, RegistryCredentials } from '../components/AppImage';
import { Slot, SLOTS } from '../stacks/app';
import { Settings } from '../stacks/settings';

/** Wiring options that do not come from the stack's config. */
export interface ResolveSlotImagesOptions {
  /** Credentials of the registry the built image is pushed to. Default: the Docker daemon's own login. */
  registry?: RegistryCredentials;
  /** The platform to build for. Default: AppImage's default, "linux/amd64". */
  platform?: string;
  /** Resource options for the AppImage (a parent, a provider). */
  resourceOptions?: pulumi.ComponentResourceOptions;
}

/** The slots' images, and the AppImage when the stack builds one. */
export interface SlotImages {
  images: Record<Slot, pulumi.Input<string>>;
  built?: AppImage;
}

/** Like {@link resolveSlotImages}, but also returns the AppImage it created, if any. */
export function buildSlotImages(settings: Settings, options: ResolveSlotImagesOptions = {}): SlotImages {
  const { app } = settings;
  const images = {} as Record<Slot, pulumi.Input<string>>;
  for (const slot of SLOTS) {
    images[slot] = app.slots[slot].image;
  }
  if (app.build === undefined) {
    return { images };
  }
  const target = app.build.slot;
  const built = new AppImage(
    `${app.name}-build`,
    {
      context: app.build.context,
      dockerfile: app.build.dockerfile,
      repository: app.build.repository,
      tag: app.slots[target].version,
      platform: options.platform,
      registry: options.registry,
    },
    options.resourceOptions,
  );
  images[target] = built.imageRef;
  return { images, built };
}

/**
 * The image each slot runs, to feed `BlueGreenApp`'s `slots.<slot>.image`: the configured references, except
 * the `imageBuild` target slot, which runs the image this program builds and pushes, pinned by its digest.
 */
export function resolveSlotImages(
  settings: Settings,
  options: ResolveSlotImagesOptions = {},
): Record<Slot, pulumi.Input<string>> {
  return buildSlotImages(settings, options).images;
}
