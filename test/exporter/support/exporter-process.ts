// Starts `watch-auditor exporter` as a real process and learns its ops port from its log.
import { spawnCli, eventually } from "../../support/cli.js";

export type ExporterChild = ReturnType<typeof spawnCli> & { opsPort: number };

export async function startExporter(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ExporterChild> {
  const child = spawnCli(["exporter", "--port", "0", ...args], { env: opts.env }) as ExporterChild;
  try {
    const port = await eventually(
      () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exporter exited early (${child.exitCode ?? child.signalCode}): ${child.output.stderr}`);
        for (const line of child.output.stderr.split("\n")) {
          if (!line.includes('"exporter started"')) continue;
          return (JSON.parse(line) as { metricsPort: number }).metricsPort;
        }
        return undefined;
      },
      { timeoutMs: opts.timeoutMs ?? 20_000, what: "exporter start-up" },
    );
    child.opsPort = port;
    return child;
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
}

export async function scrape(port: number, path = "/metrics"): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

/** Value of one sample in Prometheus text format, e.g. metricValue(text, 'x_total{sink="a"}'). */
export function metricValue(text: string, sample: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(sample + " ")) return Number(line.slice(sample.length + 1));
  }
  return undefined;
}
