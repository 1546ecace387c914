import type { Command } from "commander";

// `controlplane etcd-usage` is registered here (being built).
export function registerEtcdUsage(_controlplane: Command): void {}
