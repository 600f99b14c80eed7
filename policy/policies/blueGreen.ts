/**
 * Blue/green stays blue/green: every Deployment labelled `slot: blue` has a `slot: green` twin in the same
 * namespace with the same `app` label (and the other way round), both select and label their pods with that
 * `app` and `slot`, and every Service that selects such an `app` also selects a `slot`, so that traffic goes
 * to exactly one slot and a promotion or rollback is one selector change.
 */
import { PolicyResource, StackValidationPolicy } from '@pulumi/policy';
import { APP_LABEL, isSlot, otherSlot, SLOT_LABEL, SLOTS } from '../../components/shared/slots';
import { at, identity, kindOf, stringMap } from '../lib/kubernetes';

/** Every break of the blue/green contract: [message, urn]. */
export function blueGreenViolations(resources: readonly PolicyResource[]): [string, string][] {
  const out: [string, string][] = [];
  const slotted = new Map<string, Map<string, PolicyResource>>();
  for (const r of resources) {
    if (kindOf(r.type) !== 'Deployment') {
      continue;
    }
    const labels = stringMap(at(r.props, 'metadata.labels'));
    const slot = labels[SLOT_LABEL];
    if (slot === undefined) {
      continue;
    }
    const { name, namespace } = identity(r.props, r.name);
    const who = `Deployment ${namespace}/${name}`;
    const app = labels[APP_LABEL];
    if (!isSlot(slot)) {
      out.push([`${who} has slot "${slot}"; a slot is blue or green.`, r.urn]);
      continue;
    }
    if (app === undefined) {
      out.push([`${who} has a slot label but no app label.`, r.urn]);
      continue;
    }
    const selector = stringMap(at(r.props, 'spec.selector.matchLabels'));
    const podLabels = stringMap(at(r.props, 'spec.template.metadata.labels'));
    if (selector[APP_LABEL] !== app || selector[SLOT_LABEL] !== slot) {
      out.push([`${who} does not select its pods by app=${app} and slot=${slot}.`, r.urn]);
    }
    if (podLabels[APP_LABEL] !== app || podLabels[SLOT_LABEL] !== slot) {
      out.push([`${who} does not label its pods app=${app} and slot=${slot}.`, r.urn]);
    }
    const key = `${namespace}/${app}`;
    const bySlot = slotted.get(key) ?? new Map<string, PolicyResource>();
    if (bySlot.has(slot)) {
      out.push([`${who} is a second ${slot} Deployment of app ${app}.`, r.urn]);
    }
    bySlot.set(slot, r);
    slotted.set(key, bySlot);
  }
  for (const [key, bySlot] of slotted) {
    for (const slot of SLOTS) {
      const twin = otherSlot(slot);
      const present = bySlot.get(slot);
      if (present !== undefined && !bySlot.has(twin)) {
        out.push([`App ${key} has a ${slot} Deployment but no ${twin} twin.`, present.urn]);
      }
    }
  }
  for (const r of resources) {
    if (kindOf(r.type) !== 'Service') {
      continue;
    }
    const { name, namespace } = identity(r.props, r.name);
    const selector = stringMap(at(r.props, 'spec.selector'));
    if (selector[APP_LABEL] === undefined || !slotted.has(`${namespace}/${selector[APP_LABEL]}`)) {
      continue;
    }
    if (!isSlot(selector[SLOT_LABEL])) {
      out.push([
        `Service ${namespace}/${name} selects app=${selector.app} without a slot: it would send traffic to both slots.`,
        r.urn,
      ]);
    }
  }
  return out;
}

export const blueGreenPolicy: StackValidationPolicy = {
  name: 'blue-green-slots',
  description:
    'Every slot: blue Deployment has a slot: green twin with the same app label (and vice versa), and the ' +
    'Services selecting that app select a slot.',
  severity: 'medium',
  validateStack: (args, reportViolation) => {
    for (const [message, urn] of blueGreenViolations(args.resources)) {
      reportViolation(message, urn);
    }
  },
};
