// Shared set-up for the auditor's end-to-end tests: a test API server with a simulated
// kubelet and controller, and `watch-auditor serve` as a real child process.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestApiServer, type TestApiServer, type TestApiServerOptions } from "../support/kube-apiserver/index.js";
import { eventually, spawnCli, stopCli, type CliResult } from "../support/cli.js";
import { SimKubelet, type KubeletOptions } from "./sim/kubelet.js";
import { SimController, type SimControllerOptions } from "./sim/controller.js";

export const CANARY_NS = "neuvector";
export const CONTROLLER_NS = "pepr-system";

export interface Cluster {
  api: TestApiServer;
  kubelet: SimKubelet;
  controller: SimController;
  dir: string;
  kubeconfig: string;
  close(): Promise<void>;
}

export async function startCluster(
  opts: { controller?: Partial<SimControllerOptions>; kubelet?: Partial<KubeletOptions>; server?: TestApiServerOptions; token?: string; namespaces?: string[] } = {},
): Promise<Cluster> {
  const api = await startTestApiServer(opts.server);
  // With `requireNamespaces` (NamespaceLifecycle: no object in a missing namespace), the namespaces come first.
  for (const name of opts.namespaces ?? []) api.store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
  const dir = await mkdtemp(join(tmpdir(), "auditor-e2e-"));
  const kubelet = new SimKubelet(api.store, { namespaces: [CANARY_NS], ...opts.kubelet });
  const controller = new SimController(api.store, { mode: "healthy", namespace: CONTROLLER_NS, ...opts.controller });
  const kubeconfig = await api.writeKubeconfig(dir, opts.token ? { token: opts.token } : {});
  return {
    api,
    kubelet,
    controller,
    dir,
    kubeconfig,
    async close() {
      kubelet.stop();
      controller.stop();
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Fast timings: a cycle takes well under a second with a healthy controller. The request
 * timeout stays generous: on 2 loaded cores the in-process test API server can take
 * seconds to answer, and a timeout would (correctly) make the check inconclusive.
 */
export const FAST = ["--every", "200ms", "--canary-lifetime", "300ms", "--canary-deadline", "800ms", "--poll-interval", "50ms", "--start-timeout", "5s", "--request-timeout", "10s"];

export interface Serve {
  child: ReturnType<typeof spawnCli>;
  port: number;
  metricsText(): Promise<string>;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  status(): Promise<StatusBody>;
  get(path: string): Promise<{ status: number; body: string }>;
  stop(signal?: NodeJS.Signals): Promise<CliResult>;
}

export interface CheckBody {
  result: string;
  reason: string;
  inconclusive?: string;
  canary: string;
  endedAt: string;
  startedAt: string;
  reactionSeconds?: number;
  cleanup: string;
  timings: Record<string, number>;
}
export interface ProbeBody {
  consecutiveFailures: number;
  rolls: { at: string; method: string; deployments: string[]; podsDeleted: string[]; errors: string[] }[];
  rollsLastHour: number;
  checks: CheckBody[];
}
export interface StatusBody {
  identity: string;
  leader: boolean;
  probes: Record<string, ProbeBody>;
}

/** Value of one series in Prometheus text (0 when absent). Labels must match exactly the given subset. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const kv of (m[3] ?? "").matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) got[kv[1]!] = kv[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) {
      sum += Number(m[4]);
      found = true;
    }
  }
  return found ? sum : 0;
}

export async function startServe(cluster: { kubeconfig: string }, args: string[], env: Record<string, string> = {}): Promise<Serve> {
  const child = spawnCli(["serve", "--kubeconfig", cluster.kubeconfig, "--port", "0", "--host", "127.0.0.1", ...args], { env });
  let port = 0;
  try {
    port = await eventually(
      () => {
        if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${child.output.stderr}`);
        for (const line of child.output.stderr.split("\n")) {
          if (!line.includes("watch-auditor serve started")) continue;
          return (JSON.parse(line) as { port: number }).port;
        }
        return 0;
      },
      { timeoutMs: 20_000, what: "serve to start" },
    );
  } catch (err) {
    await stopCli(child, "SIGKILL");
    throw err;
  }
  const base = `http://127.0.0.1:${port}`;
  const get = async (path: string) => {
    const res = await fetch(base + path);
    return { status: res.status, body: await res.text() };
  };
  return {
    child,
    port,
    get,
    metricsText: async () => (await get("/metrics")).body,
    metric: async (name, labels) => metricValue((await get("/metrics")).body, name, labels),
    status: async () => JSON.parse((await get("/status")).body) as StatusBody,
    stop: (signal = "SIGTERM") => stopCli(child, signal, 15_000),
  };
}

export function managedPods(api: TestApiServer, ns = CANARY_NS): string[] {
  return api.store
    .list("pods", ns)
    .filter((p) => p.metadata.labels?.["app.kubernetes.io/managed-by"] === "watch-auditor")
    .map((p) => p.metadata.name!);
}

export { eventually };
