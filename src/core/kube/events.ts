/**
 * Records core/v1 Events the way client-go's recorder does (name `<object>.<hex>`,
 * count 1, source component). Failures are returned, not thrown: an Event is a courtesy to
 * the operator and must never break the work it describes.
 */
import { hostname } from "node:os";
import type { Event, ObjectReference } from "kubernetes-types/core/v1.js";
import type { KubeClient } from "./client.js";
import { KubeApiError } from "./errors.js";
import { EVENTS } from "./gvr.js";

export interface EventSpec {
  involvedObject: ObjectReference;
  reason: string;
  message: string;
  type: "Normal" | "Warning";
  /** Reporting controller, e.g. "watch-auditor". */
  component: string;
  /** Reporting instance (defaults to the host name). */
  instance?: string;
  action?: string;
}

/** The apiserver rejects longer messages on events.k8s.io; keep core Events consistent. */
const MAX_MESSAGE = 1024;

export function eventName(objectName: string, now = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n)): string {
  return `${objectName}.${now.toString(16)}`;
}

export async function recordEvent(client: KubeClient, spec: EventSpec, signal?: AbortSignal): Promise<{ event?: Event; error?: KubeApiError }> {
  const ref = spec.involvedObject;
  if (!ref.name) return { error: new KubeApiError("recordEvent: involvedObject.name is empty", { code: "EINVALID" }) };
  const namespace = ref.namespace || "default";
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  const instance = spec.instance ?? hostname();
  const message = spec.message.length > MAX_MESSAGE ? `${spec.message.slice(0, MAX_MESSAGE - 3)}...` : spec.message;
  const event: Event = {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: eventName(ref.name), namespace },
    involvedObject: ref,
    reason: spec.reason,
    message,
    type: spec.type,
    count: 1,
    firstTimestamp: now,
    lastTimestamp: now,
    source: { component: spec.component, host: instance },
    reportingComponent: spec.component,
    reportingInstance: instance,
    action: spec.action,
  };
  try {
    return { event: await client.create<Event>(EVENTS, event, { namespace, signal }) };
  } catch (err) {
    return { error: err instanceof KubeApiError ? err : new KubeApiError(`recordEvent: ${String(err)}`, { cause: err }) };
  }
}
