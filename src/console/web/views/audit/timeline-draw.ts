// Drawing of the timeline canvas (no DOM besides the canvas): a time axis, group headers
// (kind · namespace), one lane per object with its revisions as bars and marks as shapes.
import { qualifiedResource } from "./filters.js";
import type { Lane, MarkType } from "./types.js";

export const LANE_H = 22;
export const AXIS_H = 26;
export const LABEL_W = 280;

export const MARK_STYLE: Record<MarkType, { color: string; label: string; shape: "cross" | "triangle" | "square" | "diamond" }> = {
  delete: { color: "#c62828", label: "delete", shape: "cross" },
  error: { color: "#e07b00", label: "error (≥ 400, not 403)", shape: "triangle" },
  denied: { color: "#7b1fa2", label: "denied (403 / forbid)", shape: "square" },
  detection: { color: "#c9a000", label: "detection rule hit", shape: "diamond" },
};

/** One row of the timeline: a group header or an object's lane with its times precomputed. */
export type Row =
  | { kind: "group"; label: string; count: number }
  | { kind: "lane"; lane: Lane; revT: number[]; revEnd: number[]; markT: number[] };

export function buildRows(lanes: Lane[], toMs: number): Row[] {
  const rows: Row[] = [];
  let group = "";
  let header: { kind: "group"; label: string; count: number } | null = null;
  for (const lane of lanes) {
    const kind = qualifiedResource(lane.resource, lane.apiGroup);
    const g = `${kind} · ${lane.namespace ?? "(cluster)"}`;
    if (g !== group || header === null) {
      group = g;
      header = { kind: "group", label: g, count: 0 };
      rows.push(header);
    }
    header.count++;
    const revT = lane.revisions.map((r) => Date.parse(r.ts));
    const markT = lane.marks.map((m) => Date.parse(m.ts));
    const deletes = lane.marks.filter((m) => m.type === "delete").map((m) => Date.parse(m.ts));
    // A revision lasts until the next one, else until the object's deletion, else to the range's end.
    const revEnd = revT.map((t, i) => {
      const next = revT[i + 1];
      const del = deletes.find((d) => d >= t && (next === undefined || d <= next));
      if (del !== undefined) return del;
      return next ?? toMs;
    });
    rows.push({ kind: "lane", lane, revT, revEnd, markT });
  }
  return rows;
}

const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800].map((s) => s * 1000);

function tickLabel(t: number, step: number): string {
  const iso = new Date(t).toISOString();
  if (step >= 86_400_000) return iso.slice(0, 10);
  if (step >= 60_000) return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
  return iso.slice(11, 19);
}

export interface DrawInput {
  ctx: CanvasRenderingContext2D;
  width: number;
  height: number;
  rows: Row[];
  scrollTop: number;
  fromMs: number;
  toMs: number;
  selKey: string | undefined;
  rev: string | undefined;
  evId: string | undefined;
}

export interface DrawResult {
  lanes: number;
  events: number;
  first: number;
  last: number;
}

export function xOf(t: number, fromMs: number, toMs: number, width: number): number {
  const span = Math.max(1, toMs - fromMs);
  return LABEL_W + ((t - fromMs) / span) * (width - LABEL_W - 12);
}

export function tOf(x: number, fromMs: number, toMs: number, width: number): number {
  const plotW = Math.max(1, width - LABEL_W - 12);
  return fromMs + ((Math.min(Math.max(x, LABEL_W), LABEL_W + plotW) - LABEL_W) / plotW) * Math.max(1, toMs - fromMs);
}

function drawMark(ctx: CanvasRenderingContext2D, type: MarkType, x: number, y: number, selected: boolean): void {
  const s = MARK_STYLE[type];
  const r = selected ? 7 : 5;
  ctx.fillStyle = s.color;
  ctx.strokeStyle = s.color;
  ctx.lineWidth = 2;
  ctx.beginPath();
  switch (s.shape) {
    case "cross":
      ctx.moveTo(x - r, y - r);
      ctx.lineTo(x + r, y + r);
      ctx.moveTo(x + r, y - r);
      ctx.lineTo(x - r, y + r);
      ctx.stroke();
      break;
    case "triangle":
      ctx.moveTo(x, y - r);
      ctx.lineTo(x + r, y + r);
      ctx.lineTo(x - r, y + r);
      ctx.closePath();
      ctx.fill();
      break;
    case "square":
      ctx.rect(x - r + 1, y - r + 1, 2 * r - 2, 2 * r - 2);
      ctx.fill();
      break;
    case "diamond":
      ctx.moveTo(x, y - r);
      ctx.lineTo(x + r, y);
      ctx.lineTo(x, y + r);
      ctx.lineTo(x - r, y);
      ctx.closePath();
      ctx.fill();
      break;
  }
  if (selected) {
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 1;
    ctx.strokeRect(x - r - 2, y - r - 2, 2 * r + 4, 2 * r + 4);
  }
}

function clip(ctx: CanvasRenderingContext2D, text: string, maxW: number): string {
  if (ctx.measureText(text).width <= maxW) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ctx.measureText(`${text.slice(0, mid)}…`).width <= maxW) lo = mid;
    else hi = mid - 1;
  }
  return `${text.slice(0, lo)}…`;
}

