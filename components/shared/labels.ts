/** Kubernetes' recommended labels (`app.kubernetes.io/*`), built the same way by every component. */

/** The labels every object of the project carries. */
export function recommendedLabels(opts: {
  /** app.kubernetes.io/name: the application, e.g. "pavemaster" or "prometheus". */
  name: string;
  /** app.kubernetes.io/instance: the instance, usually the component's resource name. */
  instance: string;
  /** app.kubernetes.io/component: the role within the architecture, e.g. "web", "database". */
  component: string;
  /** app.kubernetes.io/part-of: the higher-level application. */
  partOf?: string;
  /** app.kubernetes.io/version: the version of what runs. */
  version?: string;
}): Record<string, string> {
  return {
    'app.kubernetes.io/name': opts.name,
    'app.kubernetes.io/instance': opts.instance,
    'app.kubernetes.io/component': opts.component,
    'app.kubernetes.io/part-of': opts.partOf ?? 'pavemaster',
    'app.kubernetes.io/managed-by': 'pulumi',
    ...(opts.version !== undefined ? { 'app.kubernetes.io/version': opts.version } : {}),
  };
}
