// The authentication and authorization endpoints of the test server, answered as kube-apiserver
// v1.25 answers them (never stored; every answer is 201 with metadata.creationTimestamp null):
// - TokenReview (pkg/registry/authentication/tokenreview): the token goes through the same
//   authenticators as a request's bearer token (static tokens, ServiceAccount JWTs); errors read
//   as the real union of authenticators makes them: `invalid bearer token`, or
//   `[invalid bearer token, <what the ServiceAccount authenticator said>]`;
// - SubjectAccessReview / LocalSubjectAccessReview / SelfSubjectAccessReview
//   (pkg/registry/authorization/*): validated as pkg/apis/authorization/validation does (the
//   422 reads `.authorization.k8s.io "" is invalid: …`, the group kind being empty there), then
//   decided by the authorizer chain (system:masters, then RBAC with its reason);
// - SelfSubjectRulesReview: the rules RBAC resolves for the user in spec.namespace;
// - TokenRequest (serviceaccounts/<name>/token, tokens.ts);
// plus request authentication (static tokens, then ServiceAccount tokens).
import { aggregateMessage, goQuote, type PolicyRule, type RbacAuthorizer, type RequestAttributes, type UserInfo } from "./rbac.js";
import type { ResourceRegistry } from "./resources.js";
import { errors, type StatusCause } from "./status.js";
import type { ObjectStore } from "./store.js";
import { ServiceAccountTokens, type ServiceAccountTokenOptions } from "./tokens.js";

export interface AuthOptions {
  authz: "allow-all" | "rbac";
  /** Static bearer tokens (the token file). */
  tokens: Record<string, { user: string; groups?: string[] }>;
  serviceAccountTokens?: ServiceAccountTokenOptions;
}

