/**
 * The project's Kubernetes client: a small REST client over node:http(s) (no
 * @kubernetes/client-node: too heavy for the auditor's RSS budget), plus an informer
 * (list-then-watch cache), Lease-based leader election and an Event recorder.
 *
 *   const kube = await KubeClient.load({ kubeconfig, context });  // or { inCluster: true }
 *   const pod = await kube.get<Pod>(PODS, "web-0", "shop");
 *   for await (const ev of kube.watch<Pod>(PODS, { namespace: "shop", idleTimeoutMs: 90_000 })) ...
 *
 * All failures are KubeApiError (status for HTTP errors, code for network errors,
 * `transient` for retry decisions); configuration problems are KubeConfigError.
 */
export { KubeClient } from "./client.js";
export type {
  DeleteOptions,
  KubeClientOptions,
  KubeWarning,
  ListOptions,
  ListResult,
  LoadOptions,
  PatchOptions,
  PatchType,
  Query,
  RequestOptions,
  TextResponse,
  WatchEvent,
  WatchEventType,
  WatchOptions,
  WriteOptions,
} from "./client.js";
export { KubeApiError, isAlreadyExists, isConflict, isGone, isNotFound } from "./errors.js";
export type { StatusCause, StatusDetails } from "./errors.js";
export { KubeConfigError, DEFAULT_IN_CLUSTER_PATHS } from "./kubeconfig.js";
export type { ConnectionConfig, InClusterPaths } from "./kubeconfig.js";
export * from "./gvr.js";
export { Informer, SharedInformerFactory, objectKey } from "./informer.js";
export type { InformerEvent, InformerOptions, InformerStat, KubeObject } from "./informer.js";
export { LeaderElector, microTime } from "./leader-election.js";
export type { LeaderElectionOptions } from "./leader-election.js";
export { recordEvent, eventName } from "./events.js";
export type { EventSpec } from "./events.js";
export { backoffDelay } from "./backoff.js";
export type { BackoffOptions } from "./backoff.js";
