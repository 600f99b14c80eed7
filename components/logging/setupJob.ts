/**
 * The logging stack's Jobs: a script from a ConfigMap, run once in the Elasticsearch image with a memory-backed
 * scratch directory (`scriptJob`). The setup Jobs (`setupJob`) apply the requests their ConfigMap holds (see
 * `elastic.ts`; fixed ids, so re-running overwrites) to Elasticsearch or Kibana; `certificates.ts` makes the
 * transport certificates with one.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ContainerResources } from '../shared/resources';
import { restrictedPodSecurityContext } from '../shared/security';
import * as workload from '../shared/workload';
import { contentHash, jobAnnotations, roleLabels, SMALL_JOB_RESOURCES } from './common';
import { setupFiles, setupScript, SetupRequest } from './elastic';
import { CA_FILE, caVolume } from './tls';

/** One key of a Secret, mounted as the file `/secrets/<file>` of a Job's pod. */
export interface SecretFile {
  readonly secret: pulumi.Input<string>;
  readonly key: string;
  /** The file name under `/secrets` (the script's variable name). */
  readonly file: string;
}

/** Where a Job's secret files are mounted. */
export const JOB_SECRETS_DIR = '/secrets';

/**
 * The projected volume of a Job's secret files: one file per entry, readable by the pod's group only (the kubelet
 * gives the files to the pod's fsGroup).
 */
export function secretFilesVolume(
  name: string,
  files: readonly SecretFile[],
): k8s.types.input.core.v1.Volume {
  const seen = new Set<string>();
  for (const f of files) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(f.file) || seen.has(f.file)) {
      throw new Error(`secret file "${f.file}" is not a unique variable-like name`);
    }
    seen.add(f.file);
  }
  return {
    name,
    projected: {
      defaultMode: 0o440,
      sources: files.map((f) => ({ secret: { name: f.secret, items: [{ key: f.key, path: f.file }] } })),
    },
  };
}

/**
 * A Job running `sh <dir>/<file>` from a ConfigMap mounted at `/<dir>`, retried on failure, with `/scratch` in
 * memory and its secrets as files under `/secrets` (never environment variables: they would show in the pod spec's
 * consumers, `kubectl describe`, and every child process). Its pod template carries a hash of the script: a
 * changed script replaces the (immutable) Job.
 */
export function scriptJob(
  name: string,
  args: {
    namespace: string;
    objectName: string;
    labels: Record<string, string>;
    image: string;
    /** The container's name. */
    container: string;
    /** The ConfigMap, its mount directory (`/<dir>`, also the volume's name), the script in it and its mode. */
    configMapName: pulumi.Input<string>;
    dir: string;
    file: string;
    mode: number;
    hash: string;
    env: k8s.types.input.core.v1.EnvVar[];
    /** Secret values the script reads from `/secrets/<file>`. @default none */
    secretFiles?: readonly SecretFile[];
    resources: ContainerResources;
    scratchSize: string;
    backoffLimit: number;
    awaitCompletion: boolean;
    /** A ServiceAccount whose token the pod mounts (only for a Job that talks to the API server). */
    serviceAccountName?: pulumi.Input<string>;
    /** Mount the logging stack's trust bundle (tls.ts CA_FILE) and name it in CA_FILE. @default false */
    ca?: boolean;
  },
  opts: pulumi.CustomResourceOptions,
): k8s.batch.v1.Job {
  const { labels } = args;
  const secretFiles = args.secretFiles ?? [];
  const ca = args.ca === true ? caVolume() : undefined;
  return new k8s.batch.v1.Job(
    name,
    {
      metadata: {
        name: args.objectName,
        namespace: args.namespace,
        labels,
        annotations: jobAnnotations(args.awaitCompletion),
      },
      spec: {
        backoffLimit: args.backoffLimit,
        template: {
          metadata: { labels, annotations: { 'pavemaster.io/setup-hash': args.hash } },
          spec: {
            ...(args.serviceAccountName !== undefined ? { serviceAccountName: args.serviceAccountName } : {}),
            automountServiceAccountToken: args.serviceAccountName !== undefined,
            enableServiceLinks: false,
            restartPolicy: 'OnFailure',
            // Jobs only read the image's tools and write to their scratch emptyDir: the project's high uid works.
            securityContext: restrictedPodSecurityContext(),
            containers: [
              workload.restrictedContainer({
                name: args.container,
                image: args.image,
                command: ['sh', `/${args.dir}/${args.file}`],
                env: [...args.env, ...(ca !== undefined ? [{ name: 'CA_FILE', value: CA_FILE }] : [])],
                resources: args.resources,
                volumeMounts: [
                  { name: args.dir, mountPath: `/${args.dir}`, readOnly: true },
                  { name: 'scratch', mountPath: '/scratch' },
                  ...(secretFiles.length > 0
                    ? [{ name: 'secrets', mountPath: JOB_SECRETS_DIR, readOnly: true }]
                    : []),
                  ...(ca !== undefined ? [ca.mount] : []),
                ],
              }),
            ],
            volumes: [
              { name: args.dir, configMap: { name: args.configMapName, defaultMode: args.mode } },
              workload.scratchVolume('scratch', args.scratchSize, 'Memory'),
              ...(secretFiles.length > 0 ? [secretFilesVolume('secrets', secretFiles)] : []),
              ...(ca !== undefined ? [ca.volume] : []),
            ],
          },
        },
      },
    },
    opts,
  );
}

