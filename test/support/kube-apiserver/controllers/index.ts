// Simulated control plane for the test API server: kube-controller-manager's namespace,
// serviceaccount, root-ca-cert-publisher, deployment, replicaset and garbage-collector
// controllers, and kube-scheduler, as a v1.25 cluster without kubelets or Nodes behaves
// (recorded in /work/shared/kube/recorded-v1.25). Opt-in per server:
//
//   startTestApiServer({ controllers: true })                       // all of them
//   startTestApiServer({ controllers: ["scheduler", "deployment"] }) // some
//   startTestApiServer({ controllers: { enable: [...], namespaceDeletionGracePeriodMs: 0, ... } })
//
// They act through the store's actor API like API clients (NamespaceLifecycle, defaulting and
// pod admission applied to what they create) and react synchronously: a client sees their
// reaction to its write on its next request. Real delays are kept where the recording shows the
// intermediate state: a deleted namespace stays Terminating for 5 s before its contents go, and a
// foreground deletion leaves the owner with its `foregroundDeletion` finalizer for a moment.
import { hostname } from "node:os";
import type { ObjectStore } from "../store.js";
import { DeploymentController } from "./deployment.js";
import { GarbageCollector } from "./gc.js";
import { NamespaceController, RECORDED_ROOT_CA_PEM, RootCaCertPublisher, ServiceAccountsController } from "./namespace.js";
import { ReplicaSetController } from "./replicaset.js";
import { ControllerRuntime } from "./runtime.js";
import { Scheduler } from "./scheduler.js";

export { computeHash } from "./hash.js";
export { RECORDED_ROOT_CA_PEM } from "./namespace.js";

export const CONTROLLER_NAMES = ["namespace", "serviceaccount", "root-ca-cert-publisher", "scheduler", "deployment", "replicaset", "garbage-collector"] as const;
export type ControllerName = (typeof CONTROLLER_NAMES)[number];

export interface ControllersOptions {
  /** Which controllers run (default: all). */
  enable?: ControllerName[];
  /** A deleted namespace's wait before its contents are deleted (namespaceDeletionGracePeriod; default 5000 ms, as the real one). */
  namespaceDeletionGracePeriodMs?: number;
  /** Retry of a namespace whose remaining content has finalizers (default 15000 ms, as the real one). */
  namespaceFinalizerRetryMs?: number;
  /** How long the garbage collector takes to pick up a foreground deletion or a dangling owner reference (default 100 ms). */
  garbageCollectorDelayMs?: number;
  /** The CA bundle published in kube-root-ca.crt (default: the server's CA with TLS, else the recorded cluster's CA). */
  rootCaPem?: string;
  /** The host in the scheduler's reportingInstance `default-scheduler-<hostname>` (default: os.hostname()). */
  hostname?: string;
}

/** What `startTestApiServer({ controllers })` accepts. */
export type ControllersOption = boolean | ControllerName[] | ControllersOptions;

export interface RunningControllers {
  readonly enabled: ControllerName[];
  /** Delayed syncs (namespace deletion, foreground deletion, progress deadlines) still waiting. */
  readonly pendingTimers: number;
  stop(): void;
}

export function normalizeControllersOption(opt: ControllersOption | undefined): ControllersOptions | undefined {
  if (opt === undefined || opt === false) return undefined;
  if (opt === true) return {};
  if (Array.isArray(opt)) return { enable: opt };
  return opt;
}

export function startControllers(store: ObjectStore, option: ControllersOption | undefined, server: { caPem?: string } = {}): RunningControllers | undefined {
  const opts = normalizeControllersOption(option);
  if (!opts) return undefined;
  const enabled = (opts.enable ?? [...CONTROLLER_NAMES]).filter((n, i, all) => all.indexOf(n) === i);
  for (const n of enabled) if (!CONTROLLER_NAMES.includes(n)) throw new Error(`unknown controller ${JSON.stringify(n)}; known: ${CONTROLLER_NAMES.join(", ")}`);
  const host = opts.hostname ?? hostname();
  const rt = new ControllerRuntime(store, { hostname: host });
  const on = (n: ControllerName) => enabled.includes(n);
  // Registration order is the order in which they react to one change.
  const sa = on("serviceaccount") ? new ServiceAccountsController(rt) : undefined;
  const ca = on("root-ca-cert-publisher") ? new RootCaCertPublisher(rt, opts.rootCaPem ?? server.caPem ?? RECORDED_ROOT_CA_PEM) : undefined;
  const ns = on("namespace")
    ? new NamespaceController(rt, { deletionGracePeriodMs: opts.namespaceDeletionGracePeriodMs ?? 5000, finalizerRetryMs: opts.namespaceFinalizerRetryMs ?? 15_000 })
    : undefined;
  const dc = on("deployment") ? new DeploymentController(rt) : undefined;
  const rsc = on("replicaset") ? new ReplicaSetController(rt) : undefined;
  const sched = on("scheduler") ? new Scheduler(rt, `default-scheduler-${host}`) : undefined;
  const gc = on("garbage-collector") ? new GarbageCollector(rt, opts.garbageCollectorDelayMs ?? 100) : undefined;
  for (const c of [sa, ca, ns, dc, rsc, sched, gc]) if (c) rt.add(c);
  // Objects that exist already (a store filled before the server started).
  if (sa) rt.resyncAll(sa, "namespaces");
  if (ca) rt.resyncAll(ca, "namespaces");
  if (dc) rt.resyncAll(dc, "apps/v1/deployments");
  if (rsc) rt.resyncAll(rsc, "apps/v1/replicasets");
  if (sched) rt.resyncAll(sched, "pods");
  return {
    enabled,
    get pendingTimers() {
      return rt.pendingTimers;
    },
    stop: () => {
      rt.stop();
      if (ns) store.namespaceFinalizer = "store";
      if (gc) store.garbageCollector = "store";
    },
  };
}
