/** Small helpers shared by the logging components: labels, selectors, NetworkPolicy peers and Job options. */
import { createHash } from 'crypto';
import * as pulumi from '@pulumi/pulumi';
import * as k8s from '@pulumi/kubernetes';
import { labelsWithSelector } from '../shared/labels';
import { namespacePeer, tcp } from '../shared/network';
import { restrictedContainer } from '../shared/workload';
import { PORTS } from './defaults';

/** The roles of the logging stack's pods; each is the `app.kubernetes.io/component` label of its pods. */
export type LoggingRole =
  | 'elasticsearch'
  | 'elasticsearch-certs'
  | 'elasticsearch-setup'
  | 'logstash'
  | 'shipper'
  | 'kibana'
  | 'kibana-setup'
  | 'exporter';

/**
 * The labels of a role's objects and pods, and their selector: instance and role, stable across versions, so a
 * Deployment's selector never changes.
 */
export function roleLabels(
  role: LoggingRole,
  instance: string,
  version?: string,
): { labels: Record<string, string>; selector: Record<string, string> } {
  return labelsWithSelector(
    { name: role, instance, component: role, partOf: 'pavemaster-logging', version },
    ['app.kubernetes.io/instance', 'app.kubernetes.io/component'],
  );
}

/** A NetworkPolicy peer: pods of a role, optionally in another namespace (matched by its name label). */
export function rolePeer(
  role: LoggingRole,
  instance: string,
  namespace?: string,
): k8s.types.input.networking.v1.NetworkPolicyPeer {
  const pods = { podSelector: { matchLabels: roleLabels(role, instance).selector } };
  return namespace !== undefined ? { ...pods, ...namespacePeer(namespace) } : pods;
}

/** Where the Kubernetes API server is, for the pods that talk to it (log metadata, the certificate Job). */
export interface ApiServerPeer {
  /** The API server's address range. */
  readonly cidr: string;
  /** Its ports (443 on the `kubernetes` Service, 6443 on most control planes). */
  readonly ports: readonly number[];
}

/**
 * Annotations of a setup Job. Pulumi normally waits for a Job to complete, which needs its target to be up and a
 * cluster that runs pods; a simulated cluster (kwok) never completes a Job. With `await` false the Job is created
 * and Pulumi moves on: the deployment no longer fails when setup fails, so the Job's status must be watched
 * instead (`kubectl -n <ns> get jobs`); with `await` true a failed setup fails the update.
 *
 * "Moves on" is `pulumi.com/waitFor` on a field every created object has, not `pulumi.com/skipAwait`: skipAwait
 * also skips the wait for a deletion, and a changed Job (its spec is immutable) is replaced by deleting the old
 * one and creating the new one under the same name. Without that wait the create lands on the old Job while it
 * is still terminating, and the update fails with a server-side apply conflict (shown with the real engine in
 * test/integration/stack.int.test.ts, "a changed setup Job is replaced").
 */
export function jobAnnotations(awaitCompletion: boolean): Record<string, string> {
  return awaitCompletion ? {} : { 'pulumi.com/waitFor': 'jsonpath={.metadata.uid}' };
}

/** The pod annotation carrying {@link generatedSecretsChecksum}. */
export const CREDENTIALS_CHECKSUM_ANNOTATION = 'pavemaster.io/credentials-checksum';

/**
 * A checksum of the generated secret values a pod takes from its Secret as environment variables, for the pod
 * template: the pod spec names the Secret by its known name (workload.Referable), so a changed value reaches the
 * pods by a rolling update instead of replacing the Deployment. A plain hash is enough because the values are
 * random (RandomPassword); an operator-chosen value needs a keyed one (BlueGreenApp's envSecretChecksum). Not a
 * Pulumi secret, so the Deployment's spec stays readable in previews.
 */
export function generatedSecretsChecksum(...values: pulumi.Input<string>[]): pulumi.Output<string> {
  return pulumi.unsecret(pulumi.all(values).apply((v) => contentHash(...v)));
}

/** A short, stable hash of a Job's content: in its pod template, a change replaces the (immutable) Job. */
export function contentHash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16);
}

/** Requests and limits of the small init and setup containers. */
export const SMALL_JOB_RESOURCES = {
  requests: { cpu: '10m', memory: '32Mi' },
  limits: { cpu: '200m', memory: '64Mi' },
};

/**
 * The init container of an Elastic image that keeps its root filesystem read-only: it copies the image's config
 * directory to the writable `config` emptyDir (where the image's entrypoint may still write, e.g. a keystore) and
 * lays our own file over it, from the volume `file.volume` mounted at `/<file.volume>`.
 */
export function configCopyInit(
  image: string,
  configDir: string,
  file: { volume: string; name: string },
  secret?: SecretCopy,
): k8s.types.input.core.v1.Container {
  const from = `/${file.volume}`;
  // The secret file is written with umask 077 (mode 0600, owned by the pod's user), whatever mode the kubelet
  // gives a Secret volume's files under an fsGroup (group-readable 0440): the program reading it owns it alone.
  const copySecret =
    secret !== undefined
      ? ` && (umask 077 && cat /${secret.volume}/${secret.key} > ${secret.dir}/${secret.file})`
      : '';
  return restrictedContainer({
    name: 'config',
    image,
    command: [
      'sh',
      '-c',
      `cp -R ${configDir}/. /config/ && cp ${from}/${file.name} /config/${file.name}${copySecret}`,
    ],
    resources: SMALL_JOB_RESOURCES,
    volumeMounts: [
      { name: 'config', mountPath: '/config' },
      { name: file.volume, mountPath: from, readOnly: true },
      ...(secret !== undefined
        ? [
            { name: secret.volume, mountPath: `/${secret.volume}`, readOnly: true },
            { name: secret.dirVolume, mountPath: secret.dir },
          ]
        : []),
    ],
  });
}

/**
 * A key of a Secret volume (`volume`, mounted at `/<volume>` in the init container only) copied to `<dir>/<file>` on
 * the memory-backed volume `dirVolume`, which the main container mounts at the same `dir`.
 */
export interface SecretCopy {
  readonly volume: string;
  readonly key: string;
  readonly dirVolume: string;
  readonly dir: string;
  readonly file: string;
}

/** The egress rule of Elasticsearch's clients: its HTTP port on its nodes. */
export const TO_ELASTICSEARCH: k8s.types.input.networking.v1.NetworkPolicyEgressRule = {
  to: [rolePeer('elasticsearch', 'elasticsearch')],
  ports: tcp(PORTS.elasticsearchHttp),
};
