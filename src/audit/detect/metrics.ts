import { Counter, type Registry } from "prom-client";
import { fromRawEvent, isDetectStage, matches, type Rule } from "./rules.js";

/**
 * `watch_auditor_audit_detections_total{rule,severity}` for `audit serve`: the rules evaluated on
 * each event of the webhook stream as it arrives. Labels are bounded: rule names come from the
 * rule set loaded at start (built-ins plus --detect-rules), severities from a fixed list.
 */
export class DetectionMetrics {
  readonly hits: Counter<"rule" | "severity">;
  private readonly rules: Rule[];

  constructor(registry: Registry, rules: Rule[]) {
    this.rules = rules.filter((r) => r.enabled);
    this.hits = new Counter({
      name: "watch_auditor_audit_detections_total",
      help: "Audit events received on the webhook that matched a detection rule (audit detect), by rule and severity; one per request and rule.",
      labelNames: ["rule", "severity"],
      registers: [registry],
    });
    // Every enabled rule is exported from the start at 0, so rate() and absent() work before a first hit.
    for (const r of this.rules) this.hits.inc({ rule: r.name, severity: r.severity }, 0);
  }

  /** One call per received event; never throws (a detection bug must not lose audit events). */
  observe(raw: unknown): void {
    if (raw === null || typeof raw !== "object") return;
    try {
      const e = raw as Record<string, unknown>;
      const code = (e.responseStatus as { code?: unknown } | undefined)?.code;
      if (!isDetectStage(e.stage, code)) return;
      const ev = fromRawEvent(e);
      for (const r of this.rules) if (matches(r, ev)) this.hits.inc({ rule: r.name, severity: r.severity });
    } catch {
      // ignored: malformed events are counted by the ingest path
    }
  }
}
