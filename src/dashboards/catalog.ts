import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { auditDashboard } from "./audit.js";
import { auditorDashboard } from "./auditor.js";
import { clusterDashboard } from "./cluster.js";
import { controlPlaneDashboard } from "./controlplane.js";
import { exporterDashboard } from "./exporter.js";
import { flowsDashboard } from "./flows.js";
import { buildDashboard, type DashboardSpec } from "./panels.js";

export const dashboardSpecs: DashboardSpec[] = [auditorDashboard, exporterDashboard, auditDashboard, flowsDashboard, controlPlaneDashboard, clusterDashboard];

export function buildDashboards(datasourceUid: string): Dashboard[] {
  return dashboardSpecs.map((s) => buildDashboard(s, datasourceUid));
}

export interface DashboardQuery {
  dashboard: string;
  panel: string;
  expr: string;
}

/** Every PromQL expression of every panel (template variables left in place). */
export function allDashboardQueries(): DashboardQuery[] {
  return dashboardSpecs.flatMap((d) => d.rows.flatMap((r) => r.panels.flatMap((p) => p.queries.map((q) => ({ dashboard: d.uid, panel: p.title, expr: q.expr })))));
}
