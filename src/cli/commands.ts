import type { Command } from "commander";

type Register = (program: Command) => void;

// Each capability's CLI wiring lives in its own file. Only the invoked command's module is
// loaded: `serve` must stay within its RSS budget and must not pay for DuckDB, NATS or the
// dashboards SDK that other commands need.
const COMMANDS: Record<string, () => Promise<{ register: Register }>> = {
  serve: () => import("./serve.js"),
  exporter: () => import("./exporter.js"),
  audit: () => import("./audit.js"),
  flows: () => import("./flows.js"),
  dashboards: () => import("./dashboards.js"),
  install: () => import("./install.js"),
  controlplane: () => import("./controlplane.js"),
  console: () => import("./console.js"),
};

export const COMMAND_NAMES = Object.keys(COMMANDS);

/** Registers the command named in argv (or all of them, for top-level help and errors). */
export async function registerCommands(program: Command, argv: string[]): Promise<void> {
  const invoked = argv.slice(2).find((a) => !a.startsWith("-"));
  const names = invoked !== undefined && invoked in COMMANDS ? [invoked] : COMMAND_NAMES;
  for (const name of names) (await COMMANDS[name]!()).register(program);
}
