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
import { perSlot, Slot } from '../components/shared/slots';
import { Settings } from '../stacks/settings';

/** Wiring options that do not come from the stack's config. */
export interface SlotImagesOptions {
  /** Credentials of the registry the built image is pushed to. @default the Docker daemon's own login */
  registry?: RegistryCredentials;
  /** The platform to build for. @default AppImage's default, "linux/amd64" */
  platform?: string;
  /** Resource options for the AppImage (a parent, a provider). */
  resourceOptions?: pulumi.ComponentResourceOptions;
}

/** The slots' images, and the AppImage when the stack builds one. */
export interface SlotImages {
  images: Record<Slot, pulumi.Input<string>>;
  built?: AppImage;
}

/**
 * The image each slot runs, to feed `BlueGreenApp`'s `slots.<slot>.image`: the configured references, except
 * the `imageBuild` target slot, which runs the image this program builds and pushes, pinned by its digest.
 */
export function slotImages(settings: Settings, options: SlotImagesOptions = {}): SlotImages {
  const { app } = settings;
  const images: Record<Slot, pulumi.Input<string>> = perSlot((slot) => app.slots[slot].image);
  if (app.build === undefined) {
    return { images };
  }
  const target = app.build.slot;
  const built = new AppImage(
    `${app.appName}-build`,
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
