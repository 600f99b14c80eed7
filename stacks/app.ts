/**
 * The application section of the stack config: the blue/green slots and everything around them. It produces the
 * `BlueGreenApp`'s own options (components/BlueGreenApp.ts), with the environment's profile over the component's
 * defaults, plus what only the stack knows (each slot's image and version, the smoke paths, an image build).
 */
import type { ResolvedBlueGreenAppOptions, SecretRef } from '../components/BlueGreenApp';
import {
  BLUE_GREEN_APP_DEFAULTS,
  checkBlueGreenAppOptions,
  MAX_PROGRESS_DEADLINE_SECONDS,
  MIN_PROGRESS_DEADLINE_SECONDS,
} from '../components/appOptions';
import { withDefaults } from '../components/shared/args';
import {
  checkDnsLabel,
  checkEnvName,
  checkHostName,
  checkHttpPath,
  checkLabelValue,
} from '../components/shared/checks';
import { imageVersion, parseRepository } from '../components/shared/image';
import { DEFAULT_SLOT, otherSlot, perSlot, Slot, SLOTS } from '../components/shared/slots';
import { readResources, reportArgProblems } from './common';
import { ParseContext } from './context';
import { Fields } from './fields';
import { readEgress, readIngressFrom } from './network';
import { PROFILES } from './profiles';
import { checkImage } from './validators';

export type { SecretRef } from '../components/BlueGreenApp';

/** What runs in one slot. */
export interface SlotSettings {
  /** The container image, "[registry/]repository[:tag][@digest]". */
  image: string;
  /** The version label of the slot's pods: the image tag unless set. */
  version: string;
}

/** Building the app image with `@pulumi/docker` instead of taking a prebuilt reference. */
export interface ImageBuildSettings {
  /** The Docker build context, relative to the project. */
  context: string;
  /** The Dockerfile, relative to the context. */
  dockerfile: string;
  /** The repository to push to, without tag. */
  repository: string;
  /** The slot the built image goes to (the idle slot during a release). */
  slot: Slot;
}

/** The app's settings: the BlueGreenApp's options, resolved, and what only the stack knows. */
export interface AppSettings extends ResolvedBlueGreenAppOptions {
  /** What each slot runs. */
  slots: Record<Slot, SlotSettings>;
  /** The public host of the Ingress (always set for a stack). */
  host: string;
  /** What the release's smoke test requests. */
  smokePaths: string[];
  /** Whether Services of type NodePort or LoadBalancer are allowed. */
  allowExternalServices: boolean;
  /** Bench only: how many blue/green apps the stack deploys. */
  benchServices: number;
  /** Build the image instead of taking a prebuilt reference. */
  build?: ImageBuildSettings;
}

/** The top-level keys this section reads. */
export const APP_KEYS = [
  'appName',
  'activeSlot',
  'blueImage',
  'greenImage',
  'blueVersion',
  'greenVersion',
  'replicas',
  'idleReplicas',
  'resources',
  'env',
  'secretEnv',
  'host',
  'tlsSecretName',
  'ingressClassName',
  'port',
  'healthPath',
  'readyPath',
  'metricsPath',
  'smokePaths',
  'antiAffinity',
  'pdbMaxUnavailable',
  'progressDeadlineSeconds',
  'serviceType',
  'ingressFrom',
  'egress',
  'allowExternalServices',
  'benchServices',
  'imageBuild',
] as const;

function readSecretEnv(root: Fields): Record<string, SecretRef> {
  const name = 'secretEnv';
  const map = root.object(name);
  const out: Record<string, SecretRef> = {};
  for (const envName of map.names()) {
    const envProblem = checkEnvName(envName);
    const ref = map.object(envName);
    const secret = ref.string('secret', '', { check: (v) => checkDnsLabel(v) });
    const key = ref.string('key', '', {
      check: (k) =>
        /^[-._a-zA-Z0-9]+$/.test(k) ? undefined : 'a Secret key of letters, digits, "-", "_" and "."',
    });
    ref.finish();
    if (envProblem !== undefined) {
      root.problems.add(`${map.prefix}${envName}`, envName, envProblem);
    } else if (secret === '' || key === '') {
      root.problems.add(
        `${map.prefix}${envName}`,
        { secret, key },
        'an object { secret: <Secret name>, key: <key in it> }',
      );
    } else {
      out[envName] = { secret, key };
    }
  }
  return out;
}

function readImageBuild(root: Fields, activeSlot: Slot): ImageBuildSettings | undefined {
  const b = root.object('imageBuild');
  if (!root.has('imageBuild')) {
    b.finish();
    return undefined;
  }
  const build: ImageBuildSettings = {
    context: b.string('context', 'app'),
    dockerfile: b.string('dockerfile', 'Dockerfile'),
    repository: b.string('repository', '', {
      check: (r) =>
        parseRepository(r) !== undefined ? undefined : 'an image repository without tag or digest',
    }),
    slot: b.string<Slot>('slot', otherSlot(activeSlot), { oneOf: SLOTS }),
  };
  if (build.repository === '') {
    b.fail('repository', undefined, 'the repository to push the built image to');
  }
  b.finish();
  return build;
}

