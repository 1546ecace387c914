import type { QueryResult } from "./queries.js";

export const OUTPUT_FORMATS = ["table", "json", "csv"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const NO_MATCH = "no matching events";

function cell(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return v.map(cell).join(",");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function csvCell(v: unknown): string {
  const s = cell(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Table cells are single-line and capped so one long user agent does not wreck the layout. */
function tableCell(v: unknown): string {
  const s = cell(v).replace(/\s+/g, " ");
  return s.length > 120 ? s.slice(0, 117) + "..." : s;
}

function table(columns: string[], rows: Record<string, unknown>[]): string {
  const header = columns.map((c) => c.toUpperCase());
  const body = rows.map((r) => columns.map((c) => tableCell(r[c])));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header), ...body.map(line)].join("\n") + "\n";
}

/** Renders a query result; empty results print NO_MATCH (table) or an empty array/header. */
export function render(result: QueryResult, format: OutputFormat): string {
  const { columns, rows } = result;
  if (format === "json") return JSON.stringify(rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] ?? null]))), null, 2) + "\n";
  if (rows.length === 0) return `${NO_MATCH}\n`;
  if (format === "csv") return [columns.join(","), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(","))].join("\n") + "\n";
  return table(columns, rows);
}

/** Table output with sections, e.g. who-deleted's "deleted" and "failed" attempts. */
export function renderSections(result: QueryResult, sectionColumn: string, titles: Record<string, string>, format: OutputFormat): string {
  if (format !== "table" || result.rows.length === 0) return render(result, format);
  const cols = result.columns.filter((c) => c !== sectionColumn);
  const out: string[] = [];
  for (const [key, title] of Object.entries(titles)) {
    const rows = result.rows.filter((r) => r[sectionColumn] === key);
    out.push(`${title} (${rows.length}):\n` + (rows.length ? table(cols, rows) : "  none\n"));
  }
  return out.join("\n");
}
