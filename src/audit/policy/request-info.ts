// Rebuilds the authorizer attributes the policy was evaluated against from a recorded event.
// The event's objectRef is not enough: the API server fills objectRef.name (and an empty
// namespace) from the request body after the policy decision, so a `create` records the new
// object's name although the policy saw none. We therefore re-parse the request URI the way
// k8s.io/apiserver/pkg/endpoints/request/requestinfo.go does, and use objectRef only when the
// URI cannot be parsed.
import type { RequestAttributes } from "./checker.js";

/** The parts of a recorded audit event the policy depends on (columns of H6's events table). */
export interface RecordedRequest {
  verb: string;
  requestURI: string;
  user?: string | null;
  groups?: readonly string[] | null;
  /** objectRef fields; resource null/"" means a non-resource request. */
  namespace?: string | null;
  apiGroup?: string | null;
  resource?: string | null;
  subresource?: string | null;
  name?: string | null;
}

interface UriInfo {
  namespace: string;
  name: string;
}

// Sub-paths of /namespaces/{name}/ that are namespace subresources, not namespaced resources.
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Name from `fieldSelector=metadata.name=X` (list/watch set RequestInfo.Name from it). */
function nameFromFieldSelector(query: string): string {
  for (const kv of query.split("&")) {
    const eq = kv.indexOf("=");
    if (eq < 0 || decode(kv.slice(0, eq)) !== "fieldSelector") continue;
    const selector = decode(kv.slice(eq + 1).replace(/\+/g, " "));
    const terms = selector.split(",").map((t) => t.trim());
    for (const t of terms) {
      const m = /^metadata\.name\s*==?\s*(.+)$/.exec(t);
      if (m && !m[1]!.startsWith("=")) return m[1]!.trim();
    }
  }
  return "";
}

/** Namespace and name as RequestInfo parses them from a resource URI; undefined when not an API path. */
export function parseResourceUri(uri: string, verb: string): UriInfo | undefined {
  const q = uri.indexOf("?");
  const path = q >= 0 ? uri.slice(0, q) : uri;
  const query = q >= 0 ? uri.slice(q + 1) : "";
  let parts = path.split("/").filter((p) => p !== "").map(decode);
  if (parts[0] === "api") parts = parts.slice(2);
  else if (parts[0] === "apis") parts = parts.slice(3);
  else return undefined;
  if (parts.length === 0) return undefined;
  if (parts[0] === "watch") parts = parts.slice(1);
  let namespace = "";
  if (parts[0] === "namespaces") {
    if (parts.length > 1) {
      namespace = parts[1]!;
      if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2]!)) parts = parts.slice(2);
    }
  }
  let name = parts.length >= 2 ? parts[1]! : "";
  if (name === "" && (verb === "list" || verb === "watch")) name = nameFromFieldSelector(query);
  return { namespace, name };
}

export function pathOf(uri: string): string {
  const q = uri.indexOf("?");
  return q >= 0 ? uri.slice(0, q) : uri;
}

export function attributesOf(r: RecordedRequest): RequestAttributes {
  const user = r.user ? r.user : undefined;
  const groups = r.groups ?? [];
  const resource = r.resource ?? "";
  const base = { ...(user !== undefined ? { user } : {}), groups, verb: r.verb, path: pathOf(r.requestURI) };
  if (resource === "") {
    return { ...base, resourceRequest: false, namespace: "", apiGroup: "", resource: "", subresource: "", name: "" };
  }
  const uri = parseResourceUri(r.requestURI, r.verb);
  return {
    ...base,
    resourceRequest: true,
    namespace: uri ? uri.namespace : (r.namespace ?? ""),
    apiGroup: r.apiGroup ?? "",
    resource,
    subresource: r.subresource ?? "",
    name: uri ? uri.name : (r.name ?? ""),
  };
}
