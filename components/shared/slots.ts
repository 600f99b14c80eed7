/**
 * The blue/green contract, in one place. Everything that knows about slots (the program's BlueGreenApp, the stack
 * config, the release command, the policy pack, the CI scripts and the tests) takes these names from here:
 *
 * - an app runs in two slots, `blue` and `green`; one is active, the other idle (`otherSlot`), and a stack that
 *   says nothing runs `blue` (`DEFAULT_SLOT`);
 * - each slot is one Deployment `<app>-<slot>` whose pods carry `app: <app>` and `slot: <slot>`
 *   (`slotSelector`), and a PodDisruptionBudget of the same name;
 * - the active Service `<app>` and the preview Service `<app>-preview` select one slot each; moving traffic
 *   changes those two selectors and nothing else.
 *
 * It imports nothing, so the policy pack (its own package) can use it as it is.
 */

/** The slots, in the order they are listed everywhere. */
export const SLOTS = ['blue', 'green'] as const;

/** A blue/green slot. */
export type Slot = (typeof SLOTS)[number];

/** The slot that takes traffic when a stack does not say (`pavemaster:activeSlot` unset). */
export const DEFAULT_SLOT: Slot = 'blue';

/** True for "blue" and "green". */
export function isSlot(value: unknown): value is Slot {
  return (SLOTS as readonly unknown[]).includes(value);
}

/** The slot that is not `slot`: the idle one when `slot` is active. */
export function otherSlot(slot: Slot): Slot {
  return slot === SLOTS[0] ? SLOTS[1] : SLOTS[0];
}

/** One value per slot, built by `f`. */
export function perSlot<T>(f: (slot: Slot) => T): Record<Slot, T> {
  return { blue: f('blue'), green: f('green') };
}

/** The pod labels that tie a pod to its app and slot. */
export const APP_LABEL = 'app';
export const SLOT_LABEL = 'slot';
/** The pod label carrying the slot's release version. */
export const VERSION_LABEL = 'version';

/** The labels selecting every pod of an app, both slots. */
export function appSelector(app: string): Record<string, string> {
  return { [APP_LABEL]: app };
}

/** The labels selecting one slot's pods: the Deployment's selector and what the Services switch between. */
export function slotSelector(app: string, slot: Slot): Record<string, string> {
  return { [APP_LABEL]: app, [SLOT_LABEL]: slot };
}

/** The Kubernetes objects of an app's slots, by role. */
export interface SlotObjectNames {
  /** The Service that takes production traffic (selects the active slot). */
  readonly activeService: string;
  /** The Service that reaches the idle slot, for tests before promotion. */
  readonly previewService: string;
  /** Each slot's Deployment (and PodDisruptionBudget). */
  readonly deployments: Readonly<Record<Slot, string>>;
}

/** The object names of an app's slots; the program creates them and exports them as stack outputs. */
export function slotObjectNames(app: string): SlotObjectNames {
  return {
    activeService: app,
    previewService: `${app}-preview`,
    deployments: perSlot((slot) => `${app}-${slot}`),
  };
}
