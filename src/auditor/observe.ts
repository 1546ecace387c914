// Reads one GET of the canary and says what it shows. Pure: the cycle owns the clock.
import type { Pod, ContainerStatus } from "kubernetes-types/core/v1.js";

export type Observation =
  | { kind: "pending" }
  /** Main container still running (or not yet terminated). */
  | { kind: "running"; sidecarPresent: boolean }
  /** Main container terminated, sidecar still running: the controller must act now. */
  | { kind: "main-exited"; mainFinishedAt?: number }
  /** The controller did its job (or the pod is done for another reason that counts). */
  | { kind: "done"; how: "sidecar-terminated" | "pod-completed"; mainFinishedAt?: number; sidecarFinishedAt?: number; phase?: string }
  /** The pod cannot give a verdict (killed by its own deadline, never scheduled...). */
  | { kind: "broken"; reason: string };

function status(pod: Pod, name: string): ContainerStatus | undefined {
  return pod.status?.containerStatuses?.find((s) => s.name === name);
}

function time(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : undefined;
}

export function observe(pod: Pod, mainName: string, sidecarName: string): Observation {
  const phase = pod.status?.phase;
  const main = status(pod, mainName);
  const sidecar = status(pod, sidecarName);
  const mainFinishedAt = time(main?.state?.terminated?.finishedAt);
  if (main?.state?.terminated && sidecar?.state?.terminated)
    return { kind: "done", how: "sidecar-terminated", mainFinishedAt, sidecarFinishedAt: time(sidecar.state.terminated.finishedAt) };
  if (phase === "Succeeded" || phase === "Failed") {
    // The kubelet's activeDeadlineSeconds is our safety net, not the controller acting.
    if (pod.status?.reason === "DeadlineExceeded") return { kind: "broken", reason: "canary hit activeDeadlineSeconds" };
    if (phase === "Failed" && !main?.state?.terminated)
      return { kind: "broken", reason: `pod Failed before its main container ran${pod.status?.reason ? ` (${pod.status.reason})` : ""}` };
    return { kind: "done", how: "pod-completed", phase, mainFinishedAt, sidecarFinishedAt: time(sidecar?.state?.terminated?.finishedAt) };
  }
  if (!main || main.state?.waiting || (!main.state?.running && !main.state?.terminated)) {
    const waiting = main?.state?.waiting?.reason;
    // Errors that will never resolve on their own: fail fast as inconclusive instead of waiting for the start timeout.
    if (waiting && /^(ErrImagePull|ImagePullBackOff|InvalidImageName|CreateContainerConfigError|CreateContainerError)$/.test(waiting))
      return { kind: "broken", reason: `main container ${waiting}` };
    return { kind: "pending" };
  }
  if (main.state?.terminated) {
    if (sidecar?.state?.terminated)
      return { kind: "done", how: "sidecar-terminated", mainFinishedAt, sidecarFinishedAt: time(sidecar.state.terminated.finishedAt) };
    if (!sidecar) return { kind: "broken", reason: `no container "${sidecarName}" in the canary (is sidecar injection enabled?)` };
    return { kind: "main-exited", mainFinishedAt };
  }
  return { kind: "running", sidecarPresent: sidecar !== undefined };
}
