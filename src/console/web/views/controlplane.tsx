// The control plane at a glance, from what `controlplane serve` exports to Prometheus: the API
// server's health checks, the database size against its quota with the forecast ("full in ~N
// days"), etcd usage by resource; with the console's --etcd-usage FILE, usage by namespace and the
// largest objects. Data from GET /api/console/controlplane/overview.
import type { ViewProps } from "../types.js";
import { usePolled } from "./ops-fetch.js";
import { formatBytes, formatCount, formatPercent, formatSpan, formatTime } from "./ops-format.js";
import "./controlplane.css";
import type { ControlPlaneOverview as Overview } from "../../shapes.js";

const REFRESH_MS = 30_000;

/** A proportional bar (CSSOM width: allowed by the CSP). */
function Bar({ ratio, cls = "" }: { ratio: number; cls?: string }) {
  return (
    <span class={`bar ${cls}`}>
      <span class="fill" style={{ width: `${Math.max(0, Math.min(1, ratio)) * 100}%` }} />
    </span>
  );
}

function Sparkline({ points, quota }: { points: [number, number][]; quota: number | null }) {
  if (points.length < 2) return null;
  const W = 360;
  const H = 60;
  const t0 = points[0]![0];
  const t1 = points[points.length - 1]![0];
  const vmax = Math.max(...points.map((p) => p[1])) * 1.05 || 1;
  const vmin = Math.min(...points.map((p) => p[1])) * 0.95;
  const x = (t: number) => (t1 === t0 ? 0 : ((t - t0) / (t1 - t0)) * W);
  const y = (v: number) => H - ((v - vmin) / (vmax - vmin || 1)) * H;
  const d = points.map((p, i) => `${i === 0 ? "M" : "L"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
  return (
    <figure class="spark" data-testid="db-history">
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label="database size over the last hours">
        <path d={d} class="line" />
      </svg>
      <figcaption>
        DB size, {formatTime(new Date(t0 * 1000).toISOString())} → {formatTime(new Date(t1 * 1000).toISOString())}
        {quota !== null ? ` (quota ${formatBytes(quota)})` : ""}
      </figcaption>
    </figure>
  );
}

function Database({ db }: { db: Overview["database"] }) {
  const ratio = db.usedRatio;
  const cls = ratio === null ? "" : ratio >= 0.9 ? "bad" : ratio >= 0.75 ? "warn" : "ok";
  return (
    <section class="panel" data-testid="database">
      <h2>Database size</h2>
      <div class="db-line">
        <strong data-testid="db-size">{formatBytes(db.sizeBytes)}</strong>
        <span> of </span>
        <strong data-testid="db-quota">{db.quotaBytes === null ? "unknown quota" : formatBytes(db.quotaBytes)}</strong>
        {ratio !== null && <span data-testid="db-ratio"> ({formatPercent(ratio)})</span>}
      </div>
      {ratio !== null && <Bar ratio={ratio} cls={`db ${cls}`} />}
      <p data-testid="db-forecast" class={db.fullSeconds !== null && db.fullSeconds < 7 * 86400 ? "bad" : ""}>
        {db.fullSeconds !== null
          ? `full in ${formatSpan(db.fullSeconds)} (about ${formatTime(db.fullAt)}, linear forecast of controlplane serve)`
          : "no forecast: the database is not growing, or there are not enough samples yet"}
      </p>
      <Sparkline points={db.history} quota={db.quotaBytes} />
    </section>
  );
}

function HealthTable({ rows }: { rows: Overview["health"] }) {
  if (rows.length === 0) return null;
  return (
    <table class="health">
      <thead>
        <tr>
          <th>endpoint</th>
          <th>check</th>
          <th>state</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((h) => (
          <tr key={`${h.endpoint}/${h.check}`} data-testid="health-row" data-ok={String(h.ok)}>
            <td>/{h.endpoint}</td>
            <td class="mono check">{h.check}</td>
            <td class={h.ok ? "ok" : "bad"}>{h.ok ? "ok" : "failed"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Health({ o }: { o: Overview }) {
  const failed = o.health.filter((h) => !h.ok).length;
  return (
    <section class="panel" data-testid="health">
      <h2>API server health</h2>
      <p>
        <span data-testid="apiserver-up" class={o.apiserverUp === 1 ? "ok" : o.apiserverUp === 0 ? "bad" : ""}>
          {o.apiserverUp === 1 ? "API server answers" : o.apiserverUp === 0 ? "API server unreachable" : "no exporter data"}
        </span>
        {o.statusCodes.map((s) => (
          <span key={s.endpoint} class="mono code">
            /{s.endpoint} {s.code === 0 ? "no answer" : s.code}
          </span>
        ))}
      </p>
      {o.health.length === 0 ? (
        <p class="hint">No health checks exported.</p>
      ) : (
        <>
          <p class={failed > 0 ? "bad" : "ok"} data-testid="health-summary">
            {failed > 0 ? `${failed} of ${o.health.length} checks failing` : `all ${o.health.length} checks ok`}
          </p>
          <HealthTable rows={o.health.filter((h) => !h.ok)} />
          {o.health.some((h) => h.ok) && (
            <details class="ok-checks">
              <summary>{o.health.filter((h) => h.ok).length} checks ok</summary>
              <HealthTable rows={o.health.filter((h) => h.ok)} />
            </details>
          )}
        </>
      )}
    </section>
  );
}

function UsageTable({ rows, label, testid, total }: { rows: { name: string; bytes: number; keys: number | null }[]; label: string; testid: string; total?: number }) {
  const max = Math.max(1, ...rows.map((r) => r.bytes));
  return (
    <table class="usage" data-testid={testid}>
      <thead>
        <tr>
          <th>{label}</th>
          <th class="num">bytes</th>
          <th class="num">keys</th>
          <th class="barcol" />
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.name} data-testid={`${testid}-row`}>
            <td class="mono">{r.name}</td>
            <td class="num" data-bytes={r.bytes}>{formatBytes(r.bytes)}</td>
            <td class="num">{formatCount(r.keys)}</td>
            <td class="barcol">
              <Bar ratio={r.bytes / max} />
            </td>
          </tr>
        ))}
        {total !== undefined && total > rows.length && (
          <tr>
            <td colSpan={4} class="hint">
              {total - rows.length} more not shown
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

function EtcdUsage({ o }: { o: Overview }) {
  const f = o.etcdUsageFile;
  return (
    <section class="panel wide" data-testid="etcd-usage">
      <h2>etcd usage</h2>
      {o.etcd.usage.length === 0 ? (
        <p class="hint">No usage scan exported (controlplane serve scans with --etcd-endpoints, every --etcd-usage-interval).</p>
      ) : (
        <>
          <p class="hint">
            by resource, scan of {formatTime(o.etcd.scannedAt)}
            {o.etcd.complete === false ? " — partial: the scan stopped early" : ""}
          </p>
          <UsageTable rows={o.etcd.usage.map((u) => ({ name: u.resource, bytes: u.bytes, keys: u.keys }))} label="resource" testid="usage-resource" />
        </>
      )}
      {f === null ? (
        <p class="hint">Usage by namespace and the largest objects: start the console with --etcd-usage FILE (the JSON of controlplane etcd-usage -o json).</p>
      ) : (
        <div class="usage-file" data-testid="usage-file">
          <p class="hint">
            from {f.file} ({formatTime(f.modifiedAt)}): {formatCount(f.scannedKeys)} keys, {formatBytes(f.scannedBytes)} at revision {f.revision ?? "?"} of {f.endpoint}; cluster-scoped{" "}
            {formatBytes(f.clusterScoped.bytes)} in {formatCount(f.clusterScoped.keys)} keys
            {!f.complete ? ` — partial scan: ${f.error ?? ""}` : ""}
          </p>
          {f.warnings.map((w) => (
            <p key={w} class="warn">
              {w}
            </p>
          ))}
          <div class="columns">
            <div>
              <h3>By namespace</h3>
              <UsageTable rows={f.namespaces.map((u) => ({ name: u.namespace ?? "", bytes: u.bytes, keys: u.keys }))} label="namespace" testid="usage-namespace" total={f.totals.namespaces} />
            </div>
            <div>
              <h3>By resource and namespace</h3>
              <UsageTable rows={f.pairs.map((u) => ({ name: `${u.resource ?? ""} in ${u.namespace ?? ""}`, bytes: u.bytes, keys: u.keys }))} label="resource in namespace" testid="usage-pair" total={f.totals.pairs} />
            </div>
          </div>
          <h3>Largest objects</h3>
          <table data-testid="largest">
            <thead>
              <tr>
                <th>resource</th>
                <th>namespace</th>
                <th>name</th>
                <th class="num">bytes</th>
              </tr>
            </thead>
            <tbody>
              {f.largest.map((l) => (
                <tr key={l.key} data-testid="largest-row">
                  <td>{l.resource}</td>
                  <td>{l.namespace ?? "—"}</td>
                  <td class="mono">{l.name}</td>
                  <td class="num">{formatBytes(l.bytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Nodes({ o }: { o: Overview }) {
  if (o.nodes.length === 0) return null;
  const notReady = o.nodes.filter((n) => !n.ready).length;
  return (
    <section class="panel" data-testid="nodes">
      <h2>Nodes</h2>
      <p class={notReady > 0 ? "bad" : "ok"}>{notReady > 0 ? `${notReady} of ${o.nodes.length} not ready` : `all ${o.nodes.length} ready`}</p>
      <ul class="nodes">
        {o.nodes.map((n) => (
          <li key={n.node} class={n.ready ? "ok" : "bad"}>
            {n.node}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Sources({ o }: { o: Overview }) {
  if (o.sources.length === 0) return null;
  return (
    <section class="panel" data-testid="sources">
      <h2>Exporter sources</h2>
      <table>
        <thead>
          <tr>
            <th>source</th>
            <th>last read</th>
            <th class="num">failed reads</th>
          </tr>
        </thead>
        <tbody>
          {o.sources.map((s) => (
            <tr key={s.source}>
              <td>{s.source}</td>
              <td class="mono">{formatTime(s.lastSuccess)}</td>
              <td class={`num ${s.errors ? "bad" : ""}`}>{formatCount(s.errors)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function ControlPlaneView({ state, setState }: ViewProps) {
  const { data, error, at } = usePolled<Overview>("controlplane/overview", { at: state.at }, REFRESH_MS);
  if (!data) return error ? <p class="error" data-testid="controlplane-error">{error}</p> : <p class="hint">loading…</p>;
  const noData = data.apiserverUp === null && data.health.length === 0 && data.database.sizeBytes === null;
  return (
    <div class="controlplane-view">
      <p class="hint">
        from Prometheus <span class="mono">{data.prometheus}</span> at {formatTime(data.at)}
        {state.at && (
          <>
            {" "}
            <button class="link" onClick={() => setState({ at: undefined })}>
              show now
            </button>
          </>
        )}
        {at ? `, refreshed ${formatTime(at.toISOString())}` : ""}
        {error && <span class="error"> — last refresh failed: {error}</span>}
      </p>
      {noData && <p class="warn">Prometheus has no watch_auditor_controlplane_* series: is controlplane serve deployed and scraped?</p>}
      <div class="grid">
        <Health o={data} />
        <Database db={data.database} />
        <Nodes o={data} />
        <Sources o={data} />
        <EtcdUsage o={data} />
      </div>
    </div>
  );
}
