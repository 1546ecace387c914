// Renders lint findings and simulation reports as text tables, JSON or CSV.
import { countBySeverity, type Finding } from "./findings.js";
import type { SimReport, SimRow } from "./simulate.js";

export const LINT_OUTPUTS = ["table", "json"] as const;
export type LintOutput = (typeof LINT_OUTPUTS)[number];
export const SIMULATE_OUTPUTS = ["table", "json", "csv"] as const;
export type SimulateOutput = (typeof SIMULATE_OUTPUTS)[number];

export function formatLint(file: string, findings: Finding[], output: LintOutput): string {
  const counts = countBySeverity(findings);
  if (output === "json") {
    return JSON.stringify({ file, findings: findings.map((f) => ({ file, ...f })), summary: counts }, null, 2) + "\n";
  }
  const lines = findings.map((f) => `${file}:${f.line}:${f.col}: ${f.severity} [${f.code}]${f.path ? ` ${f.path}` : ""}: ${f.message}`);
  const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? "" : "s"}`;
  lines.push(`${file}: ${plural(counts.error, "error")}, ${plural(counts.warning, "warning")}, ${plural(counts.info, "info")}`);
  return lines.join("\n") + "\n";
}

const COLUMNS: { key: keyof Omit<SimRow, "key">; title: string; csv: string }[] = [
  { key: "recordedEvents", title: "RECORDED", csv: "recorded_events" },
  { key: "recordedBytes", title: "RECORDED BYTES", csv: "recorded_bytes" },
  { key: "events", title: "EVENTS", csv: "events" },
  { key: "bytes", title: "EST. BYTES", csv: "estimated_bytes" },
  { key: "omittedStageEvents", title: "STAGE OMITTED", csv: "stage_omitted_events" },
  { key: "underestimatedEvents", title: "UNDERESTIMATE", csv: "underestimated_events" },
  { key: "unrecordedStageEvents", title: "UNRECORDED STAGE", csv: "unrecorded_stage_events" },
];

function percent(part: number, whole: number): string {
  return whole === 0 ? "n/a" : `${((100 * part) / whole).toFixed(1)}%`;
}

function csvField(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function formatSimulation(report: SimReport, output: SimulateOutput): string {
  if (output === "json") return JSON.stringify(report, null, 2) + "\n";
  const total: SimRow = { key: "TOTAL", ...report.totals };
  if (output === "csv") {
    const header = [report.by, ...COLUMNS.map((c) => c.csv)].join(",");
    const body = [...report.rows, { ...total, key: "(total)" }].map((r) => [csvField(r.key), ...COLUMNS.map((c) => r[c.key])].join(","));
    return [header, ...body].join("\n") + "\n";
  }
  const table = [[report.by.toUpperCase(), ...COLUMNS.map((c) => c.title)], ...[...report.rows, total].map((r) => [r.key, ...COLUMNS.map((c) => String(r[c.key]))])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const lines = table.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ").trimEnd());
  const t = report.totals;
  lines.push("");
  lines.push(`estimated: ${t.events} events (${percent(t.events, t.recordedEvents)} of ${t.recordedEvents} recorded), ${t.bytes} bytes (${percent(t.bytes, t.recordedBytes)} of ${t.recordedBytes} recorded)`);
  for (const n of report.notes) lines.push(`note: ${n}`);
  return lines.join("\n") + "\n";
}
