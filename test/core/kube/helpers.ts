import { eventually } from "../../support/cli.js";

/** Polls until the assertions in fn stop throwing (eventually() wants a truthy value). */
export async function until(fn: () => void | Promise<void>, opts: { timeoutMs?: number; what?: string } = {}): Promise<void> {
  await eventually(
    async () => {
      await fn();
      return true;
    },
    { timeoutMs: opts.timeoutMs ?? 15_000, what: opts.what },
  );
}
