// The crash-safety scenario shared by the kill test and bench/exporter-kill.mjs: a real
// exporter process under load from several producer connections is SIGKILLed at random
// points, restarted on the same data dir, and at the end every record ever acked to a
// producer must have reached the HTTP sink at least once.
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, stopCli } from "../../support/cli.js";
import { Collector } from "./collector.js";
import { metricValue, scrape, startExporter } from "./exporter-process.js";
import { RawProducer } from "./producer.js";

export interface KillScenarioOptions {
  kills: number;
  producers: number;
  /** Each run lasts a random time in [minRunMs, maxRunMs] before the SIGKILL. */
  minRunMs: number;
  maxRunMs: number;
  recordBytes?: number;
  extraArgs?: string[];
  /** How long the last, clean run may take to deliver the backlog (default 60 s). */
  drainTimeoutMs?: number;
  log?: (msg: string) => void;
}

export interface KillScenarioResult {
  kills: number;
  sent: number;
  acked: number;
  delivered: number;
  duplicates: number;
  /** Acked records the sink never got: must be empty. */
  lost: string[];
  corruptCounted: number;
  runsMs: number[];
}

const WINDOW = 2000;

async function produce(sock: string, prefix: string, recordBytes: number, acked: Set<string>, counts: { sent: number }): Promise<void> {
  let p: RawProducer;
  try {
    p = await RawProducer.connect(sock);
  } catch {
    return;
  }
  const ids: string[] = [];
  const pad = "k".repeat(Math.max(0, recordBytes - 40));
  try {
    for (let b = 0; !p.closed; b++) {
      // Like an at-least-once producer: a bounded window of unacknowledged records.
      while (!p.closed && ids.length - p.lastAck >= WINDOW) await new Promise((r) => setTimeout(r, 2));
      let chunk = "";
      for (let i = 0; i < 50; i++) {
        const id = `${prefix}-${ids.length}`;
        ids.push(id);
        chunk += `{"id":"${id}","pad":"${pad}"}\n`;
      }
      counts.sent += 50;
      await p.write(chunk);
    }
  } catch {
    // The exporter was killed under us.
  }
  await eventually(() => p.closed, { timeoutMs: 10_000 }).catch(() => p.close());
  for (let i = 0; i < p.lastAck; i++) acked.add(ids[i]!);
}

export async function runKillScenario(o: KillScenarioOptions): Promise<KillScenarioResult> {
  const dir = await mkdtemp(join(tmpdir(), "wa-exp-kill-"));
  const collector = await new Collector().listen();
  const sock = join(dir, "export.sock");
  const args = ["--listen", `unix://${sock}`, "--data-dir", join(dir, "data"), "--sink", `${collector.url}?batchRecords=500`, "--backoff-initial", "20ms", "--backoff-max", "200ms", ...(o.extraArgs ?? [])];
  const acked = new Set<string>();
  const counts = { sent: 0 };
  const runsMs: number[] = [];
  try {
    for (let k = 0; k < o.kills; k++) {
      const child = await startExporter(args);
      const producers = Array.from({ length: o.producers }, (_, c) => produce(sock, `r${k}c${c}`, o.recordBytes ?? 200, acked, counts));
      const runMs = o.minRunMs + Math.random() * (o.maxRunMs - o.minRunMs);
      runsMs.push(Math.round(runMs));
      await new Promise((r) => setTimeout(r, runMs));
      child.kill("SIGKILL");
      await stopCli(child, "SIGKILL");
      if (process.env.KILL_DEBUG_DIR) await writeFile(join(process.env.KILL_DEBUG_DIR, `run${k}.log`), child.output.stderr);
      await Promise.all(producers);
      o.log?.(`kill ${k + 1}/${o.kills} after ${Math.round(runMs)} ms: sent ${counts.sent}, acked ${acked.size}, sink has ${collector.accepted.length} lines`);
    }
    // A last, clean run delivers what the killed ones left queued.
    const child = await startExporter(args);
    // Incremental: the sink may hold 100k lines, re-parsing them on every poll would starve it.
    const seen = new Set<string>();
    let parsed = 0;
    const ids = (): Set<string> => {
      for (; parsed < collector.accepted.length; parsed++) seen.add((JSON.parse(collector.accepted[parsed]!) as { id: string }).id);
      return seen;
    };
    // Wait until the exporter says the sink has everything (a backlog of millions of records
    // takes a while), then look for acked records that did not arrive.
    const backlog = `watch_auditor_exporter_queue_records{sink="${collector.url}"}`;
    await eventually(async () => metricValue((await scrape(child.opsPort)).body, backlog) === 0, {
      timeoutMs: o.drainTimeoutMs ?? 60_000,
      intervalMs: 250,
      what: "the final exporter to drain its queue",
    }).catch(() => o.log?.("the final exporter did not drain in time; what is missing may still be queued"));
    let missing = [...acked];
    await eventually(
      () => {
        const got = ids();
        missing = missing.filter((id) => !got.has(id));
        return missing.length === 0;
      },
      { timeoutMs: 5_000, intervalMs: 200, what: "every acked record at the sink" },
    ).catch(() => undefined);
    const corruptCounted = metricValue((await scrape(child.opsPort)).body, "watch_auditor_exporter_records_corrupt_total") ?? -1;
    if (process.env.KILL_DEBUG_DIR) await cp(join(dir, "data"), join(process.env.KILL_DEBUG_DIR, "data"), { recursive: true });
    const stopped = await stopCli(child, "SIGTERM", 30_000);
    if (process.env.KILL_DEBUG_DIR) await writeFile(join(process.env.KILL_DEBUG_DIR, "final.log"), stopped.stderr);
    if (stopped.code !== 0) throw new Error(`final exporter exited ${stopped.code}: ${stopped.stderr}`);
    const got = ids();
    const lost = [...acked].filter((id) => !got.has(id));
    return { kills: o.kills, sent: counts.sent, acked: acked.size, delivered: got.size, duplicates: collector.accepted.length - got.size, lost, corruptCounted, runsMs };
  } finally {
    await collector.close();
    await rm(dir, { recursive: true, force: true });
  }
}
