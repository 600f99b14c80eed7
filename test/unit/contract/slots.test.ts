/**
 * The blue/green contract (components/shared/slots.ts) is the one the program, the config and the release
 * command follow: the slots and the default slot, the names of a slot's objects and its selector, as the program
 * registers and exports them and as the release command reads them back from the stack's outputs.
 */
import * as pulumi from '@pulumi/pulumi';
import {
  DEFAULT_SLOT,
  isSlot,
  otherSlot,
  perSlot,
  SLOTS,
  slotObjectNames,
  slotSelector,
} from '../../../components/shared/slots';
import { objectNamesFromOutputs } from '../../../release/session';
import { loadSettings } from '../../../stacks/settings';
import { at, ofType, recordStack } from '../../support/harness';
import { stackConfig } from '../../support/stackConfig';

function value<T>(output: unknown): Promise<T> {
  return new Promise((resolve) => (output as pulumi.Output<T>).apply((v) => resolve(v)));
}

describe('the slots', () => {
  it('are blue and green, each the other of the other, blue when a stack says nothing', () => {
    expect(SLOTS).toEqual(['blue', 'green']);
    expect(SLOTS.map(otherSlot)).toEqual(['green', 'blue']);
    expect(DEFAULT_SLOT).toBe('blue');
    expect([isSlot('blue'), isSlot('green'), isSlot('teal'), isSlot(undefined)]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(perSlot((slot) => slot.length)).toEqual({ blue: 4, green: 5 });
  });

  it('the program takes the default slot from the contract when pavemaster:activeSlot is unset', () => {
    const raw = stackConfig('staging', { activeSlot: undefined });
    expect(loadSettings('staging', raw).app.activeSlot).toBe(DEFAULT_SLOT);
  });
});

describe.each(['staging', 'production'])('the %s program', (stack) => {
  it('registers and exports exactly the contract’s object names and selectors', async () => {
    const settings = loadSettings(stack, stackConfig(stack));
    const { resources, outputs } = await recordStack(stack, stackConfig(stack));
    const names = slotObjectNames(settings.app.appName);
    const deployments = ofType(resources, 'kubernetes:apps/v1:Deployment').filter((d) =>
      Object.values(names.deployments).includes(at(d.inputs, 'metadata.name') as string),
    );
    for (const slot of SLOTS) {
      const d = deployments.find((x) => at(x.inputs, 'metadata.name') === names.deployments[slot]);
      expect(at(d?.inputs, 'spec.selector.matchLabels')).toEqual(slotSelector(settings.app.appName, slot));
    }
    const services = ofType(resources, 'kubernetes:core/v1:Service');
    const selectorOf = (name: string) =>
      at(services.find((s) => at(s.inputs, 'metadata.name') === name)?.inputs, 'spec.selector');
    expect(selectorOf(names.activeService)).toEqual(
      slotSelector(settings.app.appName, settings.app.activeSlot),
    );
    expect(selectorOf(names.previewService)).toEqual(
      slotSelector(settings.app.appName, otherSlot(settings.app.activeSlot)),
    );
    // What the release command reads back from the stack's outputs is the same.
    const exported: Record<string, { value: unknown; secret: boolean }> = {};
    for (const key of [
      'activeServiceName',
      'previewServiceName',
      'blueDeploymentName',
      'greenDeploymentName',
    ]) {
      exported[key] = { value: await value<string>(outputs[key]), secret: false };
    }
    expect(objectNamesFromOutputs(settings.app.appName, exported)).toEqual(names);
  });
});

test('the release command falls back to the contract for a stack that exports no names yet', () => {
  expect(objectNamesFromOutputs('web', {})).toEqual(slotObjectNames('web'));
  expect(
    objectNamesFromOutputs('web', { activeServiceName: { value: 'web-live', secret: false } }).activeService,
  ).toBe('web-live');
});
