/** The four dashboards PaveMaster's operators use, keyed by file name: Application, Infrastructure, Business, Release. */
import { releaseAnnotationTags } from '../../shared/release';
import { Dashboard, DashboardArgs, releaseAnnotationQuery } from '../dashboard';
import { applicationDashboard } from './application';
import { businessDashboard } from './business';
import { infrastructureDashboard } from './infrastructure';
import { releaseDashboard } from './release';

export type { Dashboard, DashboardArgs } from '../dashboard';
export { dashboardQueries } from '../dashboard';
export { applicationDashboard, businessDashboard, infrastructureDashboard, releaseDashboard };

/** Every dashboard, keyed by its file name in Grafana's provisioning directory, each showing the app's releases. */
export function allDashboards(a: DashboardArgs): Record<string, Dashboard> {
  const all: Record<string, Dashboard> = {
    'application.json': applicationDashboard(a),
    'infrastructure.json': infrastructureDashboard(a),
    'business.json': businessDashboard(a),
    'release.json': releaseDashboard(a),
  };
  // Every dashboard marks the app's releases on its time axis (release/annotations.ts posts them).
  const releases = releaseAnnotationQuery(releaseAnnotationTags(a.appNamespace, a.appName));
  for (const d of Object.values(all)) {
    d.annotations.list.push(releases);
  }
  return all;
}
