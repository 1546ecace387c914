// The canary pod: shaped like what the audited controller selects (UDS Core's sidecar
// killer matches `batch.kubernetes.io/job-name` + `service.istio.io/canonical-name`),
// locked down, and labelled so the auditor can always find and delete its own pods.
import { randomBytes } from "node:crypto";
import type { Pod } from "kubernetes-types/core/v1.js";
import type { ProbeConfig } from "./probe.js";

export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "watch-auditor";
export const PROBE_LABEL = "watch-auditor.dev/probe";
export const RUN_ID_LABEL = "watch-auditor.dev/run-id";
/** Selects every pod this tool ever created (orphan sweep). */
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

export function randomSuffix(n = 6): string {
  const bytes = randomBytes(n);
  let out = "";
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

export function canaryName(probe: string, suffix = randomSuffix()): string {
  return `watch-auditor-${probe}-${suffix}`;
}

/** Seconds, rounded up; Kubernetes fields are whole seconds. */
function ceilSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * The kubelet's safety net if the auditor dies and nobody sweeps: long enough never
 * to fire during a cycle (a DeadlineExceeded pod would otherwise look "Failed").
 */
export function activeDeadlineSeconds(p: ProbeConfig): number {
  return ceilSeconds(p.canary.startTimeoutMs + p.canary.lifetimeMs + p.canary.deadlineMs) + 60;
}

/** `sleep` accepts fractions in busybox and coreutils, so sub-second lifetimes work in tests. */
function sleepArg(ms: number): string {
  return String(+(ms / 1000).toFixed(3));
}

const securityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  runAsUser: 65532,
  capabilities: { drop: ["ALL"] },
};
const resources = {
  requests: { cpu: "10m", memory: "16Mi" },
  limits: { cpu: "50m", memory: "32Mi" },
};

export function defaultPodSpec(p: ProbeConfig): NonNullable<Pod["spec"]> {
  const c = p.canary;
  const containers: NonNullable<Pod["spec"]>["containers"] = [
    { name: c.mainContainer, image: c.image, command: ["sh", "-c", `sleep ${sleepArg(c.lifetimeMs)}`], resources, securityContext },
  ];
  // With sidecarMode "injected" Istio adds istio-proxy itself (namespace labelled istio-injection=enabled).
  if (c.sidecarMode === "declared") {
    containers.push({ name: c.sidecarContainer, image: c.image, command: ["sh", "-c", "sleep 86400"], resources, securityContext });
  }
  return {
    restartPolicy: "Never",
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: 1,
    activeDeadlineSeconds: activeDeadlineSeconds(p),
    securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } },
    containers,
  };
}

export function canaryLabels(p: ProbeConfig, runId: string): Record<string, string> {
  return {
    // The shape the controller selects; the job name is the probe so it reads well in kubectl.
    "batch.kubernetes.io/job-name": `watch-auditor-${p.name}`,
    "service.istio.io/canonical-name": `watch-auditor-${p.name}`,
    ...p.canary.labels,
    // Ours last: a template cannot take the pod out of the orphan sweep.
    [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
    [PROBE_LABEL]: p.name,
    [RUN_ID_LABEL]: runId,
  };
}

export function buildCanary(p: ProbeConfig, name: string, runId: string): Pod {
  const spec = p.canary.podSpec ? (structuredClone(p.canary.podSpec) as unknown as NonNullable<Pod["spec"]>) : defaultPodSpec(p);
  spec.restartPolicy = "Never";
  spec.activeDeadlineSeconds ??= activeDeadlineSeconds(p);
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: p.canary.namespace,
      labels: canaryLabels(p, runId),
      annotations: { ...p.canary.annotations, "watch-auditor.dev/purpose": "canary for a watch-based controller; safe to delete" },
    },
    spec,
  };
}
