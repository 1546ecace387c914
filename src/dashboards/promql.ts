// Just enough PromQL lexing to list the metric names an expression reads, so tests (and users)
// can check them against what the components expose.

const KEYWORDS = new Set(["by", "without", "and", "or", "unless", "on", "ignoring", "group_left", "group_right", "bool", "offset", "inf", "nan", "atan2"]);

/** Metric names selected by a PromQL expression (Grafana variables are fine: they sit in strings or ranges). */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals
    .replace(/\{[^}]*\}/g, " ") // label matchers
    .replace(/\[[^\]]*\]/g, " ") // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " "); // label lists
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, name, call] = m;
    if (call || KEYWORDS.has(name!.toLowerCase())) continue;
    names.add(name!);
  }
  return [...names].sort();
}

/** Replaces Grafana's template variables with values Prometheus accepts (all values, fixed ranges). */
export function expandGrafanaVariables(expr: string, ranges: { rateInterval: string; range: string }): string {
  return expr
    .replace(/\$__rate_interval/g, ranges.rateInterval)
    .replace(/\$__range/g, ranges.range)
    .replace(/\$\{?([a-zA-Z_]\w*)\}?/g, ".*");
}

/** Label names used in each metric's selector matchers: metric → labels. */
export function selectorLabels(expr: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const m of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)) {
    const labels = out.get(m[1]!) ?? new Set<string>();
    const body = m[2]!.replace(/"(?:[^"\\]|\\.)*"/g, '""');
    for (const l of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.add(l[1]!);
    out.set(m[1]!, labels);
  }
  return out;
}
