/**
 * Wires the components of one stack together from its typed settings. Kept apart from `index.ts` so that unit
 * tests can build a stack from settings of their own under Pulumi's mocks.
 */
import * as pulumi from '@pulumi/pulumi';
import { BlueGreenApp, Slot } from '../components/BlueGreenApp';
import { PlatformNamespace } from '../components/PlatformNamespace';
import { releaseAnnotations } from '../stacks/release';
import { Settings } from '../stacks/settings';
import { resolveSlotImages } from './image';
import { deployLogging, LoggingOutputs } from './logging';
import { deployMonitoring, MonitoringOutputs } from './monitoring';

/** What the program exports. */
export interface StackOutputs {
  namespace: pulumi.Output<string>;
  activeSlot: pulumi.Output<Slot>;
  idleSlot: pulumi.Output<Slot>;
  images: pulumi.Output<Record<Slot, string>>;
  versions: pulumi.Output<Record<Slot, string>>;
  activeServiceName: pulumi.Output<string>;
  previewServiceName: pulumi.Output<string>;
  blueDeploymentName: pulumi.Output<string>;
  greenDeploymentName: pulumi.Output<string>;
  url: pulumi.Output<string | undefined>;
  /** The monitoring stack's outputs, when enabled. */
  monitoring?: MonitoringOutputs;
  /** The logging stack's outputs, when enabled. */
  logging?: LoggingOutputs;
}

export function buildStack(settings: Settings): StackOutputs {
  const { app } = settings;
  const ns = new PlatformNamespace('app-namespace', { name: settings.namespace });
  const ingressFrom: string[] = [];
  if (settings.monitoring.enabled) {
    ingressFrom.push(settings.monitoring.namespace);
  }

  // A prebuilt reference from config, or the digest of the image @pulumi/docker builds (pavemaster:imageBuild).
  const slotImages = resolveSlotImages(settings);
  const apps: BlueGreenApp[] = [];
  for (let i = 0; i < app.benchServices; i++) {
    const appName = i === 0 ? app.name : `${app.name}-${i}`;
    apps.push(
      new BlueGreenApp(
        appName,
        {
          namespace: ns.name,
          appName,
          activeSlot: app.activeSlot,
          slots: {
            blue: {
              image: slotImages.blue,
              version: app.slots.blue.version,
              annotations: releaseAnnotations(settings.release.slots.blue),
            },
            green: {
              image: slotImages.green,
              version: app.slots.green.version,
              annotations: releaseAnnotations(settings.release.slots.green),
            },
          },
          replicas: app.replicas,
          idleReplicas: app.idleReplicas,
          resources: app.resources,
          port: app.port,
          healthPath: app.healthPath,
          readyPath: app.readyPath,
          metricsPath: app.metricsPath,
          env: app.env,
          secretEnv: app.secretEnv,
          secretValues: settings.appSecrets,
          host: i === 0 ? app.host : undefined,
          tlsSecretName: app.tlsSecretName,
          ingressClassName: app.ingressClassName,
          antiAffinity: app.antiAffinity,
          pdbMaxUnavailable: app.pdbMaxUnavailable,
          serviceType: app.serviceType,
          allowIngressFromNamespaces: ingressFrom,
          protect: false,
        },
        { dependsOn: [ns] },
      ),
    );
  }
  const main = apps[0];
  const logging = deployLogging(settings);
  const monitoring = deployMonitoring(settings, {
    appNamespace: ns.name,
    app: {
      activeServiceName: main.activeServiceName,
      previewServiceName: main.previewServiceName,
      url: main.url,
    },
    logging,
  });
  return {
    monitoring,
    logging,
    namespace: ns.name,
    activeSlot: main.activeSlot,
    idleSlot: main.idleSlot,
    images: main.images,
    versions: main.versions,
    activeServiceName: main.activeServiceName,
    previewServiceName: main.previewServiceName,
    blueDeploymentName: main.deploymentNames.apply((d) => d.blue),
    greenDeploymentName: main.deploymentNames.apply((d) => d.green),
    url: main.url,
  };
}
