/**
 * Images are named exactly: never `latest` or untagged (what runs would change under us), and in production
 * pinned by digest (a tag can be moved; a digest cannot).
 */
import { ResourceValidationPolicy } from '@pulumi/policy';
import { IMAGE_REFERENCE_FORM, isDigest, parseImageReference } from '../../components/shared/image';
import { containers, describe, str, Workload, workload } from '../lib/kubernetes';

/** An image repository allowed to run by exact tag while its digest cannot be pinned yet, with the reason. */
export interface DigestExemption {
  /** The repository, exactly as the manifests name it (no tag, no digest), e.g. "elastic/filebeat". */
  repository: string;
  /** Why it is not pinned, and what pins it. Required: an exemption without a reason is refused. */
  reason: string;
}

/** Policy config: `requireDigest` (default true; the staging config turns it off). */
export interface ImagePinningConfig {
  /** Every image must carry an `@sha256:<64 hex>` digest. */
  requireDigest?: boolean;
  /**
   * Repositories exempt from `requireDigest` (never from the latest/untagged rule). Each is named with its reason
   * in the stack's policy config, so the waiver is reviewed like code and shows in every preview.
   */
  digestExemptions?: DigestExemption[];
}

/** What is wrong with one image reference, or undefined (the reference grammar is components/shared/image.ts). */
export function imageProblem(image: string, requireDigest: boolean): string | undefined {
  const at = image.indexOf('@');
  if (at >= 0 && !isDigest(image.slice(at + 1))) {
    return `"${image}" has a malformed digest (want sha256:<64 hex digits>)`;
  }
  const ref = parseImageReference(image);
  if (ref === undefined) {
    return `"${image}" is not ${IMAGE_REFERENCE_FORM}`;
  }
  if (ref.tag === 'latest') {
    return `"${image}" uses the tag latest`;
  }
  if (ref.tag === undefined && ref.digest === undefined) {
    return `"${image}" has neither tag nor digest (that is latest)`;
  }
  if (requireDigest && ref.digest === undefined) {
    return `"${image}" is not pinned by digest (@sha256:...), which this stack requires`;
  }
  return undefined;
}

export function imageViolations(w: Workload, config: ImagePinningConfig): string[] {
  const requireDigest = config.requireDigest ?? true;
  const exempt = new Set(
    (config.digestExemptions ?? []).filter((e) => e.reason.trim() !== '').map((e) => e.repository),
  );
  const out: string[] = [];
  for (const c of containers(w.podSpec)) {
    const image = str(c.spec.image);
    const repository = image !== undefined ? parseImageReference(image)?.repository : undefined;
    const digestNeeded = requireDigest && !(repository !== undefined && exempt.has(repository));
    const problem =
      image === undefined || image.trim() === '' ? 'sets no image' : imageProblem(image, digestNeeded);
    if (problem !== undefined) {
      out.push(`${describe(w)} ${c.role} "${c.name}": ${problem}.`);
    }
  }
  return out;
}

export const imagesPolicy: ResourceValidationPolicy = {
  name: 'image-pinning',
  description:
    'Images are never latest or untagged; with requireDigest (production) every image is pinned by digest.',
  severity: 'high',
  configSchema: {
    properties: {
      requireDigest: {
        type: 'boolean',
        default: true,
        description: 'Require every image to be pinned by an @sha256 digest.',
      },
      digestExemptions: {
        type: 'array',
        description:
          'Repositories that may run by exact tag until their digest can be pinned, each with a reason.',
        items: {
          type: 'object',
          properties: { repository: { type: 'string' }, reason: { type: 'string', minLength: 10 } },
          required: ['repository', 'reason'],
        },
      },
    },
  },
  validateResource: (args, reportViolation) => {
    const w = workload(args.type, args.props, args.name);
    if (w !== undefined) {
      imageViolations(w, args.getConfig<ImagePinningConfig>()).forEach((m) => reportViolation(m));
    }
  },
};
