/**
 * The setup Job of the logging stack: runs `setup.sh` (see `elastic.ts`) from a ConfigMap against Elasticsearch
 * or Kibana, applying the requests the ConfigMap holds (fixed ids, so re-running overwrites). Elasticsearch and
 * Kibana each run one, with their own requests and target.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { restrictedPodSecurityContext } from '../shared/security';
import { restrictedContainer, scratchVolume } from '../shared/workload';
import { contentHash, jobAnnotations, roleLabels } from './common';
import { setupFiles, setupScript, SetupRequest } from './elastic';

/** Requests and limits of the small init and setup containers. */
export const SMALL_JOB_RESOURCES = {
  requests: { cpu: '10m', memory: '32Mi' },
  limits: { cpu: '200m', memory: '64Mi' },
};

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
    /** TARGET_URL, SETUP_USER, SETUP_PASSWORD and whatever the requests' placeholders need. */
    env: k8s.types.input.core.v1.EnvVar[];
  },
  opts: pulumi.CustomResourceOptions,
): k8s.batch.v1.Job {
  const labels = roleLabels(args.role, args.instance).labels;
  const files = setupFiles(args.requests);
  const script = setupScript(args.script);
  const config = new k8s.core.v1.ConfigMap(
    name,
    {
      metadata: { name: args.objectName, namespace: args.namespace, labels },
      data: { ...files, 'setup.sh': script },
    },
    { parent: opts.parent },
  );
  return new k8s.batch.v1.Job(
    `${name}-job`,
    {
      metadata: {
        name: args.objectName,
        namespace: args.namespace,
        labels,
        annotations: jobAnnotations(args.awaitCompletion),
      },
      spec: {
        backoffLimit: 10,
        template: {
          metadata: {
            labels,
            annotations: { 'pavemaster.io/setup-hash': contentHash(script, ...Object.values(files)) },
          },
          spec: {
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            restartPolicy: 'OnFailure',
            // Jobs only read the image's tools and write to their scratch emptyDir: the project's high uid works.
            securityContext: restrictedPodSecurityContext(),
            containers: [
              restrictedContainer({
                name: 'setup',
                image: args.image,
                command: ['sh', '/setup/setup.sh'],
                env: [
                  ...args.env,
                  { name: 'BODIES', value: '/setup' },
                  { name: 'SCRATCH', value: '/scratch' },
                ],
                resources: SMALL_JOB_RESOURCES,
                volumeMounts: [
                  { name: 'setup', mountPath: '/setup', readOnly: true },
                  { name: 'scratch', mountPath: '/scratch' },
                ],
              }),
            ],
            volumes: [
              { name: 'setup', configMap: { name: config.metadata.name, defaultMode: 0o444 } },
              scratchVolume('scratch', '16Mi', 'Memory'),
            ],
          },
        },
      },
    },
    opts,
  );
}
