import { render, type OutputFormat } from "./format.js";
import { ANNOTATION_THRESHOLD_MS, LATENCY_ANNOTATION_PREFIX } from "./latency-annotations.js";
import { SPLIT_FIELDS, SPLIT_PARTS, type LatencySplit, type QueryResult } from "./queries.js";

/**
 * `audit latency` output. table: the quantiles, then "where the time went" for the groups whose
 * requests carry `apiserver.latency.k8s.io/*` annotations (part columns that are 0 in every group
 * are left out), or a plain note that none does. json: every row with `annotated` and `split`
 * (null when none of the group's requests is annotated). csv: the split flattened to `split_*`.
 */
export function renderLatency(result: QueryResult, format: OutputFormat): string {
  const main = result.columns.filter((c) => c !== "annotated" && c !== "split");
  if (format === "json") return render(result, "json");
  if (format === "csv") {
    const rows = result.rows.map((r) => ({ ...r, ...Object.fromEntries(SPLIT_FIELDS.map((k) => [`split_${k}`, (r.split as LatencySplit | null)?.[k] ?? null])) }));
    return render({ columns: [...main, "annotated", ...SPLIT_FIELDS.filter((k) => k !== "annotated").map((k) => `split_${k}`)], rows }, "csv");
  }
  const out = render({ columns: main, rows: result.rows }, "table");
  if (result.rows.length === 0) return out;
  const split = result.rows.filter((r) => r.split !== null && r.split !== undefined);
  if (split.length === 0) return `${out}\nnote: ${result.note ?? ""}\n`;
  const dims = main.slice(0, main.indexOf("count"));
  const parts = SPLIT_PARTS.map((p) => p.name).filter((name) => split.some((r) => Number((r.split as LatencySplit)[name]) !== 0));
  const cols = [...dims, "annotated", "total_ms", ...parts, "other_ms", "p99_total_ms"];
  const rows = split.map((r) => ({ ...r, ...(r.split as LatencySplit) }));
  const head =
    `\nWhere the time went (${result.note ?? ""}; the API server adds them only to requests slower than ${ANNOTATION_THRESHOLD_MS} ms).\n` +
    `Mean ms per annotated request; other = total minus the parts shown (response-write is inside serialize when both are present):\n`;
  return out + head + render({ columns: cols, rows }, "table");
}

export const NO_SPLIT_STDERR = (note: string | undefined): string => `note: ${note ?? `no ${LATENCY_ANNOTATION_PREFIX}* annotations`}\n`;
