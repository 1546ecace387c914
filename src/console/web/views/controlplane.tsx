// Placeholder until its owner lands the view (replace the whole file).
import type { ViewProps } from "../types.js";

export function ControlPlaneView(_props: ViewProps) {
  return <p>not built yet</p>;
}
