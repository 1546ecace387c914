// Kubernetes `Status` error objects, shaped like k8s.io/apimachinery/pkg/api/errors builds them.

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

export interface StatusObject {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, unknown>;
  status: "Failure" | "Success";
  message: string;
  /** Absent on some real answers (e.g. a 500 passed through from etcd). */
  reason?: string;
  details?: { name?: string; group?: string; kind?: string; uid?: string; causes?: StatusCause[]; retryAfterSeconds?: number };
  code: number;
}

/** An error that the HTTP layer answers with its Status; store methods throw it too. */
export class ApiError extends Error {
  constructor(
    readonly status: StatusObject,
    readonly headers: Record<string, string> = {},
  ) {
    super(status.message);
    this.name = "ApiError";
  }
  get code(): number {
    return this.status.code;
  }
}

interface Target {
  group: string;
  resource: string;
  name?: string;
}

function qualified(t: Target): string {
  return t.group ? `${t.resource}.${t.group}` : t.resource;
}

export function statusObject(code: number, reason: string, message: string, details?: StatusObject["details"]): StatusObject {
  const s: StatusObject = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, ...(reason && { reason }), code };
  if (details) s.details = details;
  return s;
}

function details(t: Target): StatusObject["details"] {
  const d: NonNullable<StatusObject["details"]> = { kind: t.resource };
  if (t.name !== undefined) d.name = t.name;
  if (t.group) d.group = t.group;
  return d;
}

export const errors = {
  notFound: (t: Target) => new ApiError(statusObject(404, "NotFound", `${qualified(t)} "${t.name ?? ""}" not found`, details(t))),
  alreadyExists: (t: Target) =>
    new ApiError(statusObject(409, "AlreadyExists", `${qualified(t)} "${t.name ?? ""}" already exists`, details(t))),
  conflict: (t: Target, why: string) =>
    new ApiError(
      statusObject(409, "Conflict", `Operation cannot be fulfilled on ${qualified(t)} "${t.name ?? ""}": ${why}`, details(t)),
    ),
  badRequest: (message: string) => new ApiError(statusObject(400, "BadRequest", message)),
  invalid: (kind: string, t: Target, causes: StatusCause[]) => {
    const gk = t.group ? `${kind}.${t.group}` : kind;
    const summary = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
    const msg = `${gk} "${t.name ?? ""}" is invalid: ${summary.length === 1 ? summary[0] : `[${summary.join(", ")}]`}`;
    return new ApiError(
      statusObject(422, "Invalid", msg, { ...(t.name && { name: t.name }), ...(t.group && { group: t.group }), ...(kind && { kind }), causes }),
    );
  },
  // Non-resource requests (t.resource "") carry empty details.
  forbidden: (message: string, t: Target) => new ApiError(statusObject(403, "Forbidden", message, t.resource ? details(t) : {})),
  unauthorized: () => new ApiError(statusObject(401, "Unauthorized", "Unauthorized")),
  gone: (message: string) => new ApiError(statusObject(410, "Expired", message)),
  methodNotAllowed: (message: string) => new ApiError(statusObject(405, "MethodNotAllowed", message)),
  // The real server's words for a body type it cannot decode (recorded: patch/configmap-unsupported-content-type).
  unsupportedMediaType: (_contentType: string) => new ApiError(statusObject(415, "UnsupportedMediaType", "415: Unsupported Media Type", {})),
  tooLarge: (limit: number) =>
    new ApiError(statusObject(413, "RequestEntityTooLarge", `Request entity too large: limit is ${limit}`)),
  notFoundPath: () => new ApiError(statusObject(404, "NotFound", "the server could not find the requested resource", {})),
  timeout: (message: string) => new ApiError(statusObject(504, "Timeout", message)),
};

/** Adds Warning headers (`299 - "<text>"`, one header line each) to a response's headers. */
export function addWarnings(headers: Record<string, string | string[]>, texts: string[]): void {
  if (texts.length === 0) return;
  const prior = headers.Warning === undefined ? [] : Array.isArray(headers.Warning) ? headers.Warning : [headers.Warning];
  headers.Warning = [...prior, ...texts.map((t) => `299 - "${t.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`)];
}