/** The parts of a parsed resource path the endpoints need. */
export interface AuthRoute {
  group: string;
  version: string;
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

type Body = Record<string, unknown>;

const AUTHN = "authentication.k8s.io";
const AUTHZ = "authorization.k8s.io";
const INVALID_BEARER_TOKEN = "invalid bearer token";

interface ResourceAttributes {
  namespace?: string;
  verb?: string;
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  name?: string;
}

interface NonResourceAttributes {
  path?: string;
  verb?: string;
}

function isObject(v: unknown): v is Body {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/**
 * The bearer token of an Authorization header as the bearertoken authenticator reads it, or
 * undefined when the header carries none (another scheme, or "Bearer" with nothing after one
 * space): such requests fall through to the anonymous authenticator.
 */
export function bearerToken(header: string | undefined): string | undefined {
  const parts = (header ?? "").trim().split(" ");
  if (parts.length < 2 || parts[0]!.toLowerCase() !== "bearer" || parts[1] === "") return undefined;
  return parts[1];
}

/** The authenticated-group adder: everyone authenticated is in system:authenticated. */
function withAuthenticated(groups: string[]): string[] {
  return groups.includes("system:authenticated") || groups.includes("system:unauthenticated") ? groups : [...groups, "system:authenticated"];
}

/** Go's %#v of the few types a validation message prints. */
function goStringMap(m: unknown): string {
  if (!isObject(m)) return "map[string]string(nil)";
  const entries = Object.keys(m)
    .sort()
    .map((k) => `${goQuote(k)}:${goQuote(str(m[k]))}`);
  return `map[string]string{${entries.join(", ")}}`;
}

function goStringSlice(v: unknown): string {
  return Array.isArray(v) ? `[]string{${v.map((x) => goQuote(String(x))).join(", ")}}` : "[]string(nil)";
}

/** %#v of a metav1.ObjectMeta (what "metadata: must be empty" prints). */
function goObjectMeta(m: Body): string {
  return (
    `v1.ObjectMeta{Name:${goQuote(str(m.name))}, GenerateName:${goQuote(str(m.generateName))}, Namespace:${goQuote(str(m.namespace))}, ` +
    `SelfLink:${goQuote(str(m.selfLink))}, UID:${goQuote(str(m.uid))}, ResourceVersion:${goQuote(str(m.resourceVersion))}, ` +
    `Generation:${typeof m.generation === "number" ? m.generation : 0}, CreationTimestamp:time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC), ` +
    `DeletionTimestamp:<nil>, DeletionGracePeriodSeconds:(*int64)(nil), Labels:${goStringMap(m.labels)}, Annotations:${goStringMap(m.annotations)}, ` +
    `OwnerReferences:[]v1.OwnerReference(nil), Finalizers:${goStringSlice(m.finalizers)}, ManagedFields:[]v1.ManagedFieldsEntry(nil)}`
  );
}

function goNonResourceAttributes(a: NonResourceAttributes): string {
  return `authorization.NonResourceAttributes{Path:${goQuote(str(a.path))}, Verb:${goQuote(str(a.verb))}}`;
}

/** field.Invalid(path, value, detail) as a Status cause. */
function invalidCause(field: string, value: string, detail: string): StatusCause {
  return { reason: "FieldValueInvalid", message: `Invalid value: ${value}: ${detail}`, field };
}

/** Whether an ObjectMeta is semantically empty (managedFields and a null creationTimestamp aside). */
function metaEmpty(m: Body, except: string[] = []): boolean {
  return Object.entries(m).every(([k, v]) => except.includes(k) || k === "managedFields" || v === null || v === undefined || v === "" || v === 0 || (isObject(v) && Object.keys(v).length === 0) || (Array.isArray(v) && v.length === 0));
}

/** resourceAttributes in the field order the real server writes them, empty ones left out. */
function resourceAttributesOut(a: ResourceAttributes): Body {
  const out: Body = {};
  for (const k of ["namespace", "verb", "group", "version", "resource", "subresource", "name"] as const) if (str(a[k])) out[k] = a[k];
  return out;
}

function nonResourceAttributesOut(a: NonResourceAttributes): Body {
  return { ...(str(a.path) && { path: a.path }), ...(str(a.verb) && { verb: a.verb }) };
}

function toAttributes(spec: { resourceAttributes?: ResourceAttributes; nonResourceAttributes?: NonResourceAttributes }): RequestAttributes {
  if (spec.resourceAttributes) {
    const ra = spec.resourceAttributes;
    return {
      verb: str(ra.verb),
      resourceRequest: true,
      apiGroup: str(ra.group),
      resource: str(ra.resource),
      subresource: str(ra.subresource),
      namespace: str(ra.namespace),
      name: str(ra.name),
      path: "",
    };
  }
  const na = spec.nonResourceAttributes ?? {};
  return { verb: str(na.verb), resourceRequest: false, apiGroup: "", resource: "", subresource: "", namespace: "", name: "", path: str(na.path) };
}

function ruleOut(r: PolicyRule, resource: boolean): Body {
  if (!resource) return { verbs: r.verbs ?? null, ...(r.nonResourceURLs?.length && { nonResourceURLs: r.nonResourceURLs }) };
  return {
    verbs: r.verbs ?? null,
    ...(r.apiGroups?.length && { apiGroups: r.apiGroups }),
    ...(r.resources?.length && { resources: r.resources }),
    ...(r.resourceNames?.length && { resourceNames: r.resourceNames }),
  };
}

export class AuthApi {
  readonly tokens: ServiceAccountTokens;

  constructor(
    store: ObjectStore,
    registry: ResourceRegistry,
    private readonly rbac: RbacAuthorizer,
    private readonly opts: AuthOptions,
  ) {
    this.tokens = new ServiceAccountTokens(store, registry, opts.serviceAccountTokens);
  }

  // ---- authentication ---------------------------------------------------------------------------

  /** A static token's user, as the token file authenticator and the group adder make it. */
  private staticUser(token: string): UserInfo | undefined {
    const entry = Object.hasOwn(this.opts.tokens, token) ? this.opts.tokens[token] : undefined;
    if (!entry) return undefined;
    const groups = [...(entry.groups ?? [])];
    // A static token standing for a ServiceAccount (as the conformance suite's) gets its groups.
    const sa = /^system:serviceaccount:([^:]+):[^:]+$/.exec(entry.user);
    if (sa) groups.push("system:serviceaccounts", `system:serviceaccounts:${sa[1]}`);
    return { user: entry.user, groups: withAuthenticated(groups) };
  }

  /**
   * The request's bearer token: the user it authenticates as, or undefined (→ 401). Static tokens
   * first, then ServiceAccount tokens for the API audiences.
   */
  authenticateToken(token: string): UserInfo | undefined {
    const st = this.staticUser(token);
    if (st) return st;
    const r = this.tokens.authenticate(token);
    if (r && "user" in r) return { ...r.user, groups: withAuthenticated(r.user.groups) };
    return undefined;
  }

  /**
   * ServiceAccount issuer discovery (pkg/serviceaccount/openidmetadata.go): the OpenID provider
   * configuration and the JWKS that verifies issued tokens; undefined for any other path.
   */
  discoveryDocument(path: string, serverUrl: string): { contentType: string; body: string } | undefined {
    if (path === "/.well-known/openid-configuration")
      return {
        contentType: "application/json",
        body: JSON.stringify({
          issuer: this.tokens.issuer,
          jwks_uri: `${serverUrl}/openid/v1/jwks`,
          response_types_supported: ["id_token"],
          subject_types_supported: ["public"],
          id_token_signing_alg_values_supported: ["RS256"],
        }),
      };
    if (path === "/openid/v1/jwks") return { contentType: "application/jwk-set+json", body: JSON.stringify(this.tokens.jwks()) };
    return undefined;
  }

  // ---- routing ----------------------------------------------------------------------------------

  /** Whether a request is one of these endpoints (all of them are `create` only). */
  handles(r: AuthRoute, verb: string): boolean {
    if (r.group === "" && r.resource === "serviceaccounts" && r.subresource === "token") {
      // The token subresource serves create only.
      if (verb !== "create") throw errors.methodNotAllowed("the server does not allow this method on the requested resource");
      return true;
    }
    if (verb !== "create" || r.version !== "v1") return false;
    if (r.name !== undefined || r.subresource !== undefined) return false;
    if (r.group === AUTHN) return r.resource === "tokenreviews";
    if (r.group === AUTHZ)
      return ["subjectaccessreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews", "localsubjectaccessreviews"].includes(r.resource);
    return false;
  }

  /** Answers one of the endpoints (`handles` said yes) for `user` with the decoded body. */
  serve(r: AuthRoute, user: UserInfo, body: Body): { code: number; body: Body } {
    if (r.group === "" && r.resource === "serviceaccounts") return { code: 201, body: this.tokens.request(r.namespace ?? "", r.name!, body) };
    const kind = {
      tokenreviews: "TokenReview",
      subjectaccessreviews: "SubjectAccessReview",
      selfsubjectaccessreviews: "SelfSubjectAccessReview",
      selfsubjectrulesreviews: "SelfSubjectRulesReview",
      localsubjectaccessreviews: "LocalSubjectAccessReview",
    }[r.resource]!;
    const gv = `${r.group}/v1`;
    if (body.apiVersion !== undefined && body.apiVersion !== gv)
      throw errors.badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${gv})`);
    if (body.kind !== undefined && body.kind !== kind) throw errors.badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (${kind})`);
    const metadata = isObject(body.metadata) ? { ...body.metadata } : {};
    const spec = isObject(body.spec) ? body.spec : {};
    switch (r.resource) {
      case "tokenreviews":
        return { code: 201, body: this.tokenReview(metadata, spec) };
      case "selfsubjectrulesreviews":
        return { code: 201, body: this.rulesReview(user, spec) };
      default:
        return { code: 201, body: this.accessReview(kind, r.namespace, user, metadata, spec) };
    }
  }

