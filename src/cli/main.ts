#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { UsageError } from "../core/errors.js";
import { registerCommands } from "./commands.js";

export async function buildProgram(argv: string[] = process.argv): Promise<Command> {
  const program = new Command("watch-auditor")
    .description("Tells a Kubernetes platform team whether control loops, API traffic, policy decisions and network really behave.")
    .version(process.env.npm_package_version ?? "0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  await registerCommands(program, argv);
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(argv);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return 0;
      // Go's flag/cobra convention: invalid usage exits 2. Commander already printed the message.
      return 2;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

const code = await main(process.argv);
// Long-running commands keep the event loop alive themselves and resolve only when done.
process.exitCode = code;
