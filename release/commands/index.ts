/**
 * The release steps, one file each: deploy, promote (gates, switch, post-promotion check), rollback (instant, or
 * to an earlier stack version), status, history, preview and recover. Each changes the stack only through its
 * config in `Pulumi.<stack>.yaml` and `pulumi up`, so what is committed stays the source of truth.
 */
export { runGates } from '../gateRunner';
export { switchTraffic } from '../traffic';
export type { SwitchResult } from '../traffic';
export { abort } from './abort';
export type { AbortResult } from './abort';
export { deploy } from './deploy';
export { history } from './history';
export { confirmProduction, newReleaseId } from './options';
export type { ReleaseOptions } from './options';
export { preview, previewReport } from './preview';
export { previewPromote, previewPromoteReport, promote, promoteJson } from './promote';
export type { PromoteResult } from './promote';
export { findLockFiles, recover } from './recover';
export { rollback, rollbackTo } from './rollback';
export { compareSources, status } from './status';
export type { SlotStatus, StatusReport } from './status';
