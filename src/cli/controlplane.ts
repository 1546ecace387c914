import type { Command } from "commander";
import { registerControlplaneApiServer } from "./controlplane-apiserver.js";
import { registerEtcdUsage } from "./controlplane-etcd-usage.js";

// `controlplane` groups the one-shot report, the long-running exporter and the etcd usage scan.
// The API-server side (report, serve) and the etcd scan are wired in their own files.
export function register(program: Command): void {
  const cp = program
    .command("controlplane")
    .description("Control-plane health: API-server checks and metrics, nodes, etcd size and usage, who loads the API server");
  registerControlplaneApiServer(cp);
  registerEtcdUsage(cp);
}
