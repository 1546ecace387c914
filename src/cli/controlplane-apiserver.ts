import type { Command } from "commander";

// `controlplane report` and `controlplane serve` are registered here (being built).
export function registerControlplaneApiServer(_controlplane: Command): void {}
