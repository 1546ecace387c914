// "What would this policy cost?": replays recorded audit events through a policy and estimates
// the events and bytes the API server would have written.
//
// Cost model per recorded event (one event per request stage):
//   simulated level None, or stage in the rule's omitStages → 0 events, 0 bytes;
//   Metadata        → event_bytes − request_object_bytes − response_object_bytes;
//   Request         → Metadata + request_object_bytes;
//   RequestResponse → Metadata + request_object_bytes + response_object_bytes.
// When the recorded level is lower than the simulated one the object sizes were never written, so
// the estimate is low: such events are counted as "underestimated". Stages the recording policy
// omitted (typically RequestReceived) cannot be replayed either; requests that would emit one are
// counted as "unrecorded stage" events.
import { PolicyChecker, type Decision, type RequestAttributes } from "./checker.js";
import { attributesOf, type RecordedRequest } from "./request-info.js";
import { isLevel, LEVELS, levelRank, type Policy } from "./types.js";

export interface RecordedEvent extends RecordedRequest {
  auditID: string;
  stage: string;
  /** Level the event was recorded at. */
  level: string;
  eventBytes: number;
  requestObjectBytes: number;
  responseObjectBytes: number;
  /**
   * From the store, which aggregates identical requests: how many events this stands for (the
   * byte fields are then sums), and how many of those requests have no recorded RequestReceived
   * event. When `requestsWithoutReceived` is given the simulator keeps no per-request state.
   */
  count?: number;
  requestsWithoutReceived?: number;
}

export const GROUP_BY = ["rule", "level", "resource", "user"] as const;
export type GroupBy = (typeof GROUP_BY)[number];

export interface SimRow {
  key: string;
  /** Recorded events that fall in this row, and their recorded size. */
  recordedEvents: number;
  recordedBytes: number;
  /** Events the policy would write, and their estimated size. */
  events: number;
  bytes: number;
  /** Recorded events the policy would drop because their stage is omitted. */
  omittedStageEvents: number;
  /** Written events whose request/response object size is unknown (recorded at a lower level). */
  underestimatedEvents: number;
  /** RequestReceived events the policy would write that the recording did not contain. */
  unrecordedStageEvents: number;
}

export interface SimReport {
  by: GroupBy;
  rows: SimRow[];
  totals: Omit<SimRow, "key">;
  notes: string[];
}

function emptyRow(key: string): SimRow {
  return { key, recordedEvents: 0, recordedBytes: 0, events: 0, bytes: 0, omittedStageEvents: 0, underestimatedEvents: 0, unrecordedStageEvents: 0 };
}

export function ruleKey(policy: Policy, rule: number): string {
  return rule < 0 ? "(no rule matched) None" : `rules[${rule}] ${policy.rules[rule]!.level}`;
}

function resourceKey(a: RequestAttributes): string {
  if (!a.resourceRequest) return `(non-resource) ${a.path}`;
  const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  return a.apiGroup ? `${a.apiGroup}/${res}` : res;
}

/** Aggregates events one at a time; call `report()` at the end. Events of one request may come in any order. */
export class Simulator {
  private readonly checker: PolicyChecker;
  private readonly rows = new Map<string, SimRow>();
  // Per request: did the recording contain its RequestReceived stage, and where would one go.
  private readonly requests = new Map<string, { sawReceived: boolean; key: string; emitsReceived: boolean }>();
  private readonly unknownLevels = new Set<string>();

  constructor(
    readonly policy: Policy,
    readonly by: GroupBy,
  ) {
    this.checker = new PolicyChecker(policy);
    if (by === "rule") {
      policy.rules.forEach((_, i) => this.rows.set(ruleKey(policy, i), emptyRow(ruleKey(policy, i))));
      this.rows.set(ruleKey(policy, -1), emptyRow(ruleKey(policy, -1)));
    } else if (by === "level") {
      for (const l of LEVELS) this.rows.set(l, emptyRow(l));
    }
  }

  private keyOf(d: Decision, a: RequestAttributes): string {
    switch (this.by) {
      case "rule":
        return ruleKey(this.policy, d.rule);
      case "level":
        return d.level;
      case "resource":
        return resourceKey(a);
      case "user":
        return a.user ?? "(unauthenticated)";
    }
  }

