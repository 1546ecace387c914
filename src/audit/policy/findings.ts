export type Severity = "error" | "warning" | "info";

/**
 * One lint result. `path` is the field path inside the policy (`rules[3].resources[0].group`),
 * `line`/`col` are 1-based positions in the policy file (0 when the finding is about the whole file).
 */
export interface Finding {
  severity: Severity;
  /** Stable identifier of the check, listed in docs/audit-policy.md. */
  code: string;
  message: string;
  path: string;
  /** Index of the rule the finding is about, when it is about one rule. */
  rule?: number;
  line: number;
  col: number;
}

const ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

export function sortFindings(findings: Finding[]): Finding[] {
  return [...findings].sort((a, b) => a.line - b.line || a.col - b.col || ORDER[a.severity] - ORDER[b.severity] || a.code.localeCompare(b.code));
}

export function countBySeverity(findings: Finding[]): Record<Severity, number> {
  const out: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
  for (const f of findings) out[f.severity]++;
  return out;
}

/** `rules[3].resources[0]` from ["rules", 3, "resources", 0]. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? p : `.${p}`;
  return out;
}
