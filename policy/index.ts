/**
 * The PaveMaster policy pack. Every policy is mandatory unless the stack's policy config
 * (`--policy-pack-config policy/config/<stack>.json`) says otherwise; production's config keeps every policy
 * mandatory, staging's relaxes digest pinning and protection. See docs/security.md.
 */
import { PolicyPack } from '@pulumi/policy';
import { ALL_POLICIES } from './policies/all';

new PolicyPack('pavemaster', {
  description: 'Refuses any change that weakens the PaveMaster cluster.',
  enforcementLevel: 'mandatory',
  policies: ALL_POLICIES,
});