  add(ev: RecordedEvent): void {
    const attrs = attributesOf(ev);
    const d = this.checker.decide(attrs);
    const key = this.keyOf(d, attrs);
    let row = this.rows.get(key);
    if (!row) this.rows.set(key, (row = emptyRow(key)));
    const n = ev.count ?? 1;
    row.recordedEvents += n;
    row.recordedBytes += ev.eventBytes;

    const emitsReceived = d.level !== "None" && !d.omitStages.has("RequestReceived");
    if (ev.requestsWithoutReceived !== undefined) {
      if (emitsReceived) row.unrecordedStageEvents += ev.requestsWithoutReceived;
    } else {
      const req = this.requests.get(ev.auditID);
      if (req) req.sawReceived ||= ev.stage === "RequestReceived";
      else this.requests.set(ev.auditID, { sawReceived: ev.stage === "RequestReceived", key, emitsReceived });
    }

    if (d.level === "None") return;
    if ((d.omitStages as ReadonlySet<string>).has(ev.stage)) {
      row.omittedStageEvents += n;
      return;
    }
    const recorded = isLevel(ev.level) ? levelRank(ev.level) : (this.unknownLevels.add(ev.level), 0);
    const simulated = levelRank(d.level);
    const metadata = Math.max(0, ev.eventBytes - ev.requestObjectBytes - ev.responseObjectBytes);
    let bytes = metadata;
    if (simulated >= levelRank("Request")) bytes += ev.requestObjectBytes;
    if (simulated >= levelRank("RequestResponse")) bytes += ev.responseObjectBytes;
    row.events += n;
    row.bytes += bytes;
    const needsRequest = simulated >= levelRank("Request") && recorded < levelRank("Request");
    const needsResponse = simulated >= levelRank("RequestResponse") && recorded < levelRank("RequestResponse");
    if (needsRequest || needsResponse) row.underestimatedEvents += n;
  }

  report(): SimReport {
    for (const r of this.requests.values()) {
      if (r.emitsReceived && !r.sawReceived) this.rows.get(r.key)!.unrecordedStageEvents++;
    }
    this.requests.clear();
    const rows = [...this.rows.values()];
    if (this.by === "resource" || this.by === "user") rows.sort((a, b) => b.bytes - a.bytes || b.recordedEvents - a.recordedEvents || a.key.localeCompare(b.key));
    const totals = emptyRow("total");
    for (const r of rows) {
      totals.recordedEvents += r.recordedEvents;
      totals.recordedBytes += r.recordedBytes;
      totals.events += r.events;
      totals.bytes += r.bytes;
      totals.omittedStageEvents += r.omittedStageEvents;
      totals.underestimatedEvents += r.underestimatedEvents;
      totals.unrecordedStageEvents += r.unrecordedStageEvents;
    }
    const { key: _key, ...t } = totals;
    const notes: string[] = [];
    if (t.underestimatedEvents > 0) {
      notes.push(`${t.underestimatedEvents} event(s) would be written at a higher level than recorded: their request/response object sizes are unknown, so bytes are underestimated`);
    }
    if (t.unrecordedStageEvents > 0) {
      notes.push(`${t.unrecordedStageEvents} request(s) would also write a RequestReceived event that the recording omitted: not counted in events/bytes`);
    }
    if (this.policy.omitManagedFields || this.policy.rules.some((r) => r.omitManagedFields)) {
      notes.push("omitManagedFields is set: estimates still include recorded managedFields, so bytes may be overestimated");
    }
    if (this.unknownLevels.size > 0) notes.push(`events with unknown recorded level(s) ${[...this.unknownLevels].join(", ")} were treated as None-level recordings`);
    return { by: this.by, rows, totals: t, notes };
  }
}

/** Convenience for a finite list. */
export function simulate(policy: Policy, events: Iterable<RecordedEvent>, by: GroupBy = "rule"): SimReport {
  const sim = new Simulator(policy, by);
  for (const e of events) sim.add(e);
  return sim.report();
}

/** Recorded event from an audit.k8s.io Event object (tests, and callers without a store). */
export function recordedEventFromJSON(ev: Record<string, unknown>, eventBytes = JSON.stringify(ev).length): RecordedEvent {
  const obj = (ev.objectRef ?? {}) as Record<string, string | undefined>;
  const user = (ev.user ?? {}) as { username?: string; groups?: string[] };
  const size = (v: unknown): number => (v === undefined || v === null ? 0 : Buffer.byteLength(JSON.stringify(v)));
  return {
    auditID: String(ev.auditID ?? ""),
    stage: String(ev.stage ?? ""),
    level: String(ev.level ?? ""),
    verb: String(ev.verb ?? ""),
    requestURI: String(ev.requestURI ?? ""),
    user: user.username ?? null,
    groups: user.groups ?? [],
    namespace: obj.namespace ?? null,
    apiGroup: obj.apiGroup ?? "",
    resource: obj.resource ?? null,
    subresource: obj.subresource ?? null,
    name: obj.name ?? null,
    eventBytes,
    requestObjectBytes: size(ev.requestObject),
    responseObjectBytes: size(ev.responseObject),
  };
}
