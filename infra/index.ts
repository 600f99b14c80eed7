/**
 * The PaveMaster program: reads the stack's settings (all validation happens before any resource is
 * registered), creates the namespaces and the components, and exports what operators and the release command
 * need.
 */
import * as pulumi from '@pulumi/pulumi';
import { loadSettings, readStackConfig } from '../stacks/settings';
import { buildStack } from './stack';
import { startTiming } from './timing';

startTiming();
const settings = loadSettings(pulumi.getStack(), readStackConfig());
const outputs = buildStack(settings);

export const environment = settings.environment;
export const namespace = outputs.namespace;
export const activeSlot = outputs.activeSlot;
export const idleSlot = outputs.idleSlot;
export const images = outputs.images;
export const versions = outputs.versions;
export const activeServiceName = outputs.activeServiceName;
export const previewServiceName = outputs.previewServiceName;
export const blueDeploymentName = outputs.blueDeploymentName;
export const greenDeploymentName = outputs.greenDeploymentName;
export const url = outputs.url;
export const monitoring = outputs.monitoring;
export const logging = outputs.logging;
