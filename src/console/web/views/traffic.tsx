// Workload traffic as a graph (like Hubble UI's service map), from the flows metrics in Prometheus:
// nodes = workloads in one column per namespace (outside-the-cluster peers last), edges = client →
// server with the bytes and requests of the window, red when more than 5 % of the flows failed
// (dropped, or DNS lookups that failed). The namespace filter (`ns`), the window and the moment
// (`at`, default now: a link to an incident keeps its time) are in the URL.
// Data from GET /api/console/traffic/graph.
import { useState } from "preact/hooks";
import type { ViewProps } from "../types.js";
import { usePolled } from "./ops-fetch.js";
import { formatBytes, formatCount, formatPercent, formatTime } from "./ops-format.js";
import "./traffic.css";
import type { TrafficEdge, TrafficGraph as Graph, TrafficNode } from "../../shapes.js";
export type { TrafficEdge, TrafficNode };

export const ERROR_RATIO_RED = 0.05;
const WINDOWS = ["5m", "15m", "1h", "6h", "1d"];
const REFRESH_MS = 30_000;

const NODE_W = 170;
const NODE_H = 34;
const GAP_X = 64;
const GAP_Y = 16;
const HEAD = 44;
const MARGIN = 12;

export interface Placed {
  node: TrafficNode;
  x: number;
  y: number;
  col: number;
}

/**
 * A deterministic layout: one column per namespace in name order (peers outside the cluster, with
 * an empty namespace, in the last column), workloads top to bottom by name.
 */
export function layout(nodes: TrafficNode[]): { placed: Map<string, Placed>; columns: { namespace: string; x: number }[]; width: number; height: number } {
  const names = [...new Set(nodes.map((n) => n.namespace))].sort((a, b) => (a === "" ? 1 : b === "" ? -1 : a.localeCompare(b)));
  const placed = new Map<string, Placed>();
  let rows = 0;
  const columns = names.map((namespace, col) => {
    const x = MARGIN + col * (NODE_W + GAP_X);
    const members = nodes.filter((n) => n.namespace === namespace).sort((a, b) => a.workload.localeCompare(b.workload));
    members.forEach((node, i) => placed.set(node.id, { node, x, y: MARGIN + HEAD + i * (NODE_H + GAP_Y), col }));
    rows = Math.max(rows, members.length);
    return { namespace, x };
  });
  return { placed, columns, width: MARGIN * 2 + Math.max(1, names.length) * (NODE_W + GAP_X) - GAP_X + 60, height: MARGIN * 2 + HEAD + Math.max(1, rows) * (NODE_H + GAP_Y) };
}

function edgePath(a: Placed, b: Placed): string {
  const ay = a.y + NODE_H / 2;
  const by = b.y + NODE_H / 2;
  if (a.col === b.col) {
    // same namespace: a loop out to the right
    const x = a.x + NODE_W;
    const bulge = 40 + Math.abs(by - ay) / 4;
    return `M${x},${ay} C${x + bulge},${ay} ${x + bulge},${by} ${x},${by}`;
  }
  const forward = b.col > a.col;
  const x1 = forward ? a.x + NODE_W : a.x;
  const x2 = forward ? b.x : b.x + NODE_W;
  if (Math.abs(b.col - a.col) === 1) {
    const dx = (x2 - x1) / 2;
    return `M${x1},${ay} C${x1 + dx},${ay} ${x2 - dx},${by} ${x2},${by}`;
  }
  // Across other columns: up into the band above the nodes, along it, and down, so the edge never
  // seems to pass through a workload of a column in between.
  const band = MARGIN + HEAD - 10;
  const s = forward ? 1 : -1;
  const h = GAP_X / 2;
  return `M${x1},${ay} C${x1 + s * h},${ay} ${x1 + s * h},${band} ${x1 + s * GAP_X},${band} L${x2 - s * GAP_X},${band} C${x2 - s * h},${band} ${x2 - s * h},${by} ${x2},${by}`;
}

const nsLabel = (ns: string): string => (ns === "" ? "outside the cluster" : ns);
/** A node id for people: "namespace/workload", or the bare name of a peer outside the cluster. */
const display = (id: string): string => (id.startsWith("/") ? id.slice(1) : id);

