// Shapes of the audit API (/api/console/audit/*) as the views read them (see docs/console.md).
import type { ViewProps } from "../../types.js";
import type { Histogram as HistogramResult, Lane, LaneMark, LaneRevision, MarkType, Summary, Timeline as TimelineResult } from "../../../shapes.js";
export type { HistogramResult, Lane, LaneMark, LaneRevision, MarkType, Summary, TimelineResult };

export type { ViewProps };
export type State = ViewProps["state"];
export type SetState = ViewProps["setState"];

export interface EventRow {
  audit_id: string;
  stage: string;
  ts: string;
  verb: string | null;
  user: string | null;
  user_agent: string | null;
  source_ip: string | null;
  namespace: string | null;
  resource: string | null;
  subresource: string | null;
  name: string | null;
  code: number | null;
  latency_ms: number | null;
  request_uri: string | null;
  authz_decision: string | null;
}

export interface EventsPage {
  total: number;
  offset: number;
  rows: EventRow[];
}

export interface Change {
  path: string;
  op: "added" | "removed" | "changed";
  old?: unknown;
  new?: unknown;
}

export interface HistoryRevision {
  index: number;
  lifetime: number;
  time: string;
  audit_id: string;
  verb: string;
  subresource: string | null;
  user: string | null;
  code: number | null;
  changes: Change[] | null;
  hidden_changes: number;
  note: string | null;
}

export interface HistoryResult {
  resource: string;
  api_group: string | null;
  namespace: string | null;
  name: string;
  revisions: HistoryRevision[];
  notes: string[];
}

export interface InsightResult {
  columns: string[];
  rows: Record<string, unknown>[];
}
