// Small wrappers over the Grafana Foundation SDK builders so each dashboard file reads as a
// list of questions (panel title + description) and the PromQL that answers them.
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as table from "@grafana/grafana-foundation-sdk/table";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";

export interface Query {
  expr: string;
  legend?: string;
}

export interface PanelSpec {
  title: string;
  /** The question the panel answers (shown as the panel's description in Grafana). */
  description: string;
  queries: Query[];
  unit?: string;
  kind?: "timeseries" | "stat" | "table";
  /** Grid width (24 = full row); height is fixed per kind. */
  width?: number;
}

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

export interface VariableSpec {
  name: string;
  label: string;
  /** Metric whose label values fill the drop-down. */
  metric: string;
  /** Label of that metric; defaults to name. */
  labelName?: string;
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  variables: VariableSpec[];
  rows: RowSpec[];
}

function target(ds: common.DataSourceRef, q: Query, i: number, instant: boolean): prometheus.DataqueryBuilder {
  const b = new prometheus.DataqueryBuilder().datasource(ds).expr(q.expr).refId(String.fromCharCode(65 + i));
  if (q.legend) b.legendFormat(q.legend);
  if (instant) b.instant().format(prometheus.PromQueryFormat.Table);
  return b;
}

type AnyPanelBuilder = stat.PanelBuilder | table.PanelBuilder | timeseries.PanelBuilder;

function panel(ds: common.DataSourceRef, p: PanelSpec): AnyPanelBuilder {
  const kind = p.kind ?? "timeseries";
  let b: AnyPanelBuilder;
  if (kind === "stat") {
    b = new stat.PanelBuilder()
      .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
      .graphMode(common.BigValueGraphMode.Area)
      .colorMode(common.BigValueColorMode.Value)
      .height(5);
  } else if (kind === "table") {
    b = new table.PanelBuilder().filterable(true).height(8);
  } else {
    b = new timeseries.PanelBuilder()
      .fillOpacity(10)
      .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.Table).placement(common.LegendPlacement.Bottom).calcs(["lastNotNull", "max"]))
      .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending))
      .height(8);
  }
  b.title(p.title).description(p.description).datasource(ds).span(p.width ?? 12);
  if (p.unit) b.unit(p.unit);
  p.queries.forEach((q, i) => b.withTarget(target(ds, q, i, kind === "table")));
  return b;
}

export function buildDashboard(spec: DashboardSpec, datasourceUid: string): dashboard.Dashboard {
  const ds: common.DataSourceRef = { type: "prometheus", uid: datasourceUid };
  const d = new dashboard.DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(spec.tags)
    .editable()
    .refresh("30s")
    .time({ from: "now-3h", to: "now" })
    .timezone("browser")
    .tooltip(dashboard.DashboardCursorSync.Crosshair);
  for (const v of spec.variables) {
    const labelName = v.labelName ?? v.name;
    d.withVariable(
      new dashboard.QueryVariableBuilder(v.name)
        .label(v.label)
        .datasource(ds)
        .query(`label_values(${v.metric}, ${labelName})`)
        .definition(`label_values(${v.metric}, ${labelName})`)
        .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
        .sort(dashboard.VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        // ".*" (not Grafana's default alternation of every value) also matches series without the label.
        .allValue(".*")
        .current({ text: "All", value: "$__all" }),
    );
  }
  // The SDK lays panels out left to right, wrapping at 24 columns; a row starts a new line.
  for (const row of spec.rows) {
    d.withRow(new dashboard.RowBuilder(row.title));
    for (const p of row.panels) d.withPanel(panel(ds, p));
  }
  return d.build();
}