/** Reads the application section. */
export function parseApp(root: Fields, ctx: ParseContext): AppSettings {
  const { rules } = PROFILES[ctx.environment];
  const d = withDefaults(BLUE_GREEN_APP_DEFAULTS, PROFILES[ctx.environment].app);
  const imageCheck = (text: string) =>
    checkImage(text, { production: ctx.production, requireDigest: rules.requireDigest });

  const appName = root.string('appName', 'pavemaster', { check: (v) => checkDnsLabel(v, 50) });
  const activeSlot = root.string<Slot>('activeSlot', DEFAULT_SLOT, { oneOf: SLOTS });
  const slots = perSlot((slot): SlotSettings => {
    const imageKey = `${slot}Image`;
    if (!root.has(imageKey)) {
      root.fail(
        imageKey,
        undefined,
        `an image reference for the ${slot} slot is required, e.g. "pavemaster/web:1.0.0"`,
      );
    }
    const image = root.string(imageKey, 'pavemaster/web:0.0.0', { check: imageCheck });
    const version = root.string(`${slot}Version`, imageVersion(image) ?? 'unknown', {
      check: checkLabelValue,
    });
    return { image, version };
  });
  const replicas = root.int('replicas', d.replicas, {
    min: rules.minReplicas,
    max: 100,
    why: ctx.production ? 'production keeps at least two replicas serving' : undefined,
  });
  const idleReplicas = root.int('idleReplicas', replicas, {
    min: 0,
    max: replicas,
    why: 'the idle slot runs at most as many replicas as the active one; equal keeps it warm for an instant rollback',
  });
  const env = root.stringMap('env', { checkKey: checkEnvName });
  const secretEnv = readSecretEnv(root);
  for (const envName of Object.keys(secretEnv)) {
    if (envName in env) {
      root.problems.add(
        `${root.key('secretEnv')}.${envName}`,
        envName,
        `a name not also set in ${root.key('env')}`,
      );
    }
  }
  const healthPath = root.string('healthPath', d.healthPath, { check: checkHttpPath });
  const readyPath = root.string('readyPath', d.readyPath, { check: checkHttpPath });
  const allowExternalServices = root.bool('allowExternalServices', false);
  const settings: AppSettings = {
    ...d,
    appName,
    activeSlot,
    slots,
    replicas,
    idleReplicas,
    resources: readResources(root, 'resources', d.resources),
    env,
    secretEnv,
    host: root.string('host', `${appName}.${ctx.namespace}.localtest.me`, { check: checkHostName }),
    tlsSecretName: root.optionalString('tlsSecretName', { check: (v) => checkDnsLabel(v) }),
    ingressClassName: root.optionalString('ingressClassName', { check: (v) => checkDnsLabel(v) }),
    port: root.int('port', d.port, {
      min: 1024,
      max: 65535,
      why: 'non-root containers listen on unprivileged ports',
    }),
    healthPath,
    readyPath,
    metricsPath: root.string('metricsPath', d.metricsPath, { check: checkHttpPath }),
    smokePaths: root.stringList('smokePaths', [healthPath, readyPath, '/'], { check: checkHttpPath }),
    antiAffinity: root.string('antiAffinity', d.antiAffinity, {
      oneOf: ['none', 'preferred', 'required'] as const,
    }),
    pdbMaxUnavailable: root.int('pdbMaxUnavailable', d.pdbMaxUnavailable, {
      min: 1,
      max: Math.max(1, replicas),
      why: 'zero would block every node drain',
    }),
    progressDeadlineSeconds: root.int('progressDeadlineSeconds', d.progressDeadlineSeconds, {
      min: MIN_PROGRESS_DEADLINE_SECONDS,
      max: MAX_PROGRESS_DEADLINE_SECONDS,
      why: 'seconds a rollout may go without progress before Kubernetes marks it failed',
    }),
    allowExternalServices,
    serviceType: root.string('serviceType', d.serviceType, {
      oneOf: allowExternalServices
        ? (['ClusterIP', 'NodePort', 'LoadBalancer'] as const)
        : (['ClusterIP'] as const),
    }),
    ingressFrom: readIngressFrom(root, d.ingressFrom),
    egress: readEgress(root, d.egress),
    benchServices: root.int('benchServices', 1, {
      min: 1,
      max: 200,
      why: 'bench-only: how many blue/green apps to deploy',
    }),
    build: readImageBuild(root, activeSlot),
  };
  reportArgProblems(root, checkBlueGreenAppOptions(settings));
  return settings;
}
