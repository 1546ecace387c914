// Placeholder until its owner lands the view (replace the whole file).
import type { ViewProps } from "../../types.js";

export function AuditView(_props: ViewProps) {
  return <p>not built yet</p>;
}
