// Rule severities, apart from the rule loader so that registering `audit detect` does not load YAML.
export const SEVERITIES = ["low", "medium", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];
