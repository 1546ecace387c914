// Nodes: the Ready condition, the pressure conditions, and the heartbeat. A kubelet renews its Lease
// in kube-node-lease every ~10 s (renewTime); the node lifecycle controller marks the node
// NotReady/Unknown after --node-monitor-grace-period (40 s by default) without one. The Lease's age
// is the direct signal: a node whose heartbeat stopped is named with how long ago.
import { LEASES, NODES, type KubeClient } from "../core/kube/index.js";

export const NODE_LEASE_NAMESPACE = "kube-node-lease";
/** Conditions where "True" is bad. */
export const PRESSURE_CONDITIONS = ["MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"] as const;
/** kube-controller-manager's --node-monitor-grace-period default. */
export const DEFAULT_HEARTBEAT_GRACE_MS = 40_000;

interface NodeObject {
  metadata?: { name?: string };
  status?: { conditions?: { type?: string; status?: string; reason?: string; message?: string; lastHeartbeatTime?: string }[] };
}

interface LeaseObject {
  metadata?: { name?: string };
  spec?: { renewTime?: string | null; leaseDurationSeconds?: number };
}

export interface NodeHealth {
  name: string;
  /** The Ready condition's status: True, False, Unknown; "Missing" when the node has none. */
  ready: "True" | "False" | "Unknown" | "Missing";
  readyReason?: string;
  /** Pressure conditions that are True. */
  pressure: string[];
  /** Status of each pressure condition the node reports (True/False/Unknown). */
  conditions: Record<string, string>;
  /** Seconds since the Lease's renewTime; absent when the node has no Lease (or it has no renewTime). */
  heartbeatAgeSeconds?: number;
  renewTime?: string;
  /** heartbeatAgeSeconds > the grace period. */
  stale: boolean;
  /** What is wrong, in words ("NotReady (KubeletNotReady)", "heartbeat stopped 5m12s ago"). */
  problems: string[];
}

export interface NodesReport {
  nodes: NodeHealth[];
  /** Lease errors do not hide the nodes: heartbeats are then unknown and this says why. */
  leaseError?: string;
  graceSeconds: number;
}

export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, "0")}h`;
}

/** Pure: node objects + leases → health, at `now`. */
export function assessNodes(nodes: NodeObject[], leases: LeaseObject[] | undefined, now: number, graceMs: number): NodeHealth[] {
  const renew = new Map<string, string>();
  for (const l of leases ?? []) if (l.metadata?.name && l.spec?.renewTime) renew.set(l.metadata.name, l.spec.renewTime);
  const out: NodeHealth[] = [];
  for (const n of nodes) {
    const name = n.metadata?.name;
    if (!name) continue;
    const conds = n.status?.conditions ?? [];
    const readyCond = conds.find((c) => c.type === "Ready");
    const ready = readyCond?.status === "True" || readyCond?.status === "False" || readyCond?.status === "Unknown" ? readyCond.status : "Missing";
    const conditions: Record<string, string> = {};
    for (const t of PRESSURE_CONDITIONS) {
      const c = conds.find((x) => x.type === t);
      if (c?.status) conditions[t] = c.status;
    }
    const pressure = PRESSURE_CONDITIONS.filter((t) => conditions[t] === "True");
    const h: NodeHealth = { name, ready, pressure, conditions, stale: false, problems: [] };
    if (readyCond?.reason) h.readyReason = readyCond.reason;
    const rt = renew.get(name);
    if (rt !== undefined) {
      const t = Date.parse(rt);
      if (Number.isFinite(t)) {
        h.renewTime = rt;
        h.heartbeatAgeSeconds = Math.max(0, (now - t) / 1000);
        h.stale = now - t > graceMs;
      }
    }
    if (ready !== "True") h.problems.push(ready === "Missing" ? "no Ready condition" : `NotReady (Ready=${ready}${h.readyReason ? `, ${h.readyReason}` : ""})`);
    if (h.stale) h.problems.push(`heartbeat stopped ${formatAge(h.heartbeatAgeSeconds!)} ago (lease renewed ${rt})`);
    for (const p of pressure) h.problems.push(p);
    out.push(h);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Lists nodes and their Leases. Throws when the nodes cannot be listed; a Lease failure is reported in leaseError. */
export async function readNodes(kube: KubeClient, opts: { graceMs?: number; now?: () => number; signal?: AbortSignal } = {}): Promise<NodesReport> {
  const graceMs = opts.graceMs ?? DEFAULT_HEARTBEAT_GRACE_MS;
  const [nodes, leases] = await Promise.all([
    kube.listAll<NodeObject>(NODES, { signal: opts.signal }),
    kube.listAll<LeaseObject>(LEASES, { namespace: NODE_LEASE_NAMESPACE, signal: opts.signal }).then(
      (r) => ({ items: r.items, error: undefined }),
      (err: unknown) => ({ items: undefined, error: err instanceof Error ? err.message : String(err) }),
    ),
  ]);
  const now = (opts.now ?? Date.now)();
  return {
    nodes: assessNodes(nodes.items, leases.items, now, graceMs),
    graceSeconds: graceMs / 1000,
    ...(leases.error ? { leaseError: leases.error } : {}),
  };
}