/** A setup Job `<name>-job` and its ConfigMap `<name>`: the requests' bodies and the script that sends them. */
export function setupJob(
  name: string,
  args: {
    namespace: string;
    /** metadata.name of the Job and its ConfigMap. */
    objectName: string;
    role: 'elasticsearch-setup' | 'kibana-setup';
    instance: string;
    /** An image with `sh` and `curl` (the Elasticsearch image). */
    image: string;
    /** The requests to apply, in order. */
    requests: readonly SetupRequest[];
    /** What the script waits for before the first request, and extra request headers. */
    script: Parameters<typeof setupScript>[0];
    awaitCompletion: boolean;
    /** TARGET_URL and SETUP_USER (plain values). */
    env: k8s.types.input.core.v1.EnvVar[];
    /** SETUP_PASSWORD and whatever the requests' placeholders need, as files the script reads. */
    secretFiles: readonly SecretFile[];
    /** The target speaks HTTPS with the logging stack's certificates: mount the trust bundle. @default none */
    caConfigMap?: string;
  },
  opts: pulumi.CustomResourceOptions,
): k8s.batch.v1.Job {
  const labels = roleLabels(args.role, args.instance).labels;
  const files = setupFiles(args.requests);
  const script = setupScript(args.script);
  const config = workload.referable(
    new k8s.core.v1.ConfigMap(
      name,
      {
        metadata: { name: args.objectName, namespace: args.namespace, labels },
        data: { ...files, 'setup.sh': script },
      },
      { parent: opts.parent },
    ),
    args.objectName,
  );
  return scriptJob(
    `${name}-job`,
    {
      namespace: args.namespace,
      objectName: args.objectName,
      labels,
      image: args.image,
      container: 'setup',
      configMapName: config.objectName,
      dir: 'setup',
      file: 'setup.sh',
      mode: 0o444,
      hash: contentHash(script, ...Object.values(files)),
      env: [
        ...args.env,
        { name: 'BODIES', value: '/setup' },
        { name: 'SCRATCH', value: '/scratch' },
        { name: 'SECRETS', value: JOB_SECRETS_DIR },
      ],
      secretFiles: args.secretFiles,
      resources: SMALL_JOB_RESOURCES,
      scratchSize: '16Mi',
      backoffLimit: 10,
      awaitCompletion: args.awaitCompletion,
      ca: args.caConfigMap !== undefined,
    },
    workload.dependingOn(opts, config),
  );
}
