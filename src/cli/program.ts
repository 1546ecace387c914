import { Command, CommanderError } from "commander";
import { UsageError } from "../core/errors.js";
import { PACKAGE_VERSION as VERSION } from "../core/package-version.js";
import { registerCommands } from "./commands.js";

function overrideExits(cmd: Command): void {
  cmd.exitOverride();
  for (const c of cmd.commands) overrideExits(c);
}

export async function buildProgram(argv: string[] = process.argv): Promise<Command> {
  const program = new Command("watch-auditor")
    .description("Tells a Kubernetes platform team whether control loops, API traffic, policy decisions and network really behave.")
    .version(VERSION)
    .showHelpAfterError("(run with --help for usage)");
  await registerCommands(program, argv);
  // Usage errors anywhere in the tree must reach main() so that they exit 2, never 1.
  overrideExits(program);
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
