/**
 * A keyed checksum of secret values, for a pod-template annotation: a workload that names its Secret by its known
 * name (workload.Referable) only rolls when its pod template changes, so a changed credential must change the
 * template. A plain hash of the key names misses a rotated value; a plain hash of the values would put a
 * searchable hash of an operator-chosen secret (a webhook URL, a password) where anyone who may read the workload
 * reads it. So: HMAC-SHA256 under a per-stack random key (a RandomPassword in the state), stable for the same
 * values in any key order.
 *
 * Deliberately not a Pulumi secret: it tells nothing of the values without the key, and a secret anywhere in the
 * pod template makes the SDK mark the workload's whole `spec` secret, so every preview (and every pull request's
 * preview diff) would show its image and replicas as `[secret]`.
 */
import { createHmac } from 'crypto';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';

/** HMAC-SHA256 (hex) of the values under `key`, over the sorted `[name, value]` pairs; plain, not secret. */
export function keyedSecretChecksum(
  key: pulumi.Input<string>,
  values: pulumi.Input<Record<string, string>>,
): pulumi.Output<string> {
  return pulumi.unsecret(
    pulumi.all([key, values]).apply(([k, v]) => {
      const canonical = JSON.stringify(
        Object.keys(v)
          .sort()
          .map((name) => [name, v[name]]),
      );
      return createHmac('sha256', k).update(canonical).digest('hex');
    }),
  );
}

/**
 * The checksum's key: a RandomPassword named `name` (a component's `<name>-...-checksum-key`), generated once and
 * kept in the stack's state, so the checksum only changes with the values.
 */
export function checksumKey(name: string, opts: pulumi.CustomResourceOptions): pulumi.Output<string> {
  return new random.RandomPassword(name, { length: 32, special: false }, opts).result;
}
