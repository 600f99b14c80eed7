/** Every policy of the pack, in the order the pack reports them. */
import { Policies } from '@pulumi/policy';
import { blueGreenPolicy } from './blueGreen';
import { defaultDenyPolicy } from './defaultDeny';
import { disruptionPolicy } from './disruption';
import { imagesPolicy } from './images';
import { ingressTlsPolicy } from './ingress';
import { podSecurityPolicy } from './podSecurity';
import { probesPolicy } from './probes';
import { rbacPolicy } from './rbac';
import { resourcesPolicy } from './resources';
import { secretsPolicy } from './secrets';
import { servicesPolicy } from './services';
import { statefulPolicy } from './stateful';

export const ALL_POLICIES: Policies = [
  podSecurityPolicy,
  resourcesPolicy,
  imagesPolicy,
  secretsPolicy,
  servicesPolicy,
  rbacPolicy,
  defaultDenyPolicy,
  statefulPolicy,
  blueGreenPolicy,
  probesPolicy,
  disruptionPolicy,
  ingressTlsPolicy,
];

/** The SDK's policy types, for code outside the pack (tests) that has no @pulumi/policy of its own. */
export type { EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy } from '@pulumi/policy';
