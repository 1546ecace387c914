import { Counter, Gauge, type Registry } from "prom-client";
import { REDACTION_KINDS, type RedactionCounts } from "./redact.js";

/** `watch_auditor_audit_secret_redaction_enabled` and `watch_auditor_audit_redactions_total{kind}`. */
export class RedactionMetrics {
  private readonly total: Counter<"kind">;

  constructor(registry: Registry, enabled: boolean) {
    const g = new Gauge({
      name: "watch_auditor_audit_secret_redaction_enabled",
      help: "1 when Secret data and tokens in stored bodies are redacted (the default), 0 with --keep-secret-data.",
      registers: [registry],
    });
    g.set(enabled ? 1 : 0);
    this.total = new Counter({
      name: "watch_auditor_audit_redactions_total",
      help: "Values in request/response bodies replaced by the redaction marker before storing, by kind.",
      labelNames: ["kind"],
      registers: [registry],
    });
    if (enabled) for (const k of REDACTION_KINDS) this.total.inc({ kind: k }, 0);
  }

  add(counts: RedactionCounts): void {
    for (const [kind, n] of Object.entries(counts)) if (n > 0) this.total.inc({ kind }, n);
  }
}

export { KEEP_SECRET_DATA_WARNING } from "./redact.js";
