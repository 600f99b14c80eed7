/**
 * The subset of the Pulumi engine's events the release command reads. Declared here with `unknown` property
 * values (the Automation API types them loosely), so the pure renderers can be unit-tested on recorded events.
 */

/** A step's resource state, as the engine reports it in `resourcePreEvent.metadata.old`/`new`. */
export interface StepState {
  type: string;
  urn: string;
  id?: string;
  parent?: string;
  protect?: boolean;
  retainOnDelete?: boolean;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
}

/** The kind of a property difference. */
export type DiffKind = 'add' | 'add-replace' | 'delete' | 'delete-replace' | 'update' | 'update-replace';

/** A step the engine plans (preview) or takes (update). */
export interface StepMetadata {
  op: string;
  urn: string;
  type: string;
  old?: StepState;
  new?: StepState;
  keys?: string[];
  diffs?: string[];
  detailedDiff?: Record<string, { diffKind: string; inputDiff: boolean }>;
  logical?: boolean;
  provider?: string;
}

/** One engine event; only the kinds the release command reads are declared. */
export interface EngineEventLike {
  sequence?: number;
  timestamp?: number;
  resourcePreEvent?: { metadata: StepMetadata; planning?: boolean };
  resOutputsEvent?: { metadata: StepMetadata; planning?: boolean };
  resOpFailedEvent?: { metadata: StepMetadata; status?: number; steps?: number };
  diagnosticEvent?: { severity: string; message: string; urn?: string };
  summaryEvent?: { resourceChanges: Record<string, number | undefined>; durationSeconds?: number };
}
