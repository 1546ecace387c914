// ServiceAccount tokens as kube-apiserver issues and checks them (pkg/serviceaccount, v1.25):
// - TokenRequest, `POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token`
//   (pkg/registry/core/serviceaccount/storage/token.go): a JWS signed RS256 with a key pair made
//   per server (node:crypto, RSA 2048, generated on first use), header `{"alg":"RS256","kid":…}`
//   where kid is the unpadded base64url SHA-256 of the public key's DER, as the real one computes.
//   RS256 rather than HS256 because that is what the real server issues and what clients that
//   inspect tokens (or verify them against /openid/v1/jwks) expect.
//   Claims: aud, exp, iat, iss, kubernetes.io {namespace, pod|secret, serviceaccount {name, uid},
//   warnafter}, nbf, sub, serialized in key order as go-jose does.
// - The bearer-token authenticator for them (jwt.go + validator.go): issuer, signature, audiences
//   (the request's, default the API audiences), exp/nbf/iat with go-jose's 60 s leeway, then the
//   ServiceAccount (and bound Secret or Pod) must still exist with the uid in the claims.
import { createHash, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import type { ResourceRegistry } from "./resources.js";
import { goQuote, goQuoteList, type UserInfo } from "./rbac.js";
import { errors } from "./status.js";
import type { KubeObject, ObjectStore } from "./store.js";

/** --service-account-issuer of the recorded server, and so its default API audience. */
export const DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local";
/** token.WarnOnlyBoundTokenExpirationSeconds: pods' projected tokens, extended to a year. */
const WARN_ONLY_SECONDS = 3607;
const EXTENDED_SECONDS = 365 * 24 * 60 * 60;
/** go-jose jwt.DefaultLeeway. */
const LEEWAY_SECONDS = 60;

export interface ServiceAccountTokenOptions {
  issuer?: string;
  /** --api-audiences (default: the issuer). */
  apiAudiences?: string[];
  /** Clock in ms (tests). */
  now?: () => number;
}

/** What authenticating a token gave: a user, an error text (the token was ours but bad), or nothing. */
export type TokenResult = { user: UserInfo; audiences: string[] } | { error: string } | undefined;

interface Ref {
  name?: string;
  uid?: string;
}

interface PrivateClaims {
  namespace?: string;
  serviceaccount?: Ref;
  pod?: Ref;
  secret?: Ref;
  warnafter?: number;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

/** base64.RawURLEncoding.DecodeString: strict, unpadded. */
function unb64url(s: string): Buffer | undefined {
  return /^[A-Za-z0-9_-]*$/.test(s) && s.length % 4 !== 1 ? Buffer.from(s, "base64url") : undefined;
}

function parseJsonObject(buf: Buffer | undefined): Record<string, unknown> | undefined {
  if (!buf) return undefined;
  try {
    const v = JSON.parse(buf.toString("utf8")) as unknown;
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** JSON with object keys sorted at every level: go-jose merges the claim sets into maps. */
function sortedJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(sortedJson).join(",")}]`;
  if (typeof v === "object" && v !== null)
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${sortedJson((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

/** metav1.Time as JSON: RFC 3339, whole seconds, UTC. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d+Z$/, "Z");
}

function intersect(a: readonly string[], b: readonly string[]): string[] {
  return a.filter((x) => b.includes(x));
}

export class ServiceAccountTokens {
  readonly issuer: string;
  readonly apiAudiences: string[];
  private readonly now: () => number;
  private keys?: { privateKey: KeyObject; publicKey: KeyObject; kid: string };

  constructor(
    private readonly store: ObjectStore,
    private readonly registry: ResourceRegistry,
    opts: ServiceAccountTokenOptions = {},
  ) {
    this.issuer = opts.issuer ?? DEFAULT_ISSUER;
    this.apiAudiences = opts.apiAudiences ?? [this.issuer];
    this.now = opts.now ?? Date.now;
  }

  private keyPair(): { privateKey: KeyObject; publicKey: KeyObject; kid: string } {
    if (!this.keys) {
      const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const der = publicKey.export({ type: "spki", format: "der" });
      this.keys = { privateKey, publicKey, kid: b64url(createHash("sha256").update(der).digest()) };
    }
    return this.keys;
  }

  /** The JSON Web Key Set the server would publish at /openid/v1/jwks. */
  jwks(): { keys: Record<string, unknown>[] } {
    const { publicKey, kid } = this.keyPair();
    const jwk = publicKey.export({ format: "jwk" }) as Record<string, unknown>;
    return { keys: [{ use: "sig", kty: "RSA", kid, alg: "RS256", n: jwk.n, e: jwk.e }] };
  }

  private getObject(resource: string, namespace: string, name: string): KubeObject | undefined {
    return this.store.getRaw(this.registry.resolve(resource), namespace, name);
  }

  /** Signs a token for a ServiceAccount (and the Pod or Secret it is bound to). */
  issue(
    sa: KubeObject,
    opts: { audiences: string[]; expirationSeconds: number; pod?: KubeObject; secret?: KubeObject; warnAfterSeconds?: number; nowMs?: number },
  ): string {
    const nowMs = opts.nowMs ?? this.now();
    const now = Math.floor(nowMs / 1000);
    const ns = String(sa.metadata.namespace ?? "");
    const name = String(sa.metadata.name ?? "");
    const k8s: PrivateClaims = { namespace: ns, serviceaccount: { name, uid: String(sa.metadata.uid ?? "") } };
    if (opts.pod) k8s.pod = { name: String(opts.pod.metadata.name), uid: String(opts.pod.metadata.uid) };
    else if (opts.secret) k8s.secret = { name: String(opts.secret.metadata.name), uid: String(opts.secret.metadata.uid) };
    if (opts.warnAfterSeconds) k8s.warnafter = now + opts.warnAfterSeconds;
    const claims = {
      iss: this.issuer,
      sub: `system:serviceaccount:${ns}:${name}`,
      aud: opts.audiences,
      exp: now + opts.expirationSeconds,
      nbf: now,
      iat: now,
      "kubernetes.io": k8s,
    };
    const { privateKey, kid } = this.keyPair();
    const signingInput = `${b64url(JSON.stringify({ alg: "RS256", kid }))}.${b64url(sortedJson(claims))}`;
    return `${signingInput}.${b64url(sign("sha256", Buffer.from(signingInput), privateKey))}`;
  }

  /**
   * The TokenRequest subresource: `body` is the decoded request, `namespace`/`name` those of the URL.
   * Returns the TokenRequest answered with 201; throws the real server's errors.
   */
  request(namespace: string, name: string, body: Record<string, unknown>): Record<string, unknown> {
    const gv = "authentication.k8s.io/v1";
    if (body.apiVersion !== undefined && body.apiVersion !== gv)
      throw errors.badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${gv})`);
    if (body.kind !== undefined && body.kind !== "TokenRequest") throw errors.badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (TokenRequest)`);
    const meta = { ...((body.metadata as Record<string, unknown> | undefined) ?? {}) };
    const spec = (body.spec ?? {}) as { audiences?: unknown; expirationSeconds?: unknown; boundObjectRef?: unknown };
    const invalid = (field: string, value: unknown, detail: string, objectName: string) =>
      errors.invalid("TokenRequest", { group: "authentication.k8s.io", resource: "tokenrequests", name: objectName }, [
        { reason: "FieldValueInvalid", message: `Invalid value: ${typeof value === "string" ? goQuote(value) : String(value)}: ${detail}`, field },
      ]);
    if (typeof meta.name === "string" && meta.name !== "" && meta.name !== name) throw invalid("metadata.name", meta.name, "must match the service account name if specified", name);
    if (typeof meta.namespace === "string" && meta.namespace !== "" && meta.namespace !== namespace)
      throw invalid("metadata.namespace", meta.namespace, "must match the service account namespace if specified", name);

    const sa = this.getObject("serviceaccounts", namespace, name);
    if (!sa) throw errors.notFound({ group: "", resource: "serviceaccounts", name });
    const audiences = Array.isArray(spec.audiences) && spec.audiences.length > 0 ? spec.audiences.map(String) : [...this.apiAudiences];
    const expirationSeconds = spec.expirationSeconds === undefined || spec.expirationSeconds === null ? 3600 : Number(spec.expirationSeconds);
    const nowMs = this.now();
    if (!Number.isInteger(expirationSeconds)) throw errors.badRequest(`TokenRequest in version "v1" cannot be handled as a TokenRequest: spec.expirationSeconds: an integer is required`);
    if (expirationSeconds < 600) throw invalid("spec.expirationSeconds", expirationSeconds, "may not specify a duration less than 10 minutes", "");
    if (expirationSeconds > 2 ** 32) throw invalid("spec.expirationSeconds", expirationSeconds, "may not specify a duration larger than 2^32 seconds", "");

    let pod: KubeObject | undefined;
    let secret: KubeObject | undefined;
    let boundObjectRef: Record<string, unknown> | null = null;
    if (spec.boundObjectRef !== undefined && spec.boundObjectRef !== null) {
      const ref = spec.boundObjectRef as { kind?: string; apiVersion?: string; name?: string; uid?: string };
      boundObjectRef = {
        ...(ref.kind && { kind: ref.kind }),
        ...(ref.apiVersion && { apiVersion: ref.apiVersion }),
        ...(ref.name && { name: ref.name }),
        ...(ref.uid && { uid: ref.uid }),
      };
      const [group, version] = (ref.apiVersion ?? "").includes("/") ? (ref.apiVersion ?? "").split("/", 2) : ["", ref.apiVersion ?? ""];
      let bound: KubeObject;
      if (group === "" && ref.kind === "Pod") {
        const p = this.getObject("pods", namespace, ref.name ?? "");
        if (!p) throw errors.notFound({ group: "", resource: "pods", name: ref.name ?? "" });
        if ((p.spec as { serviceAccountName?: string } | undefined)?.serviceAccountName !== name)
          throw errors.badRequest(`cannot bind token for serviceaccount ${goQuote(name)} to pod running with different serviceaccount name.`);
        bound = pod = p;
      } else if (group === "" && ref.kind === "Secret") {
        const s = this.getObject("secrets", namespace, ref.name ?? "");
        if (!s) throw errors.notFound({ group: "", resource: "secrets", name: ref.name ?? "" });
        bound = secret = s;
      } else throw errors.badRequest(`cannot bind token to object of type ${group}/${version}, Kind=${ref.kind ?? ""}`);
      if (ref.uid && ref.uid !== bound.metadata.uid)
        throw errors.conflict(
          { group, resource: ref.kind, name: ref.name ?? "" },
          `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`,
        );
    }

    // --service-account-extend-token-expiration (default on): pods' kubelet-requested tokens.
    let exp = expirationSeconds;
    let warnAfterSeconds: number | undefined;
    if (pod && expirationSeconds === WARN_ONLY_SECONDS && audiences.every((a) => this.apiAudiences.includes(a))) {
      warnAfterSeconds = expirationSeconds;
      exp = EXTENDED_SECONDS;
    }
    const token = this.issue(sa, { audiences, expirationSeconds: exp, pod, secret, warnAfterSeconds, nowMs });
    const { creationTimestamp: _c, ...restMeta } = meta;
    return {
      kind: "TokenRequest",
      apiVersion: gv,
      metadata: { ...restMeta, name, namespace, creationTimestamp: rfc3339(nowMs) },
      spec: { audiences, expirationSeconds, boundObjectRef },
      status: { token, expirationTimestamp: rfc3339(nowMs + expirationSeconds * 1000) },
    };
  }

  /**
   * The ServiceAccount token authenticator. `audiences` are the ones the token must be meant for
   * (a TokenReview's spec.audiences; API requests use the API audiences). undefined: not one of
   * our tokens (another authenticator may know it).
   */
  authenticate(token: string, audiences: readonly string[] = this.apiAudiences): TokenResult {
    const parts = token.split(".");
    if (parts.length !== 3) return undefined;
    const claims = parseJsonObject(unb64url(parts[1]!));
    if (!claims || claims.iss !== this.issuer) return undefined;
    const header = parseJsonObject(unb64url(parts[0]!));
    const signature = unb64url(parts[2]!);
    if (!header || typeof header.alg !== "string" || !signature) return undefined;
    if (!this.keys) return undefined; // no key, no token of ours
    if (header.alg !== "RS256" || !verify("sha256", Buffer.from(`${parts[0]}.${parts[1]}`), this.keys.publicKey, signature))
      return { error: "square/go-jose: error in cryptographic primitive" };

    const aud = claims.aud;
    let tokenAudiences = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud.map(String) : [];
    if (tokenAudiences.length === 0) tokenAudiences = [...this.apiAudiences];
    const auds = intersect(tokenAudiences, audiences);
    if (auds.length === 0 && this.apiAudiences.length > 0)
      return { error: `token audiences ${goQuoteList(tokenAudiences)} is invalid for the target audiences ${goQuoteList(audiences)}` };

    // validator.Validate: times (with leeway), then the objects the token is bound to.
    const now = this.now() / 1000;
    const num = (v: unknown) => (typeof v === "number" ? v : undefined);
    const nbf = num(claims.nbf);
    const exp = num(claims.exp);
    const iat = num(claims.iat);
    if (nbf !== undefined && now + LEEWAY_SECONDS < nbf) return { error: "service account token is not valid yet" };
    if (exp !== undefined && now - LEEWAY_SECONDS > exp) return { error: "service account token has expired" };
    if (iat !== undefined && now + LEEWAY_SECONDS < iat) return { error: "service account token is issued in the future" };
    const k8s = (claims["kubernetes.io"] ?? {}) as PrivateClaims;
    const ns = k8s.namespace ?? "";
    const saRef = k8s.serviceaccount ?? {};
    const deletedLongAgo = (o: KubeObject) => {
      const ts = o.metadata.deletionTimestamp;
      return typeof ts === "string" && Date.parse(ts) < this.now() - LEEWAY_SECONDS * 1000;
    };
    const sa = this.getObject("serviceaccounts", ns, saRef.name ?? "");
    if (!sa) return { error: `serviceaccounts ${goQuote(saRef.name ?? "")} not found` };
    if (deletedLongAgo(sa)) return { error: `service account ${ns}/${saRef.name ?? ""} has been deleted` };
    if (sa.metadata.uid !== saRef.uid) return { error: `service account UID (${String(sa.metadata.uid)}) does not match claim (${saRef.uid ?? ""})` };
    if (k8s.secret) {
      const s = this.getObject("secrets", ns, k8s.secret.name ?? "");
      if (!s || deletedLongAgo(s)) return { error: "service account token has been invalidated" };
      if (s.metadata.uid !== k8s.secret.uid) return { error: `secret UID (${String(s.metadata.uid)}) does not match claim (${k8s.secret.uid ?? ""})` };
    }
    let extra: Record<string, string[]> | undefined;
    if (k8s.pod) {
      const p = this.getObject("pods", ns, k8s.pod.name ?? "");
      if (!p || deletedLongAgo(p)) return { error: "service account token has been invalidated" };
      if (p.metadata.uid !== k8s.pod.uid) return { error: `pod UID (${String(p.metadata.uid)}) does not match claim (${k8s.pod.uid ?? ""})` };
      extra = { "authentication.kubernetes.io/pod-name": [k8s.pod.name ?? ""], "authentication.kubernetes.io/pod-uid": [k8s.pod.uid ?? ""] };
    }
    return {
      user: {
        user: `system:serviceaccount:${ns}:${saRef.name ?? ""}`,
        uid: saRef.uid ?? "",
        groups: ["system:serviceaccounts", `system:serviceaccounts:${ns}`],
        ...(extra && { extra }),
      },
      audiences: auds,
    };
  }
}