  // ---- TokenReview ------------------------------------------------------------------------------

  private tokenReview(metadata: Body, spec: Body): Body {
    const token = str(spec.token);
    if (token === "") throw errors.badRequest("token is required for TokenReview in authentication");
    const requested = Array.isArray(spec.audiences) ? spec.audiences.map(String) : [];
    const auds = requested.length > 0 ? requested : [...this.tokens.apiAudiences];
    let status: Body;
    // The token file is audience-agnostic: it answers only for the API's own audiences.
    const st = this.staticUser(token);
    const staticAuds = auds.filter((a) => this.tokens.apiAudiences.includes(a));
    if (st && staticAuds.length > 0) status = { authenticated: true, user: this.userOut(st), audiences: staticAuds };
    else {
      const sa = this.tokens.authenticate(token, auds);
      if (sa && "user" in sa) status = { authenticated: true, user: this.userOut({ ...sa.user, groups: withAuthenticated(sa.user.groups) }), audiences: sa.audiences };
      else {
        // The loopback token authenticator comes first and always fails with "invalid bearer
        // token"; the main chain adds its own error (or the same text when no one knew the token).
        status = { user: {}, error: aggregateMessage([INVALID_BEARER_TOKEN, sa?.error ?? INVALID_BEARER_TOKEN]) };
      }
    }
    const specOut: Body = { token, ...(requested.length > 0 && { audiences: requested }) };
    return { kind: "TokenReview", apiVersion: `${AUTHN}/v1`, metadata: { ...metadata, creationTimestamp: null }, spec: specOut, status };
  }

  private userOut(u: UserInfo): Body {
    return {
      ...(u.user && { username: u.user }),
      ...(u.uid && { uid: u.uid }),
      ...(u.groups.length > 0 && { groups: u.groups }),
      ...(u.extra && Object.keys(u.extra).length > 0 && { extra: u.extra }),
    };
  }

  // ---- access reviews ---------------------------------------------------------------------------

