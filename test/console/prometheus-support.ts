// A real Prometheus (/usr/bin/prometheus) for the console's tests: optionally backfilled with
// `promtool tsdb create-blocks-from openmetrics` (exact history, so increase() over a window has
// one right answer) and optionally scraping live targets.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import YAML from "yaml";
import { eventually } from "../support/cli.js";
import { freePort } from "../support/ports.js";

export interface Series {
  name: string;
  /** Label text as exposed, e.g. `a="x",b="y"` (no braces; "" without labels). */
  labelText: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (comments skipped), read with a plain regex. */
export function parseExposition(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const kv of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[kv[1]!] = kv[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    out.push({ name: m[1]!, labelText: m[2] ?? "", labels, value: Number(m[3]) });
  }
  return out;
}

/**
 * OpenMetrics text where each counter rises in a straight line from 0 (at `start`) to its value
 * (at `start + (points-1)*stepSeconds`), one sample every stepSeconds. Label sets whose value is 0
 * are kept (flat at 0). Only names ending in _total.
 */
export function rampOpenMetrics(series: Series[], start: number, stepSeconds: number, points: number): string {
  const byName = new Map<string, Series[]>();
  for (const s of series) {
    if (!s.name.endsWith("_total")) throw new Error(`${s.name}: only counters (_total) are ramped`);
    byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  }
  const lines: string[] = [];
  for (const [name, list] of byName) {
    lines.push(`# TYPE ${name.slice(0, -"_total".length)} counter`);
    for (const s of list) {
      for (let k = 0; k < points; k++) {
        const v = (s.value * k) / (points - 1);
        lines.push(`${name}${s.labelText ? `{${s.labelText}}` : ""} ${v} ${start + k * stepSeconds}`);
      }
    }
  }
  lines.push("# EOF");
  return lines.join("\n") + "\n";
}

/** Gauges as OpenMetrics samples at the given times (name → [unix seconds, value][]). */
export function gaugeOpenMetrics(gauges: Record<string, [number, number][]>): string {
  const lines: string[] = [];
  for (const [name, points] of Object.entries(gauges)) {
    lines.push(`# TYPE ${name} gauge`);
    for (const [t, v] of points) lines.push(`${name} ${v} ${t}`);
  }
  lines.push("# EOF");
  return lines.join("\n") + "\n";
}

export interface RunningPrometheus {
  url: string;
  port: number;
  process: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

export async function startPrometheus(opts: { dir: string; backfill?: string; scrape?: { job: string; targets: string[]; labels?: Record<string, string> }[]; scrapeInterval?: string }): Promise<RunningPrometheus> {
  const tsdb = join(opts.dir, "tsdb");
  await mkdir(tsdb, { recursive: true });
  if (opts.backfill !== undefined) {
    const file = join(opts.dir, "backfill.om");
    await writeFile(file, opts.backfill);
    const r = spawnSync("/usr/bin/promtool", ["tsdb", "create-blocks-from", "openmetrics", file, tsdb], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`promtool create-blocks-from openmetrics: ${r.stdout}${r.stderr}`);
  }
  const interval = opts.scrapeInterval ?? "1s";
  await writeFile(
    join(opts.dir, "prometheus.yml"),
    YAML.stringify({
      global: { scrape_interval: interval, evaluation_interval: interval },
      scrape_configs: (opts.scrape ?? []).map((s) => ({ job_name: s.job, scrape_interval: interval, static_configs: [{ targets: s.targets, labels: s.labels ?? {} }] })),
    }),
  );
  const port = await freePort();
  const child = spawn(
    "/usr/bin/prometheus",
    [`--config.file=${join(opts.dir, "prometheus.yml")}`, `--storage.tsdb.path=${tsdb}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn", "--storage.tsdb.retention.time=30d"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err = (err + d).slice(-20_000)));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(t);
  };
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${err}`);
        const r = await fetch(`${url}/-/ready`).catch(() => undefined);
        return r?.status === 200 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: "prometheus ready" },
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, port, process: child, stderr: () => err, stop };
}

export interface PromVectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

export async function promQuery(url: string, query: string, at?: number): Promise<PromVectorSample[]> {
  const params = new URLSearchParams({ query, ...(at !== undefined ? { time: String(at) } : {}) });
  const res = await fetch(`${url}/api/v1/query?${params}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: PromVectorSample[] } };
  if (body.status !== "success") throw new Error(`${query}: ${body.error}`);
  return body.data!.result;
}
