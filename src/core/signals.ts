/**
 * Resolves with the first SIGTERM or SIGINT and then stops listening, so that a second signal
 * gets Node's default handling (immediate exit) if a graceful shutdown hangs.
 */
export function untilTerminated(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const signals: NodeJS.Signals[] = ["SIGTERM", "SIGINT"];
    const onSignal = (sig: NodeJS.Signals): void => {
      for (const s of signals) process.off(s, onSignal);
      resolve(sig);
    };
    for (const s of signals) process.on(s, onSignal);
  });
}
