// The auditor's checks, like kuberhealthy's status page: per probe its kind and mode, the last
// checks (pass / fail / inconclusive and why), the distribution of the reaction times, the run of
// consecutive failures against the threshold, and the rolls with what led to them.
// Data from GET /api/console/auditor/status (the auditor's /status, read by the console's server).
import type { ViewProps } from "../types.js";
import { usePolled } from "./ops-fetch.js";
import { formatMs, formatTime } from "./ops-format.js";
import "./auditor.css";
import type { AuditorCheck as Check, AuditorProbe as Probe, AuditorRoll as Roll, AuditorStatus as Status } from "../../shapes.js";
export type { Check, Probe, Roll, Status };

const REFRESH_MS = 5000;

/** Equal-width bins from 0 to the largest reaction time (at least 1 s wide in all). */
export function reactionBins(seconds: number[], bins = 10): { from: number; to: number; count: number }[] {
  if (seconds.length === 0) return [];
  const max = Math.max(...seconds);
  const width = Math.max(max, 0.001) / bins;
  const out = Array.from({ length: bins }, (_, i) => ({ from: i * width, to: (i + 1) * width, count: 0 }));
  for (const s of seconds) out[Math.min(bins - 1, Math.floor(s / width))]!.count++;
  return out;
}

function ReactionHistogram({ checks }: { checks: Check[] }) {
  const times = checks.map((c) => c.reactionSeconds).filter((s): s is number => typeof s === "number" && Number.isFinite(s));
  if (times.length === 0) return <p class="hint">No reaction times in the checks shown (none reached the main container's exit).</p>;
  const bins = reactionBins(times);
  const W = 320;
  const H = 90;
  const top = Math.max(...bins.map((b) => b.count));
  const bw = W / bins.length;
  const sorted = [...times].sort((a, b) => a - b);
  const p50 = sorted[Math.floor((sorted.length - 1) * 0.5)]!;
  const max = sorted[sorted.length - 1]!;
  return (
    <figure class="reaction" data-testid="reaction-histogram">
      <svg viewBox={`0 0 ${W} ${H + 16}`} width={W} height={H + 16} role="img" aria-label="reaction time distribution">
        {bins.map((b, i) => {
          const h = top === 0 ? 0 : (b.count / top) * H;
          return (
            <rect key={i} class="bar" x={i * bw + 1} y={H - h} width={bw - 2} height={h} data-count={b.count}>
              <title>{`${b.from.toFixed(2)}–${b.to.toFixed(2)} s: ${b.count} check${b.count === 1 ? "" : "s"}`}</title>
            </rect>
          );
        })}
        <line class="axis" x1={0} y1={H} x2={W} y2={H} />
        <text x={0} y={H + 13} class="tick">0 s</text>
        <text x={W} y={H + 13} class="tick end">{`${bins[bins.length - 1]!.to.toFixed(2)} s`}</text>
      </svg>
      <figcaption>
        reaction time of {times.length} check{times.length === 1 ? "" : "s"}: median {p50.toFixed(3)} s, max {max.toFixed(3)} s
      </figcaption>
    </figure>
  );
}

function FailureMeter({ probe }: { probe: Probe }) {
  const ratio = probe.failureThreshold > 0 ? Math.min(1, probe.consecutiveFailures / probe.failureThreshold) : 0;
  const cls = probe.consecutiveFailures === 0 ? "ok" : ratio >= 1 ? "bad" : "warn";
  return (
    <div class="meter-row">
      <span>consecutive failures</span>
      <span class={`meter ${cls}`} role="meter" aria-valuenow={probe.consecutiveFailures} aria-valuemax={probe.failureThreshold}>
        <span class="fill" style={{ width: `${ratio * 100}%` }} />
      </span>
      <strong data-testid="consecutive" class={cls}>
        {probe.consecutiveFailures} / {probe.failureThreshold}
      </strong>
    </div>
  );
}

/** The failed checks that ended at or before a roll (newest first), as many as the threshold. */
export function rollCause(probe: Probe, roll: Roll): Check[] {
  const at = Date.parse(roll.at);
  const before = probe.checks.filter((c) => Date.parse(c.endedAt) <= at && c.result !== "inconclusive").sort((a, b) => Date.parse(b.endedAt) - Date.parse(a.endedAt));
  const run: Check[] = [];
  for (const c of before) {
    if (c.result !== "fail") break;
    run.push(c);
    if (run.length >= probe.failureThreshold) break;
  }
  return run;
}

function Rolls({ probe }: { probe: Probe }) {
  if (probe.rolls.length === 0) {
    return (
      <p class="hint">
        No rolls.
        {probe.mode === "audit" ? " Audit mode: the auditor never rolls; the rolls it would have made count in watch_auditor_rolls_skipped_total{reason=\"audit_mode\"}." : ""}
      </p>
    );
  }
  return (
    <>
      <p class="hint">{probe.rollsLastHour} in the last hour</p>
      <table class="rolls">
        <thead>
          <tr>
            <th>rolled at</th>
            <th>how</th>
            <th>what</th>
            <th>why</th>
          </tr>
        </thead>
        <tbody>
          {probe.rolls.map((r) => {
            const cause = rollCause(probe, r);
            const targets = [...(r.workloads ?? r.deployments), ...r.podsDeleted.map((p) => `pod ${p}`)];
            return (
              <tr key={r.at + r.method} data-testid="roll-row">
                <td class="mono">{formatTime(r.at)}</td>
                <td>{r.method}</td>
                <td class="wrap">
                  {targets.join(", ") || "—"}
                  {r.errors.length > 0 && <div class="bad">errors: {r.errors.join("; ")}</div>}
                </td>
                <td class="wrap" data-testid="roll-why">
                  {cause.length > 0
                    ? `${cause.length >= probe.failureThreshold ? `${probe.failureThreshold} consecutive failed checks (threshold ${probe.failureThreshold})` : `${cause.length} failed check${cause.length === 1 ? "" : "s"} still in the history`}; last: ${cause[0]!.reason}`
                    : `consecutive failures reached the threshold of ${probe.failureThreshold} (those checks are no longer in the status)`}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}

function Checks({ checks }: { checks: Check[] }) {
  if (checks.length === 0) return <p class="hint">No check completed yet.</p>;
  const sorted = [...checks].sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
  return (
    <ol class="checks">
      {sorted.map((c) => (
        <li key={c.runId} class={`check ${c.result}`} data-testid="check-row" data-result={c.result}>
          <span class={`badge ${c.result}`}>{c.result}</span>
          <span class="mono when">{formatTime(c.endedAt)}</span>
          <span class="mono">{formatMs(c.durationMs)}</span>
          <span class="mono">{typeof c.reactionSeconds === "number" ? `reaction ${c.reactionSeconds.toFixed(3)} s` : ""}</span>
          <span class="reason" data-testid="check-reason">
            {c.reason}
            {c.inconclusive ? ` (${c.inconclusive})` : ""}
          </span>
          <span class="mono canary">
            {c.namespace}/{c.canary}
            {c.cleanup !== "deleted" ? ` — cleanup ${c.cleanup}${c.cleanupError ? `: ${c.cleanupError}` : ""}` : ""}
          </span>
        </li>
      ))}
    </ol>
  );
}

function ProbeCard({ probe }: { probe: Probe }) {
  const last = [...probe.checks].sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt))[0];
  const counts = { pass: 0, fail: 0, inconclusive: 0 };
  for (const c of probe.checks) counts[c.result] = (counts[c.result] ?? 0) + 1;
  return (
    <section class={`probe ${last?.result ?? "none"}`} data-testid={`probe-${probe.name}`}>
      <header>
        <h2>{probe.name}</h2>
        <span class="tag">{probe.kind}</span>
        <span class={`tag mode-${probe.mode}`}>{probe.mode}</span>
        <span class="hint">every {formatMs(probe.every)}</span>
        <span class={`badge ${last?.result ?? "none"}`} data-testid="last-result">
          {last?.result ?? "no check yet"}
        </span>
      </header>
      {probe.kind === "reaction" && probe.stimulus && (
        <p class="stimulus">
          stimulus: {probe.stimulus}
          {probe.expect && probe.expect.length > 0 ? ` — expects: ${probe.expect.join("; ")}` : ""}
        </p>
      )}
      <div class="facts">
        <FailureMeter probe={probe} />
        <span>
          last pass: <span class="mono">{formatTime(probe.lastSuccess)}</span>
        </span>
        <span>
          last check: <span class="mono">{formatTime(probe.lastCompleted)}</span>
        </span>
        <span data-testid="counts">
          of the last {probe.checks.length}: <span class="ok">{counts.pass} pass</span>, <span class="bad">{counts.fail} fail</span>, <span class="warn">{counts.inconclusive} inconclusive</span>
        </span>
      </div>
      <div class="columns">
        <div>
          <h3>Last checks</h3>
          <Checks checks={probe.checks} />
        </div>
        <div>
          <h3>Reaction time</h3>
          <ReactionHistogram checks={probe.checks} />
          <h3>Rolls</h3>
          <Rolls probe={probe} />
        </div>
      </div>
    </section>
  );
}

export function AuditorView(_props: ViewProps) {
  const { data, error, at } = usePolled<Status>("auditor/status", {}, REFRESH_MS);
  if (!data) return error ? <p class="error" data-testid="auditor-error">{error}</p> : <p class="hint">loading…</p>;
  const probes = Object.values(data.probes).sort((a, b) => a.name.localeCompare(b.name));
  return (
    <div class="auditor-view">
      <p class="hint">
        auditor <span class="mono">{data.identity}</span> — {data.leader ? `leader since ${formatTime(data.leadingSince)}` : "not the leader (a standby replica runs no checks)"}; {probes.length} probe
        {probes.length === 1 ? "" : "s"}; refreshed {at ? formatTime(at.toISOString()) : ""}
        {error && <span class="error"> — last refresh failed: {error}</span>}
      </p>
      {probes.length === 0 && <p class="hint">The auditor has no probes.</p>}
      {probes.map((p) => (
        <ProbeCard key={p.name} probe={p} />
      ))}
    </div>
  );
}
