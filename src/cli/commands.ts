import type { Command } from "commander";
import { register as registerServe } from "./serve.js";
import { register as registerExporter } from "./exporter.js";
import { register as registerAudit } from "./audit.js";
import { register as registerFlows } from "./flows.js";
import { register as registerDashboards } from "./dashboards.js";
import { register as registerInstall } from "./install.js";

// Each capability's CLI wiring lives in its own file and registers itself here.
export function registerCommands(program: Command): void {
  registerServe(program);
  registerExporter(program);
  registerAudit(program);
  registerFlows(program);
  registerDashboards(program);
  registerInstall(program);
}
