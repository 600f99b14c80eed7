/** The four dashboards PaveMaster's operators use, keyed by file name: Application, Infrastructure, Business, Release. */
import { Dashboard, DashboardArgs } from '../dashboard';
import { applicationDashboard } from './application';
import { businessDashboard } from './business';
import { infrastructureDashboard } from './infrastructure';
import { releaseDashboard } from './release';

export type { Dashboard, DashboardArgs } from '../dashboard';
export { dashboardQueries } from '../dashboard';
export { applicationDashboard, businessDashboard, infrastructureDashboard, releaseDashboard };

/** Every dashboard, keyed by its file name in Grafana's provisioning directory. */
export function allDashboards(a: DashboardArgs): Record<string, Dashboard> {
  return {
    'application.json': applicationDashboard(a),
    'infrastructure.json': infrastructureDashboard(a),
    'business.json': businessDashboard(a),
    'release.json': releaseDashboard(a),
  };
}
