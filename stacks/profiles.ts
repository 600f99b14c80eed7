/**
 * Per-environment defaults. A stack file only has to say what differs from its environment's profile; every
 * value here can be overridden by the stack's config.
 */
import { Environment, ResourceSettings } from './context';

/** Defaults of the application section for one environment. */
export interface AppProfile {
  replicas: number;
  resources: ResourceSettings;
  /** How the pods of one slot spread over nodes. */
  antiAffinity: 'none' | 'preferred' | 'required';
  /** The PodDisruptionBudget's maxUnavailable per slot: a node drain never takes more pods at once. */
  pdbMaxUnavailable: number;
  /** Production refuses images that are not pinned by digest. */
  requireDigest: boolean;
  /** Minimum replicas a stack may ask for. */
  minReplicas: number;
}

export const APP_PROFILES: Record<Environment, AppProfile> = {
  staging: {
    replicas: 1,
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
    antiAffinity: 'preferred',
    pdbMaxUnavailable: 1,
    requireDigest: false,
    minReplicas: 1,
  },
  production: {
    replicas: 3,
    resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    antiAffinity: 'required',
    pdbMaxUnavailable: 1,
    requireDigest: true,
    minReplicas: 2,
  },
};