function GraphSvg({ graph, selected, onSelect, onNamespace }: { graph: Graph; selected: string | null; onSelect: (id: string | null) => void; onNamespace: (ns: string) => void }) {
  const { placed, columns, width, height } = layout(graph.nodes);
  const maxBytes = Math.max(1, ...graph.edges.map((e) => e.bytes));
  const maxReq = Math.max(1, ...graph.edges.map((e) => e.requests));
  return (
    <svg class="traffic-graph" data-testid="traffic-graph" viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="img" aria-label="workload traffic graph">
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse">
          <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
        </marker>
        <marker id="arrow-bad" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse">
          <path d="M0,0 L10,5 L0,10 z" class="arrowhead bad" />
        </marker>
      </defs>
      {columns.map((c) => (
        <text key={c.namespace} x={c.x} y={MARGIN + 14} class={`ns-label ${c.namespace === "" ? "outside" : ""}`} data-testid="ns-column" onClick={() => c.namespace !== "" && onNamespace(c.namespace)}>
          {nsLabel(c.namespace)}
        </text>
      ))}
      {graph.edges.map((e) => {
        const a = placed.get(e.source);
        const b = placed.get(e.target);
        if (!a || !b) return null;
        const bad = e.errorRatio > ERROR_RATIO_RED;
        const weight = e.bytes > 0 ? Math.sqrt(e.bytes / maxBytes) : Math.sqrt(e.requests / maxReq);
        const dim = selected !== null && e.source !== selected && e.target !== selected;
        return (
          <path
            key={`${e.source}>${e.target}`}
            d={edgePath(a, b)}
            class={`edge ${bad ? "bad" : ""} ${dim ? "dim" : ""}`}
            stroke-width={(1 + 5 * weight).toFixed(2)}
            marker-end={bad ? "url(#arrow-bad)" : "url(#arrow)"}
            data-testid="edge"
            data-source={e.source}
            data-target={e.target}
            data-bad={String(bad)}
          >
            <title>{`${display(e.source)} → ${display(e.target)}: ${formatBytes(e.bytes)}, ${formatCount(e.requests)} requests, ${formatCount(e.drops)} dropped, ${formatPercent(e.errorRatio)} errors`}</title>
          </path>
        );
      })}
      {[...placed.values()].map((p) => {
        const bad = p.node.httpErrorRatio > ERROR_RATIO_RED;
        return (
          <g key={p.node.id} class={`node ${bad ? "bad" : ""} ${selected === p.node.id ? "selected" : ""}`} data-testid="node" data-id={p.node.id} onClick={() => onSelect(selected === p.node.id ? null : p.node.id)}>
            <rect x={p.x} y={p.y} width={NODE_W} height={NODE_H} rx={5} />
            <text x={p.x + 8} y={p.y + 14} class="workload">
              {p.node.workload.length > 23 ? `${p.node.workload.slice(0, 22)}…` : p.node.workload}
            </text>
            <text x={p.x + 8} y={p.y + 28} class="sub">
              {p.node.httpRequests > 0 ? `HTTP ${formatCount(p.node.httpRequests)} req, ${formatPercent(p.node.httpErrorRatio)} 5xx` : nsLabel(p.node.namespace)}
            </text>
            <title>{display(p.node.id)}</title>
          </g>
        );
      })}
    </svg>
  );
}

export function TrafficView({ state, setState }: ViewProps) {
  const ns = state.ns ?? "";
  const win = state.window && WINDOWS.includes(state.window) ? state.window : "5m";
  const [selected, setSelected] = useState<string | null>(null);
  const at = state.at;
  const { data, error, loading } = usePolled<Graph>("traffic/graph", { ns: ns || undefined, window: win, at }, REFRESH_MS);
  const current = data && (data.ns ?? "") === ns && data.window === win ? data : null;
  const edges = current ? (selected ? current.edges.filter((e) => e.source === selected || e.target === selected) : current.edges) : [];
  return (
    <div class="traffic-view">
      <div class="toolbar">
        <label>
          namespace{" "}
          <select data-testid="ns-filter" value={ns} onChange={(e) => setState({ ns: (e.target as HTMLSelectElement).value || undefined })}>
            <option value="">all namespaces</option>
            {[...new Set([...(data?.namespaces ?? []), ...(ns ? [ns] : [])])].sort().map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <label>
          window{" "}
          <select data-testid="window" value={win} onChange={(e) => setState({ window: (e.target as HTMLSelectElement).value === "5m" ? undefined : (e.target as HTMLSelectElement).value })}>
            {WINDOWS.map((w) => (
              <option key={w} value={w}>
                last {w}
              </option>
            ))}
          </select>
        </label>
        {at && (
          <span class="as-of" data-testid="as-of">
            as of {formatTime(at)}{" "}
            <button class="link" onClick={() => setState({ at: undefined })}>
              now
            </button>
          </span>
        )}
        {current && (
          <span class="hint" data-testid="traffic-summary">
            {current.nodes.length} workloads, {current.edges.length} edges{current.truncated ? " (the heaviest only)" : ""} — Prometheus {current.prometheus} at {formatTime(current.at)}
          </span>
        )}
        {loading && <span class="hint">loading…</span>}
      </div>
      {error && <p class="error" data-testid="traffic-error">{error}</p>}
      {current && current.nodes.length === 0 && <p class="hint">No flows in this window{ns ? ` for namespace ${ns}` : ""} (watch_auditor_flows_* metrics of watch-auditor flows).</p>}
      {current && current.nodes.length > 0 && (
        <>
          <div class="graph-box">
            <GraphSvg graph={current} selected={selected} onSelect={setSelected} onNamespace={(n) => setState({ ns: n })} />
          </div>
          <p class="hint legend">
            <span class="swatch ok" /> edge width: bytes · <span class="swatch bad" /> more than {formatPercent(ERROR_RATIO_RED)} of the flows dropped or failed (edges), or of the HTTP requests answered 5xx (workloads)
            {selected ? ` — showing the edges of ${display(selected)} (click it again for all)` : " — click a workload to show its edges"}
          </p>
          <table class="edges" data-testid="edges-table">
            <thead>
              <tr>
                <th>from</th>
                <th>to</th>
                <th class="num">bytes</th>
                <th class="num">requests</th>
                <th class="num">dropped</th>
                <th class="num">errors</th>
              </tr>
            </thead>
            <tbody>
              {edges.map((e) => (
                <tr key={`${e.source}>${e.target}`} data-testid="edge-row" class={e.errorRatio > ERROR_RATIO_RED ? "bad" : ""}>
                  <td class="mono">{display(e.source)}</td>
                  <td class="mono">{display(e.target)}</td>
                  <td class="num">{formatBytes(e.bytes)}</td>
                  <td class="num">{formatCount(e.requests)}</td>
                  <td class="num">{formatCount(e.drops)}</td>
                  <td class="num">{formatPercent(e.errorRatio)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}
