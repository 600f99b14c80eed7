/** Kubernetes' recommended labels (`app.kubernetes.io/*`), built the same way by every component. */

/** What the recommended labels say about an object. */
export interface RecommendedLabelArgs {
  /** app.kubernetes.io/name: the application, e.g. "pavemaster" or "prometheus". */
  name: string;
  /** app.kubernetes.io/instance: the instance, usually the component's resource name. */
  instance: string;
  /** app.kubernetes.io/component: the role within the architecture, e.g. "web", "database". */
  component: string;
  /** app.kubernetes.io/part-of: the higher-level application. @default "pavemaster" */
  partOf?: string;
  /** app.kubernetes.io/version: the version of what runs. @default none */
  version?: string;
}

/** The labels every object of the project carries. */
export function recommendedLabels(opts: RecommendedLabelArgs): Record<string, string> {
  return {
    'app.kubernetes.io/name': opts.name,
    'app.kubernetes.io/instance': opts.instance,
    'app.kubernetes.io/component': opts.component,
    'app.kubernetes.io/part-of': opts.partOf ?? 'pavemaster',
    'app.kubernetes.io/managed-by': 'pulumi',
    ...(opts.version !== undefined ? { 'app.kubernetes.io/version': opts.version } : {}),
  };
}

/** The recommended label keys a selector may use: the ones that never change over an object's life. */
export type SelectorKey =
  'app.kubernetes.io/name' | 'app.kubernetes.io/instance' | 'app.kubernetes.io/component';

/**
 * A workload's labels and the subset that selects its pods. The selector leaves out the version (a Deployment's
 * or StatefulSet's selector is immutable, the version changes with every release).
 */
export function labelsWithSelector(
  opts: RecommendedLabelArgs,
  selectBy: readonly SelectorKey[],
): { labels: Record<string, string>; selector: Record<string, string> } {
  const labels = recommendedLabels(opts);
  const selector: Record<string, string> = {};
  for (const key of selectBy) {
    selector[key] = labels[key];
  }
  return { labels, selector };
}