export function visibleRange(rows: number, scrollTop: number, height: number): { first: number; last: number } {
  const first = Math.max(0, Math.floor(scrollTop / LANE_H));
  const last = Math.min(rows - 1, Math.floor((scrollTop + height - AXIS_H) / LANE_H));
  return { first, last };
}

export function draw(d: DrawInput): DrawResult {
  const { ctx, width, height, rows, scrollTop, fromMs, toMs } = d;
  ctx.clearRect(0, 0, width, height);
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  const { first, last } = visibleRange(rows.length, scrollTop, height);
  let lanes = 0;
  let events = 0;
  const plotW = width - LABEL_W - 12;
  for (let i = first; i <= last; i++) {
    const row = rows[i]!;
    const y = AXIS_H + i * LANE_H - scrollTop;
    const mid = y + LANE_H / 2;
    if (row.kind === "group") {
      ctx.fillStyle = "#e8ecf1";
      ctx.fillRect(0, y, width, LANE_H);
      ctx.fillStyle = "#1d232a";
      ctx.font = "600 12px system-ui, sans-serif";
      ctx.fillText(clip(ctx, `${row.label} (${row.count})`, width - 16), 6, mid);
      ctx.font = "12px system-ui, sans-serif";
      continue;
    }
    lanes++;
    const lane = row.lane;
    const selected = lane.key === d.selKey;
    if (selected) {
      ctx.fillStyle = "#fff4c2";
      ctx.fillRect(0, y, width, LANE_H);
    } else if (i % 2 === 0) {
      ctx.fillStyle = "#fafbfc";
      ctx.fillRect(0, y, width, LANE_H);
    }
    ctx.fillStyle = selected ? "#000" : "#39424e";
    ctx.fillText(clip(ctx, lane.name, LABEL_W - 20), 16, mid);
    for (let r = 0; r < row.revT.length; r++) {
      const rv = lane.revisions[r]!;
      const x0 = xOf(row.revT[r]!, fromMs, toMs, width);
      const x1 = Math.max(x0 + 3, xOf(row.revEnd[r]!, fromMs, toMs, width));
      const isSel = selected && rv.audit_id === d.rev;
      ctx.fillStyle = isSel ? "#0b3ea8" : r % 2 === 0 ? "#6c9cf5" : "#9dbcf8";
      ctx.fillRect(x0, y + 4, Math.min(x1, LABEL_W + plotW) - x0, LANE_H - 8);
      ctx.fillStyle = "#1d4fc4";
      ctx.fillRect(x0, y + 2, 2, LANE_H - 4);
      events++;
    }
    for (let m = 0; m < row.markT.length; m++) {
      const mk = lane.marks[m]!;
      drawMark(ctx, mk.type, xOf(row.markT[m]!, fromMs, toMs, width), mid, d.evId === `${mk.audit_id}:${mk.stage}`);
      events++;
    }
  }
  // The axis last, over the lanes scrolled under it.
  ctx.fillStyle = "#f5f7f9";
  ctx.fillRect(0, 0, width, AXIS_H);
  ctx.strokeStyle = "#d9dee4";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(0, AXIS_H - 0.5);
  ctx.lineTo(width, AXIS_H - 0.5);
  ctx.moveTo(LABEL_W - 0.5, 0);
  ctx.lineTo(LABEL_W - 0.5, height);
  ctx.stroke();
  const span = Math.max(1, toMs - fromMs);
  const step = STEPS.find((s) => (s / span) * plotW >= 110) ?? STEPS[STEPS.length - 1]!;
  ctx.fillStyle = "#5b6470";
  ctx.fillText("object", 6, AXIS_H / 2);
  for (let t = Math.ceil(fromMs / step) * step; t <= toMs; t += step) {
    const x = xOf(t, fromMs, toMs, width);
    ctx.fillRect(x, AXIS_H - 6, 1, 6);
    const label = tickLabel(t, step);
    if (x + 3 + ctx.measureText(label).width <= width) ctx.fillText(label, x + 3, AXIS_H / 2 - 2);
  }
  return { lanes, events, first, last };
}

/** What is under a point of the canvas (CSS pixels): a mark, a revision, or a lane's label. */
export type Hit =
  | { kind: "mark"; lane: Lane; index: number }
  | { kind: "revision"; lane: Lane; index: number }
  | { kind: "lane"; lane: Lane }
  | null;

export function hitTest(rows: Row[], x: number, y: number, scrollTop: number, width: number, fromMs: number, toMs: number): Hit {
  if (y < AXIS_H) return null;
  const i = Math.floor((y - AXIS_H + scrollTop) / LANE_H);
  const row = rows[i];
  if (!row || row.kind !== "lane") return null;
  if (x < LABEL_W) return { kind: "lane", lane: row.lane };
  let best = -1;
  let bestD = 7;
  for (let m = 0; m < row.markT.length; m++) {
    const dx = Math.abs(xOf(row.markT[m]!, fromMs, toMs, width) - x);
    if (dx <= bestD) {
      best = m;
      bestD = dx;
    }
  }
  if (best >= 0) return { kind: "mark", lane: row.lane, index: best };
  for (let r = row.revT.length - 1; r >= 0; r--) {
    const x0 = xOf(row.revT[r]!, fromMs, toMs, width);
    const x1 = Math.max(x0 + 3, xOf(row.revEnd[r]!, fromMs, toMs, width));
    if (x >= x0 - 1 && x <= x1) return { kind: "revision", lane: row.lane, index: r };
  }
  return { kind: "lane", lane: row.lane };
}
