// Secret values never reach the store. Request/response bodies of audit events are kept (so an
// object's revisions can be rebuilt), but the VALUES of a Secret's `data` and `stringData`, the
// token of a TokenRequest (`status.token`) and of a TokenReview (`spec.token`) are replaced by a
// fixed marker before anything is written; key names stay. Applied in ingest (files and webhook).

/**
 * A fixed marker, not a hash: a plain hash of a password is an offline guessing oracle, and a
 * keyed hash is one too for whoever holds the key (it would have to live beside the store).
 */
export const REDACTED = "<redacted>";

export const KEEP_SECRET_DATA_WARNING =
  "--keep-secret-data: Secret data/stringData values and TokenRequest/TokenReview tokens in request/response bodies are stored UNREDACTED; anyone who can read the store (or `audit sql`) can read them";

export const REDACTION_KINDS = ["secret_data", "secret_string_data", "last_applied_configuration", "token_request", "token_review"] as const;
export type RedactionKind = (typeof REDACTION_KINDS)[number];
export type RedactionCounts = Partial<Record<RedactionKind, number>>;

export interface BodyContext {
  /** objectRef.resource and objectRef.subresource of the event. */
  resource?: string | null;
  subresource?: string | null;
}

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function bump(c: RedactionCounts, kind: RedactionKind, n = 1): void {
  if (n > 0) c[kind] = (c[kind] ?? 0) + n;
}

/** Replaces every value of a data/stringData map; returns how many changed. */
function redactMap(m: Obj): number {
  let n = 0;
  for (const k of Object.keys(m)) {
    if (m[k] === REDACTED) continue;
    m[k] = REDACTED;
    n++;
  }
  return n;
}

function redactLastApplied(meta: unknown, scope: boolean, c: RedactionCounts): void {
  if (!isObj(meta) || !isObj(meta.annotations)) return;
  const ann = meta.annotations;
  const text = ann[LAST_APPLIED];
  if (typeof text !== "string" || text === "") return;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // Not JSON we can read: in a Secret's scope it may hold anything, so it goes whole.
    if (scope) {
      ann[LAST_APPLIED] = REDACTED;
      bump(c, "last_applied_configuration");
    }
    return;
  }
  const inner: RedactionCounts = {};
  walk(doc, scope, inner);
  if (Object.keys(inner).length === 0) return;
  ann[LAST_APPLIED] = JSON.stringify(doc) + (text.endsWith("\n") ? "\n" : "");
  bump(c, "last_applied_configuration");
}

/** A JSON patch (RFC 6902) operation on a Secret: values under /data and /stringData go. */
function redactPatchOp(op: Obj, c: RedactionCounts): void {
  if (typeof op.path !== "string" || !("value" in op)) return;
  const m = /^\/(data|stringData)(\/|$)/.exec(op.path);
  const kind: RedactionKind = m?.[1] === "stringData" ? "secret_string_data" : "secret_data";
  if (m && m[2] === "" && isObj(op.value)) bump(c, kind, redactMap(op.value));
  else if (m && op.value !== REDACTED) {
    op.value = REDACTED;
    bump(c, kind);
  } else if (op.path === `/metadata/annotations/${LAST_APPLIED.replace(/~/g, "~0").replace(/\//g, "~1")}` && typeof op.value === "string") {
    const holder = { annotations: { [LAST_APPLIED]: op.value } };
    redactLastApplied(holder, true, c);
    op.value = holder.annotations[LAST_APPLIED];
  }
}

/**
 * Walks a body. `scope` is true inside a Secret (or a body of the `secrets` resource: patches,
 * lists, tables): there every `data`/`stringData` map loses its values. Outside it, an object of
 * kind Secret (a List item, a last-applied annotation) opens the scope for itself.
 */
function walk(node: unknown, scope: boolean, c: RedactionCounts): void {
  if (Array.isArray(node)) {
    for (const el of node) {
      if (scope && isObj(el) && typeof el.op === "string" && typeof el.path === "string") redactPatchOp(el, c);
      else walk(el, scope, c);
    }
    return;
  }
  if (!isObj(node)) return;
  const kind = node.kind;
  const here = scope || kind === "Secret" || kind === "SecretList";
  if (kind === "TokenRequest" && isObj(node.status)) redactToken(node.status, "token_request", c);
  if (kind === "TokenReview" && isObj(node.spec)) redactToken(node.spec, "token_review", c);
  for (const [k, v] of Object.entries(node)) {
    if (k === "managedFields") continue; // field names only ("f:data": {"f:password": {}})
    if (here && (k === "data" || k === "stringData") && isObj(v)) bump(c, k === "data" ? "secret_data" : "secret_string_data", redactMap(v));
    else if (k === "metadata") {
      redactLastApplied(v, here, c);
      walk(v, here, c);
    } else if (typeof v === "object" && v !== null) walk(v, here, c);
  }
}

function redactToken(holder: Obj, kind: RedactionKind, c: RedactionCounts): void {
  const t = holder.token;
  if (t === undefined || t === null || t === "" || t === REDACTED) return;
  holder.token = REDACTED;
  bump(c, kind);
}

/**
 * Redacts a parsed request or response object in place and adds what it replaced to `counts`.
 * The event's objectRef decides the scope of bodies that carry no kind (patches, list items).
 */
export function redactBody(body: unknown, ctx: BodyContext, counts: RedactionCounts): void {
  const secrets = ctx.resource === "secrets" && (ctx.subresource === undefined || ctx.subresource === null || ctx.subresource === "");
  walk(body, secrets, counts);
  if (!isObj(body)) return;
  // Bodies without a kind: a patch to serviceaccounts/token or tokenreviews is not expected,
  // but their shapes are known, so a token field there goes too.
  if (ctx.resource === "serviceaccounts" && ctx.subresource === "token" && body.kind === undefined && isObj(body.status)) redactToken(body.status, "token_request", counts);
  if (ctx.resource === "tokenreviews" && body.kind === undefined && isObj(body.spec)) redactToken(body.spec, "token_review", counts);
}

/**
 * Text in, text out: returns the redacted JSON text, or the input unchanged (same string) when
 * there was nothing to redact. Text that is not JSON is replaced whole.
 */
export function redactBodyText(text: string, ctx: BodyContext, counts: RedactionCounts): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // Cannot happen for text DuckDB extracted as JSON; if it does, nothing of it is kept.
    bump(counts, "secret_data");
    return JSON.stringify(REDACTED);
  }
  const mine: RedactionCounts = {};
  redactBody(doc, ctx, mine);
  if (Object.keys(mine).length === 0) return text;
  for (const [k, n] of Object.entries(mine)) bump(counts, k as RedactionKind, n);
  return JSON.stringify(doc);
}

/**
 * SQL predicate over staged rows (columns resource, subresource, request_object,
 * response_object): true for every row whose bodies may hold a secret. Over-inclusive on purpose;
 * the JS pass decides. 'Secret' matches kind Secret/SecretList, also inside an escaped
 * last-applied annotation; 'TokenRe' matches TokenRequest and TokenReview.
 */
export const REDACTION_CANDIDATE_SQL = `(request_object IS NOT NULL OR response_object IS NOT NULL) AND (
  resource IN ('secrets', 'tokenreviews') OR subresource = 'token'
  OR contains(request_object, 'Secret') OR contains(response_object, 'Secret')
  OR contains(request_object, 'TokenRe') OR contains(response_object, 'TokenRe'))`;