  private accessReview(kind: string, namespace: string | undefined, self: UserInfo, metadata: Body, spec: Body): Body {
    const ra = isObject(spec.resourceAttributes) ? (spec.resourceAttributes as ResourceAttributes) : undefined;
    const na = isObject(spec.nonResourceAttributes) ? (spec.nonResourceAttributes as NonResourceAttributes) : undefined;
    const local = kind === "LocalSubjectAccessReview";
    // The create handler puts the URL's namespace on the object (or rejects another one).
    if (local) {
      if (str(metadata.namespace) !== "" && metadata.namespace !== namespace)
        throw errors.badRequest("the namespace of the provided object does not match the namespace sent on the request");
      metadata.namespace = namespace;
    }
    const causes: StatusCause[] = [];
    if (ra && na) causes.push(invalidCause("spec.nonResourceAttributes", goNonResourceAttributes(na), "cannot be specified in combination with resourceAttributes"));
    if (!ra && !na) causes.push(invalidCause("spec.resourceAttributes", '"null"', "exactly one of nonResourceAttributes or resourceAttributes must be specified"));
    const subjectReview = kind !== "SelfSubjectAccessReview";
    const groups = Array.isArray(spec.groups) ? spec.groups.map(String) : [];
    if (subjectReview && str(spec.user) === "" && groups.length === 0) causes.push(invalidCause("spec.user", '""', "at least one of user or group must be specified"));
    if (!metaEmpty(metadata, local ? ["namespace"] : []))
      causes.push(invalidCause("metadata", goObjectMeta(local ? { ...metadata, namespace: "" } : metadata), local ? "must be empty except for namespace" : "must be empty"));
    if (local && ra && str(ra.namespace) !== namespace)
      causes.push(invalidCause("spec.resourceAttributes.namespace", goQuote(str(ra.namespace)), "must match metadata.namespace"));
    if (local && na) causes.push(invalidCause("spec.nonResourceAttributes", goNonResourceAttributes(na), "disallowed on this kind of request"));
    // The internal object's Kind is empty, so the group kind prints as ".authorization.k8s.io".
    if (causes.length > 0) throw errors.invalid("", { group: AUTHZ, resource: kind.toLowerCase() }, causes);

    const extra = isObject(spec.extra) ? (spec.extra as Record<string, string[]>) : undefined;
    const subject: UserInfo = subjectReview ? { user: str(spec.user), groups, ...(str(spec.uid) && { uid: str(spec.uid) }), ...(extra && { extra }) } : self;
    const attrs = toAttributes({ resourceAttributes: ra, nonResourceAttributes: na });
    const decision = this.opts.authz === "allow-all" ? { allowed: true, reason: "" } : this.rbac.decide(subject, attrs);

    const specOut: Body = {
      ...(ra && { resourceAttributes: resourceAttributesOut(ra) }),
      ...(na && { nonResourceAttributes: nonResourceAttributesOut(na) }),
    };
    if (subjectReview) {
      if (str(spec.user)) specOut.user = spec.user;
      if (groups.length > 0) specOut.groups = groups;
      if (extra && Object.keys(extra).length > 0) specOut.extra = extra;
      if (str(spec.uid)) specOut.uid = spec.uid;
    }
    return {
      kind,
      apiVersion: `${AUTHZ}/v1`,
      metadata: { ...(local && { namespace }), creationTimestamp: null },
      spec: specOut,
      status: { allowed: decision.allowed, ...(decision.reason && { reason: decision.reason }) },
    };
  }

  // ---- SelfSubjectRulesReview ----------------------------------------------------------------------

  private rulesReview(user: UserInfo, spec: Body): Body {
    const namespace = str(spec.namespace);
    if (namespace === "") throw errors.badRequest("no namespace on request");
    let rules: PolicyRule[];
    let evaluationErrors: string[] = [];
    if (this.opts.authz === "allow-all")
      rules = [
        { verbs: ["*"], apiGroups: ["*"], resources: ["*"] },
        { verbs: ["*"], nonResourceURLs: ["*"] },
      ];
    else ({ rules, errors: evaluationErrors } = this.rbac.rulesFor(user, namespace));
    const status: Body = {
      resourceRules: rules.filter((r) => (r.resources ?? []).length > 0).map((r) => ruleOut(r, true)),
      nonResourceRules: rules.filter((r) => (r.nonResourceURLs ?? []).length > 0).map((r) => ruleOut(r, false)),
      incomplete: false,
      ...(evaluationErrors.length > 0 && { evaluationError: aggregateMessage(evaluationErrors) }),
    };
    // The answer is a new object: neither the request's metadata nor its spec come back.
    return { kind: "SelfSubjectRulesReview", apiVersion: `${AUTHZ}/v1`, metadata: { creationTimestamp: null }, spec: {}, status };
  }
}
