/** The application section of the stack config: the blue/green slots and everything around them. */
import { ParseContext, ResourceSettings } from './context';
import { readResources } from './common';
import { Fields } from './fields';
import { APP_PROFILES } from './profiles';
import {
  checkDnsLabel,
  checkEnvName,
  checkHostName,
  checkHttpPath,
  checkImage,
  checkLabelValue,
  imageVersion,
} from './validators';

export const SLOTS = ['blue', 'green'] as const;
/** A blue/green slot. */
export type Slot = (typeof SLOTS)[number];

/** The slot that is not `slot`. */
export function otherSlot(slot: Slot): Slot {
  return slot === 'blue' ? 'green' : 'blue';
}

/** What runs in one slot. */
export interface SlotSettings {
  /** The container image, "[registry/]repository[:tag][@digest]". */
  image: string;
  /** The version label of the slot's pods: the image tag unless set. */
  version: string;
}

/** A reference to a key of an existing Kubernetes Secret, exposed to the app as an environment variable. */
export interface SecretRef {
  secret: string;
  key: string;
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

export interface AppSettings {
  name: string;
  activeSlot: Slot;
  slots: Record<Slot, SlotSettings>;
  replicas: number;
  idleReplicas: number;
  resources: ResourceSettings;
  env: Record<string, string>;
  secretEnv: Record<string, SecretRef>;
  host: string;
  tlsSecretName?: string;
  ingressClassName?: string;
  port: number;
  healthPath: string;
  readyPath: string;
  metricsPath: string;
  smokePaths: string[];
  antiAffinity: 'none' | 'preferred' | 'required';
  pdbMaxUnavailable: number;
  serviceType: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  allowExternalServices: boolean;
  benchServices: number;
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
  'serviceType',
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
    const secret = ref.string('secret', '', { check: checkDnsLabel });
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

/** Reads the application section. */
export function parseApp(root: Fields, ctx: ParseContext): AppSettings {
  const profile = APP_PROFILES[ctx.environment];
  const imageCheck = (text: string) =>
    checkImage(text, { production: ctx.production, requireDigest: profile.requireDigest });

  const name = root.string('appName', 'pavemaster', { check: checkDnsLabel });
  const activeSlot = root.string<Slot>('activeSlot', 'blue', { oneOf: SLOTS });
  const slots = {} as Record<Slot, SlotSettings>;
  for (const slot of SLOTS) {
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
    slots[slot] = { image, version };
  }
  const replicas = root.int('replicas', profile.replicas, {
    min: profile.minReplicas,
    max: 100,
    why: ctx.production ? 'production keeps at least two replicas serving' : undefined,
  });
  const idleReplicas = root.int('idleReplicas', replicas, {
    min: 0,
    max: replicas,
    why: 'the idle slot runs at most as many replicas as the active one; equal keeps it warm for an instant rollback',
  });
  const resources = readResources(root, 'resources', profile.resources);
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
  const host = root.string('host', `${name}.${ctx.namespace}.localtest.me`, { check: checkHostName });
  const tlsSecretName = root.optionalString('tlsSecretName', { check: checkDnsLabel });
  const ingressClassName = root.optionalString('ingressClassName', { check: checkDnsLabel });
  const port = root.int('port', 8080, {
    min: 1024,
    max: 65535,
    why: 'non-root containers listen on unprivileged ports',
  });
  const healthPath = root.string('healthPath', '/healthz', { check: checkHttpPath });
  const readyPath = root.string('readyPath', '/readyz', { check: checkHttpPath });
  const metricsPath = root.string('metricsPath', '/metrics', { check: checkHttpPath });
  const smokePaths = root.stringList('smokePaths', [healthPath, readyPath, '/'], { check: checkHttpPath });
  const antiAffinity = root.string('antiAffinity', profile.antiAffinity, {
    oneOf: ['none', 'preferred', 'required'] as const,
  });
  const pdbMaxUnavailable = root.int('pdbMaxUnavailable', profile.pdbMaxUnavailable, {
    min: 1,
    max: Math.max(1, replicas),
    why: 'zero would block every node drain',
  });
  const allowExternalServices = root.bool('allowExternalServices', false);
  const serviceType = root.string('serviceType', 'ClusterIP', {
    oneOf: allowExternalServices
      ? (['ClusterIP', 'NodePort', 'LoadBalancer'] as const)
      : (['ClusterIP'] as const),
  });
  const benchServices = root.int('benchServices', 1, {
    min: 1,
    max: 200,
    why: 'bench-only: how many blue/green apps to deploy',
  });

  let build: ImageBuildSettings | undefined;
  if (root.has('imageBuild')) {
    const b = root.object('imageBuild');
    build = {
      context: b.string('context', 'app'),
      dockerfile: b.string('dockerfile', 'Dockerfile'),
      repository: b.string('repository', '', {
        check: (r) =>
          checkImage(r, { production: false, requireDigest: false }) === undefined &&
          !r.includes(':') &&
          !r.includes('@')
            ? undefined
            : 'an image repository without tag or digest',
      }),
      slot: b.string<Slot>('slot', otherSlot(activeSlot), { oneOf: SLOTS }),
    };
    if (build.repository === '') {
      b.fail('repository', undefined, 'the repository to push the built image to');
    }
    b.finish();
  } else {
    root.object('imageBuild').finish();
  }

  return {
    name,
    activeSlot,
    slots,
    replicas,
    idleReplicas,
    resources,
    env,
    secretEnv,
    host,
    tlsSecretName,
    ingressClassName,
    port,
    healthPath,
    readyPath,
    metricsPath,
    smokePaths,
    antiAffinity,
    pdbMaxUnavailable,
    serviceType,
    allowExternalServices,
    benchServices,
    build,
  };
}
