// The test API server's authentication and authorization endpoints, through real HTTP:
// TokenRequest/ServiceAccount tokens, TokenReview, (Self/Local)SubjectAccessReview,
// SelfSubjectRulesReview, the bootstrap RBAC policy, RBAC escalation checks and 403 texts.
import assert from "node:assert/strict";
import { createPublicKey, verify } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { startTestApiServer, type TestApiServer } from "./kube-apiserver/index.js";
import { ObjectStore } from "./kube-apiserver/store.js";
import { ResourceRegistry } from "./kube-apiserver/resources.js";
import { call, pod } from "./kube-apiserver/test-helpers.js";
import { ServiceAccountTokens } from "./kube-apiserver/tokens.js";

const RBAC = "/apis/rbac.authorization.k8s.io/v1";
const AUTHZ = "/apis/authorization.k8s.io/v1";
const TOKENREVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews";
const ISSUER = "https://kubernetes.default.svc.cluster.local";
const admin = { token: "admin" };
const dev = { token: "dev" };

function decodeJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown>; raw: string[] } {
  const raw = token.split(".");
  assert.equal(raw.length, 3);
  const part = (s: string) => JSON.parse(Buffer.from(s, "base64url").toString("utf8")) as Record<string, unknown>;
  return { header: part(raw[0]!), claims: part(raw[1]!), raw };
}

const tokenRequest = (spec: Record<string, unknown>) => ({ apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec });
const tokenReview = (token: string, audiences?: string[]) => ({ apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, ...(audiences && { audiences }) } });
const sar = (spec: Record<string, unknown>) => ({ apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview", spec });
const ssar = (spec: Record<string, unknown>) => ({ apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec });

/** Removes metadata.managedFields (returned) and keeps its time aside in `__time` for comparisons. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function takeManagedFields(o: any): any[] {
  const mf = o.metadata.managedFields;
  assert.ok(Array.isArray(mf) && mf.length === 1, "one managedFields entry");
  delete o.metadata.managedFields;
  o.__time = mf[0].time;
  return mf;
}

describe("test API server: ServiceAccount tokens, reviews and RBAC policy", () => {
  let api: TestApiServer;
  const post = async (path: string, body: unknown, as = admin) => call(api.url, "POST", path, body, as);
  const created = async (path: string, body: unknown, as = admin) => {
    const r = await post(path, body, as);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body;
  };

  before(async () => {
    api = await startTestApiServer({
      authz: "rbac",
      tokens: { admin: { user: "admin", groups: ["system:masters"] }, dev: { user: "developer" } },
    });
    await created("/api/v1/namespaces/ns1/serviceaccounts", { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "robot" } });
  });
  after(() => api.close());

  it("issues RS256 TokenRequest tokens with Kubernetes' claims and the recorded answer shape", async () => {
    const sa = (await call(api.url, "GET", "/api/v1/namespaces/ns1/serviceaccounts/robot", undefined, admin)).body;
    const t0 = Math.floor(Date.now() / 1000);
    const tr = await created("/api/v1/namespaces/ns1/serviceaccounts/robot/token", tokenRequest({ expirationSeconds: 3600 }));
    assert.equal(tr.kind, "TokenRequest");
    assert.equal(tr.apiVersion, "authentication.k8s.io/v1");
    assert.equal(tr.metadata.name, "robot");
    assert.equal(tr.metadata.namespace, "ns1");
    assert.match(tr.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(tr.spec, { audiences: [ISSUER], expirationSeconds: 3600, boundObjectRef: null });
    const exp = Date.parse(tr.status.expirationTimestamp) / 1000;
    assert.equal(exp - Date.parse(tr.metadata.creationTimestamp) / 1000, 3600);

    const { header, claims, raw } = decodeJwt(tr.status.token);
    assert.deepEqual(Object.keys(header), ["alg", "kid"]);
    assert.equal(header.alg, "RS256");
    assert.match(String(header.kid), /^[A-Za-z0-9_-]{43}$/, "kid: unpadded base64url SHA-256 of the public key");
    assert.deepEqual(Object.keys(claims), ["aud", "exp", "iat", "iss", "kubernetes.io", "nbf", "sub"], "go-jose writes the merged claims in key order");
    assert.deepEqual(claims.aud, [ISSUER]);
    assert.equal(claims.iss, ISSUER);
    assert.equal(claims.sub, "system:serviceaccount:ns1:robot");
    assert.deepEqual(claims["kubernetes.io"], { namespace: "ns1", serviceaccount: { name: "robot", uid: sa.metadata.uid } });
    assert.ok(Math.abs(Number(claims.iat) - t0) <= 2);
    assert.equal(claims.nbf, claims.iat);
    assert.equal(Number(claims.exp) - Number(claims.iat), 3600);
    assert.equal(Number(claims.exp), exp);
    assert.ok(raw[2]!.length > 300, "an RSA-2048 signature");
  });

  it("answers TokenRequest errors as the real server: too short, missing ServiceAccount, missing bound object", async () => {
    const short = await post("/api/v1/namespaces/ns1/serviceaccounts/robot/token", tokenRequest({ expirationSeconds: 60 }));
    assert.equal(short.status, 422);
    assert.deepEqual(short.body, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes',
      reason: "Invalid",
      details: {
        group: "authentication.k8s.io",
        kind: "TokenRequest",
        causes: [{ reason: "FieldValueInvalid", message: "Invalid value: 60: may not specify a duration less than 10 minutes", field: "spec.expirationSeconds" }],
      },
      code: 422,
    });
    const missing = await post("/api/v1/namespaces/ns1/serviceaccounts/nobody/token", tokenRequest({ expirationSeconds: 60 }));
    assert.equal(missing.status, 404, "the ServiceAccount is looked up before validation");
    assert.equal(missing.body.message, 'serviceaccounts "nobody" not found');
    assert.deepEqual(missing.body.details, { name: "nobody", kind: "serviceaccounts" });
    const unbound = await post("/api/v1/namespaces/ns1/serviceaccounts/robot/token", tokenRequest({ boundObjectRef: { kind: "Secret", apiVersion: "v1", name: "gone" } }));
    assert.equal(unbound.status, 404);
    assert.deepEqual(unbound.body.details, { name: "gone", kind: "secrets" });
    assert.equal(unbound.body.message, 'secrets "gone" not found');
    const wrongKind = await post("/api/v1/namespaces/ns1/serviceaccounts/robot/token", tokenRequest({ boundObjectRef: { kind: "ConfigMap", apiVersion: "v1", name: "x" } }));
    assert.equal(wrongKind.status, 400);
    assert.equal(wrongKind.body.message, "cannot bind token to object of type /v1, Kind=ConfigMap");
    const get = await call(api.url, "GET", "/api/v1/namespaces/ns1/serviceaccounts/robot/token", undefined, admin);
    assert.equal(get.status, 405, "the token subresource only creates");
    const devTry = await post("/api/v1/namespaces/ns1/serviceaccounts/robot/token", tokenRequest({}), dev);
    assert.equal(devTry.status, 403);
    assert.equal(devTry.body.message, 'serviceaccounts "robot" is forbidden: User "developer" cannot create resource "serviceaccounts/token" in API group "" in the namespace "ns1"');
  });

  it("authenticates API requests with issued tokens as the ServiceAccount, for the API audience only", async () => {
    const token = (await created("/api/v1/namespaces/ns1/serviceaccounts/robot/token", tokenRequest({}))).status.token as string;
    const denied = await call(api.url, "GET", "/api/v1/namespaces/ns1/pods", undefined, { token });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.message, 'pods is forbidden: User "system:serviceaccount:ns1:robot" cannot list resource "pods" in API group "" in the namespace "ns1"');
    const self = await post(`${AUTHZ}/selfsubjectaccessreviews`, ssar({ resourceAttributes: { namespace: "ns1", verb: "list", resource: "pods" } }), { token });
    assert.equal(self.status, 201);
    assert.deepEqual(self.body.status, { allowed: false });

    await created(`${RBAC}/namespaces/ns1/roles`, { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "pod-reader" }, rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }] });
    await created(`${RBAC}/namespaces/ns1/rolebindings`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "robot-reads" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pod-reader" },
      subjects: [{ kind: "ServiceAccount", name: "robot", namespace: "ns1" }],
    });
    assert.equal((await call(api.url, "GET", "/api/v1/namespaces/ns1/pods", undefined, { token })).status, 200);
    const allowed = await post(`${AUTHZ}/selfsubjectaccessreviews`, ssar({ resourceAttributes: { namespace: "ns1", verb: "list", resource: "pods" } }), { token });
    assert.deepEqual(allowed.body.status, { allowed: true, reason: 'RBAC: allowed by RoleBinding "robot-reads/ns1" of Role "pod-reader" to ServiceAccount "robot/ns1"' });
    const del = await call(api.url, "DELETE", "/api/v1/namespaces/ns1/pods/x", undefined, { token });
    assert.equal(del.status, 403);
    assert.deepEqual(del.body.details, { name: "x", kind: "pods" });

    const other = (await created("/api/v1/namespaces/ns1/serviceaccounts/robot/token", tokenRequest({ audiences: ["vault"] }))).status.token as string;
    assert.deepEqual(decodeJwt(other).claims.aud, ["vault"]);
    const wrongAud = await call(api.url, "GET", "/api/v1/namespaces/ns1/pods", undefined, { token: other });
    assert.equal(wrongAud.status, 401, "a token for another audience does not authenticate API requests");
    assert.deepEqual(wrongAud.body, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "Unauthorized", reason: "Unauthorized", code: 401 });
  });

  it("reviews tokens: valid, wrong audience, not ours, tampered, and forbids it to users without the right", async () => {
    const sa = (await call(api.url, "GET", "/api/v1/namespaces/ns1/serviceaccounts/robot", undefined, admin)).body;
    const token = (await created("/api/v1/namespaces/ns1/serviceaccounts/robot/token", tokenRequest({}))).status.token as string;
    const ok = await created(TOKENREVIEWS, tokenReview(token));
    // Never stored, yet answered with the request's field-manager entry, as the real server does.
    assert.deepEqual(takeManagedFields(ok), [{ manager: "node", operation: "Update", apiVersion: "authentication.k8s.io/v1", time: ok.__time, fieldsType: "FieldsV1", fieldsV1: { "f:spec": { "f:token": {} } } }]);
    delete ok.__time;
    assert.deepEqual(ok, {
      kind: "TokenReview",
      apiVersion: "authentication.k8s.io/v1",
      metadata: { creationTimestamp: null },
      spec: { token },
      status: {
        authenticated: true,
        user: { username: "system:serviceaccount:ns1:robot", uid: sa.metadata.uid, groups: ["system:serviceaccounts", "system:serviceaccounts:ns1", "system:authenticated"] },
        audiences: [ISSUER],
      },
    });
    const wrong = await created(TOKENREVIEWS, tokenReview(token, ["other-audience"]));
    assert.deepEqual(wrong.status, {
      user: {},
      error: `[invalid bearer token, token audiences ["${ISSUER}"] is invalid for the target audiences ["other-audience"]]`,
    });
    assert.deepEqual(wrong.spec, { token, audiences: ["other-audience"] });
    for (const bad of ["not-a-real-token", "aaaa.bbbb.cccc"]) assert.deepEqual((await created(TOKENREVIEWS, tokenReview(bad))).status, { user: {}, error: "invalid bearer token" });
    const [h, p, s] = token.split(".");
    const tampered = `${h}.${p}.${s!.slice(0, -4)}AAAA`;
    assert.equal((await created(TOKENREVIEWS, tokenReview(tampered))).status.error, "[invalid bearer token, square/go-jose: error in cryptographic primitive]");
    const staticToken = await created(TOKENREVIEWS, tokenReview("dev"));
    assert.deepEqual(staticToken.status, { authenticated: true, user: { username: "developer", groups: ["system:authenticated"] }, audiences: [ISSUER] });

    const asDev = await post(TOKENREVIEWS, tokenReview("x"), dev);
    assert.equal(asDev.status, 403);
    assert.equal(asDev.body.message, 'tokenreviews.authentication.k8s.io is forbidden: User "developer" cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope');
    assert.deepEqual(asDev.body.details, { group: "authentication.k8s.io", kind: "tokenreviews" });
    const empty = await post(TOKENREVIEWS, tokenReview(""));
    assert.equal(empty.status, 400);
    assert.equal(empty.body.message, "token is required for TokenReview in authentication");
  });

  it("invalidates tokens when the ServiceAccount or the bound Secret goes (or comes back with another uid)", async () => {
    await created("/api/v1/namespaces/ns2/serviceaccounts", { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "temp" } });
    const secret = await created("/api/v1/namespaces/ns2/secrets", { apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, stringData: { a: "b" } });
    const bound = await created("/api/v1/namespaces/ns2/serviceaccounts/temp/token", tokenRequest({ boundObjectRef: { kind: "Secret", apiVersion: "v1", name: "s" } }));
    assert.deepEqual(bound.spec.boundObjectRef, { kind: "Secret", apiVersion: "v1", name: "s" });
    assert.deepEqual((decodeJwt(bound.status.token).claims["kubernetes.io"] as { secret: unknown }).secret, { name: "s", uid: secret.metadata.uid });
    const plain = (await created("/api/v1/namespaces/ns2/serviceaccounts/temp/token", tokenRequest({}))).status.token as string;
    assert.equal((await created(TOKENREVIEWS, tokenReview(bound.status.token))).status.authenticated, true);

    assert.equal((await call(api.url, "DELETE", "/api/v1/namespaces/ns2/secrets/s", undefined, admin)).status, 200);
    assert.equal((await created(TOKENREVIEWS, tokenReview(bound.status.token))).status.error, "[invalid bearer token, service account token has been invalidated]");
    assert.equal((await created(TOKENREVIEWS, tokenReview(plain))).status.authenticated, true);

    assert.equal((await call(api.url, "DELETE", "/api/v1/namespaces/ns2/serviceaccounts/temp", undefined, admin)).status, 200);
    assert.equal((await call(api.url, "GET", "/version", undefined, { token: plain })).status, 401, "a deleted ServiceAccount's token is a bad token");
    assert.equal((await created(TOKENREVIEWS, tokenReview(plain))).status.error, '[invalid bearer token, serviceaccounts "temp" not found]');
    const again = await created("/api/v1/namespaces/ns2/serviceaccounts", { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "temp" } });
    const old = (decodeJwt(plain).claims["kubernetes.io"] as { serviceaccount: { uid: string } }).serviceaccount.uid;
    assert.equal((await created(TOKENREVIEWS, tokenReview(plain))).status.error, `[invalid bearer token, service account UID (${again.metadata.uid}) does not match claim (${old})]`);
  });

  it("binds tokens to pods: name and uid in the claims and the user's extra", async () => {
    await created("/api/v1/namespaces/ns3/serviceaccounts", { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "app" } });
    const p = await created("/api/v1/namespaces/ns3/pods", pod("web", {}, { serviceAccountName: "app" }));
    const tr = await created("/api/v1/namespaces/ns3/serviceaccounts/app/token", tokenRequest({ boundObjectRef: { kind: "Pod", apiVersion: "v1", name: "web", uid: p.metadata.uid } }));
    const review = await created(TOKENREVIEWS, tokenReview(tr.status.token));
    assert.deepEqual(review.status.user.extra, { "authentication.kubernetes.io/pod-name": ["web"], "authentication.kubernetes.io/pod-uid": [p.metadata.uid] });
    const otherSa = await post("/api/v1/namespaces/ns3/serviceaccounts", { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "b" } });
    assert.equal(otherSa.status, 201);
    const mismatch = await post("/api/v1/namespaces/ns3/serviceaccounts/b/token", tokenRequest({ boundObjectRef: { kind: "Pod", apiVersion: "v1", name: "web" } }));
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.message, 'cannot bind token for serviceaccount "b" to pod running with different serviceaccount name.');
    const staleUid = await post("/api/v1/namespaces/ns3/serviceaccounts/app/token", tokenRequest({ boundObjectRef: { kind: "Pod", apiVersion: "v1", name: "web", uid: "0000" } }));
    assert.equal(staleUid.status, 409);
    assert.match(staleUid.body.message, /^Operation cannot be fulfilled on Pod "web": the UID in the bound object reference \(0000\) does not match the UID in record/);
  });

  it("publishes the issuer's OpenID configuration and JWKS to ServiceAccounts, which verifies issued tokens", async () => {
    const token = (await created("/api/v1/namespaces/ns1/serviceaccounts/robot/token", tokenRequest({}))).status.token as string;
    const config = await call(api.url, "GET", "/.well-known/openid-configuration", undefined, { token });
    assert.equal(config.status, 200);
    assert.deepEqual(config.body, {
      issuer: ISSUER,
      jwks_uri: `${api.url}/openid/v1/jwks`,
      response_types_supported: ["id_token"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["RS256"],
    });
    const jwks = await fetch(`${api.url}/openid/v1/jwks`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(jwks.headers.get("content-type"), "application/jwk-set+json");
    const { keys } = (await jwks.json()) as { keys: Record<string, string>[] };
    assert.deepEqual(Object.keys(keys[0]!), ["use", "kty", "kid", "alg", "n", "e"]);
    assert.equal(keys[0]!.kid, decodeJwt(token).header.kid);
    const [h, p, s] = token.split(".");
    assert.ok(verify("sha256", Buffer.from(`${h}.${p}`), createPublicKey({ key: keys[0] as never, format: "jwk" }), Buffer.from(s!, "base64url")));
    assert.equal((await call(api.url, "GET", "/openid/v1/jwks", undefined, dev)).status, 403, "bound to system:serviceaccounts only");
  });

  it("expires tokens with go-jose's 60 s leeway", () => {
    const registry = new ResourceRegistry([]);
    const store = new ObjectStore(registry, { compactionWindow: 100, requireNamespaces: false });
    let now = 1_700_000_000_000;
    const tokens = new ServiceAccountTokens(store, registry, { now: () => now });
    store.create({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "x", namespace: "n" } });
    const token = tokens.request("n", "x", { spec: { expirationSeconds: 600 } }).status as { token: string };
    assert.ok("user" in tokens.authenticate(token.token)!);
    now += 660_000;
    assert.ok("user" in tokens.authenticate(token.token)!, "60 s past exp is still accepted");
    now += 2_000;
    assert.deepEqual(tokens.authenticate(token.token), { error: "service account token has expired" });
    const jwk = tokens.jwks().keys[0]!;
    const [h, p, s] = token.token.split(".");
    assert.ok(verify("sha256", Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk as never, format: "jwk" }), Buffer.from(s!, "base64url")), "the JWKS verifies the signature");
  });

  it("answers SubjectAccessReviews with RBAC's reasons, system:masters without one, and validates as the real server", async () => {
    const sa = await created(`${AUTHZ}/subjectaccessreviews`, sar({ user: "system:serviceaccount:ns1:robot", groups: ["system:serviceaccounts"], resourceAttributes: { namespace: "ns1", verb: "get", resource: "pods" } }));
    assert.deepEqual(sa.status, { allowed: true, reason: 'RBAC: allowed by RoleBinding "robot-reads/ns1" of Role "pod-reader" to ServiceAccount "robot/ns1"' });
    assert.equal(takeManagedFields(sa)[0].operation, "Update");
    delete sa.__time;
    assert.deepEqual(sa.metadata, { creationTimestamp: null });
    const masters = await created(`${AUTHZ}/subjectaccessreviews`, sar({ user: "someone", groups: ["system:masters"], resourceAttributes: { namespace: "ns1", verb: "delete", resource: "pods" } }));
    assert.deepEqual(masters.status, { allowed: true });
    const healthz = await created(`${AUTHZ}/subjectaccessreviews`, sar({ user: "developer", groups: ["system:authenticated"], nonResourceAttributes: { path: "/healthz", verb: "get" } }));
    assert.deepEqual(healthz.status, { allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"' });
    assert.deepEqual(healthz.spec, { nonResourceAttributes: { path: "/healthz", verb: "get" }, user: "developer", groups: ["system:authenticated"] });
    const denied = await created(`${AUTHZ}/subjectaccessreviews`, sar({ user: "developer", groups: ["system:authenticated"], resourceAttributes: { namespace: "ns1", verb: "get", resource: "secrets", name: "s" } }));
    assert.deepEqual(denied.status, { allowed: false });

    const noUser = await post(`${AUTHZ}/subjectaccessreviews`, sar({ resourceAttributes: { namespace: "ns1", verb: "get", resource: "pods" } }));
    assert.equal(noUser.status, 422);
    assert.deepEqual(noUser.body, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: '.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": at least one of user or group must be specified',
      reason: "Invalid",
      details: { group: "authorization.k8s.io", causes: [{ reason: "FieldValueInvalid", message: 'Invalid value: "": at least one of user or group must be specified', field: "spec.user" }] },
      code: 422,
    });
    const neither = await post(`${AUTHZ}/selfsubjectaccessreviews`, ssar({}), dev);
    assert.equal(neither.body.message, '.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified');
    const both = await post(`${AUTHZ}/selfsubjectaccessreviews`, ssar({ resourceAttributes: { verb: "get", resource: "pods" }, nonResourceAttributes: { path: "/x", verb: "get" } }), dev);
    assert.equal(both.body.message, '.authorization.k8s.io "" is invalid: spec.nonResourceAttributes: Invalid value: authorization.NonResourceAttributes{Path:"/x", Verb:"get"}: cannot be specified in combination with resourceAttributes');
    const withName = await post(`${AUTHZ}/selfsubjectaccessreviews`, { ...ssar({ resourceAttributes: { verb: "get", resource: "pods" } }), metadata: { name: "x" } }, dev);
    assert.equal(withName.status, 422);
    assert.match(withName.body.message, /metadata: Invalid value: v1\.ObjectMeta\{Name:"x", .*: must be empty$/);
    assert.equal((await post(`${AUTHZ}/subjectaccessreviews`, sar({ user: "x", resourceAttributes: {} }), dev)).status, 403, "only those allowed may ask about others");
  });

  it("answers LocalSubjectAccessReviews in their namespace", async () => {
    const path = `${AUTHZ}/namespaces/ns1/localsubjectaccessreviews`;
    const local = (spec: Record<string, unknown>) => ({ apiVersion: "authorization.k8s.io/v1", kind: "LocalSubjectAccessReview", spec });
    const ok = await created(path, local({ user: "system:serviceaccount:ns1:robot", resourceAttributes: { namespace: "ns1", verb: "watch", resource: "pods" } }));
    assert.equal(ok.status.allowed, true);
    takeManagedFields(ok);
    assert.deepEqual(ok.metadata, { namespace: "ns1", creationTimestamp: null });
    const elsewhere = await post(path, local({ user: "u", resourceAttributes: { namespace: "ns2", verb: "get", resource: "pods" } }));
    assert.equal(elsewhere.status, 422);
    assert.equal(elsewhere.body.message, '.authorization.k8s.io "" is invalid: spec.resourceAttributes.namespace: Invalid value: "ns2": must match metadata.namespace');
  });

  it("lists the user's rules in SelfSubjectRulesReview, bootstrap policy included", async () => {
    const r = await created(`${AUTHZ}/selfsubjectrulesreviews`, { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectRulesReview", spec: { namespace: "ns1" } }, dev);
    assert.deepEqual(r.metadata, { creationTimestamp: null });
    assert.deepEqual(r.spec, {}, "the answer is a new object");
    assert.deepEqual(r.status, {
      resourceRules: [{ verbs: ["create"], apiGroups: ["authorization.k8s.io"], resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"] }],
      nonResourceRules: [
        { verbs: ["get"], nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"] },
        { verbs: ["get"], nonResourceURLs: ["/healthz", "/livez", "/readyz", "/version", "/version/"] },
      ],
      incomplete: false,
    });
    const token = (await created("/api/v1/namespaces/ns1/serviceaccounts/robot/token", tokenRequest({}))).status.token as string;
    const sa = await created(`${AUTHZ}/selfsubjectrulesreviews`, { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectRulesReview", spec: { namespace: "ns1" } }, { token });
    assert.deepEqual(sa.status.resourceRules.at(-1), { verbs: ["get", "list", "watch"], apiGroups: [""], resources: ["pods"] });
    assert.ok(sa.status.nonResourceRules.some((x: { nonResourceURLs: string[] }) => x.nonResourceURLs.includes("/openid/v1/jwks")));
    const noNs = await post(`${AUTHZ}/selfsubjectrulesreviews`, { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectRulesReview", spec: {} }, dev);
    assert.equal(noNs.status, 400);
    assert.equal(noNs.body.message, "no namespace on request");
  });

  it("stores the bootstrap policy and enforces it: discovery for the authenticated, public info for all", async () => {
    const roles = (await call(api.url, "GET", `${RBAC}/clusterroles`, undefined, admin)).body.items as { metadata: { name: string; labels: Record<string, string> }; rules: unknown }[];
    const names = roles.map((r) => r.metadata.name);
    for (const n of ["cluster-admin", "system:discovery", "system:basic-user", "system:public-info-viewer"]) assert.ok(names.includes(n), n);
    const pub = roles.find((r) => r.metadata.name === "system:public-info-viewer")!;
    assert.deepEqual(pub.rules, [{ verbs: ["get"], nonResourceURLs: ["/healthz", "/livez", "/readyz", "/version", "/version/"] }]);
    assert.equal(pub.metadata.labels["kubernetes.io/bootstrapping"], "rbac-defaults");
    const binding = (await call(api.url, "GET", `${RBAC}/clusterrolebindings/system:public-info-viewer`, undefined, admin)).body;
    assert.deepEqual(
      binding.subjects.map((s: { name: string }) => s.name),
      ["system:authenticated", "system:unauthenticated"],
    );

    for (const p of ["/version", "/healthz", "/livez", "/readyz"]) assert.equal((await call(api.url, "GET", p)).status, 200, `anonymous ${p}`);
    const anonApi = await call(api.url, "GET", "/api");
    assert.equal(anonApi.status, 403);
    assert.deepEqual(anonApi.body, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: 'forbidden: User "system:anonymous" cannot get path "/api"', reason: "Forbidden", details: {}, code: 403 });
    assert.equal((await call(api.url, "GET", "/api", undefined, dev)).status, 200);
    const metrics = await call(api.url, "GET", "/metrics", undefined, dev);
    assert.equal(metrics.body.message, 'forbidden: User "developer" cannot get path "/metrics"');
    assert.equal((await call(api.url, "GET", "/version", undefined, { token: "bad" })).status, 401);
    // Only a bearer token is a credential here: another scheme, or an empty token, is anonymous.
    for (const authorization of ["Basic YTpi", "Bearer ", "Bearer  dev"]) {
      const r = await fetch(`${api.url}/api/v1/namespaces`, { headers: { authorization } });
      assert.equal(r.status, 403, authorization);
      assert.match(((await r.json()) as { message: string }).message, /User "system:anonymous"/);
    }
    const anonNs = await call(api.url, "GET", "/api/v1/namespaces");
    assert.equal(anonNs.body.message, 'namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" in API group "" at the cluster scope');
  });

  it("authorizes a namespace's own object in that namespace, and appends resolution errors to 403s", async () => {
    await created("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "ns1" } });
    const ns = await call(api.url, "GET", "/api/v1/namespaces/ns1", undefined, dev);
    assert.equal(ns.status, 403);
    assert.equal(ns.body.message, 'namespaces "ns1" is forbidden: User "developer" cannot get resource "namespaces" in API group "" in the namespace "ns1"');
    await created(`${RBAC}/namespaces/ns1/roles`, { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "ns-viewer" }, rules: [{ apiGroups: [""], resources: ["namespaces"], verbs: ["get"] }] });
    await created(`${RBAC}/namespaces/ns1/rolebindings`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "dev-ns" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "ns-viewer" },
      subjects: [{ kind: "User", name: "developer", apiGroup: "rbac.authorization.k8s.io" }],
    });
    assert.equal((await call(api.url, "GET", "/api/v1/namespaces/ns1", undefined, dev)).status, 200, "a RoleBinding in ns1 grants reading namespace ns1");
    assert.equal((await call(api.url, "GET", "/api/v1/namespaces/ns2", undefined, dev)).status, 403);

    await created(`${RBAC}/namespaces/ns1/rolebindings`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "dangling" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "no-such-role" },
      subjects: [{ kind: "User", name: "developer", apiGroup: "rbac.authorization.k8s.io" }],
    });
    const denied = await call(api.url, "GET", "/api/v1/namespaces/ns1/secrets", undefined, dev);
    assert.equal(denied.body.message, 'secrets is forbidden: User "developer" cannot list resource "secrets" in API group "" in the namespace "ns1": RBAC: role.rbac.authorization.k8s.io "no-such-role" not found');
    const review = await created(`${AUTHZ}/subjectaccessreviews`, sar({ user: "developer", resourceAttributes: { namespace: "ns1", verb: "list", resource: "secrets" } }));
    assert.deepEqual(review.status, { allowed: false, reason: 'RBAC: role.rbac.authorization.k8s.io "no-such-role" not found' });
    assert.equal((await call(api.url, "DELETE", `${RBAC}/namespaces/ns1/rolebindings/dangling`, undefined, admin)).status, 200);
  });

  it("prevents RBAC escalation: roles grant only what their author holds, bindings need the role or `bind`", async () => {
    const forbidden = await post(`${RBAC}/namespaces/esc/roles`, { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "r" }, rules: [] }, dev);
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.body.message, 'roles.rbac.authorization.k8s.io is forbidden: User "developer" cannot create resource "roles" in API group "rbac.authorization.k8s.io" in the namespace "esc"');

    await created(`${RBAC}/namespaces/esc/roles`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "rbac-editor" },
      rules: [
        { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles", "rolebindings"], verbs: ["create", "update", "patch"] },
        { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] },
      ],
    });
    await created(`${RBAC}/namespaces/esc/rolebindings`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "dev-rbac" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "rbac-editor" },
      subjects: [{ kind: "User", name: "developer" }],
    });
    const role = (name: string, rules: unknown[]) => ({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name }, rules });
    assert.equal((await post(`${RBAC}/namespaces/esc/roles`, role("subset", [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }]), dev)).status, 201);
    const esc = await post(`${RBAC}/namespaces/esc/roles`, role("more", [{ apiGroups: [""], resources: ["pods", "secrets"], verbs: ["get", "delete"] }]), dev);
    assert.equal(esc.status, 403);
    assert.deepEqual(esc.body, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message:
        'roles.rbac.authorization.k8s.io "more" is forbidden: user "developer" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n' +
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}',
      reason: "Forbidden",
      details: { name: "more", group: "rbac.authorization.k8s.io", kind: "roles" },
      code: 403,
    });
    const grow = await call(api.url, "PATCH", `${RBAC}/namespaces/esc/roles/subset`, { rules: [{ apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"] }] }, { ...dev, contentType: "application/merge-patch+json" });
    assert.equal(grow.status, 403, "a patch is checked as an update");
    assert.match(grow.body.message, /attempting to grant RBAC permissions not currently held:\n\{APIGroups:\["apps"\], Resources:\["deployments"\], Verbs:\["get"\]\}$/);

    const binding = (name: string, roleRef: Record<string, string>) => ({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name }, roleRef, subjects: [{ kind: "User", name: "someone" }] });
    assert.equal((await post(`${RBAC}/namespaces/esc/rolebindings`, binding("ok", { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "subset" }), dev)).status, 201, "binding a role one holds");
    const admin2 = await post(`${RBAC}/namespaces/esc/rolebindings`, binding("nope", { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" }), dev);
    assert.equal(admin2.status, 403);
    assert.match(admin2.body.message, /^rolebindings\.rbac\.authorization\.k8s\.io "nope" is forbidden: user "developer" \(groups=\["system:authenticated"\]\) is attempting to grant RBAC permissions not currently held:\n/);
    const dangling = await post(`${RBAC}/namespaces/esc/rolebindings`, binding("dangling", { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "missing" }), dev);
    assert.equal(dangling.body.message, 'rolebindings.rbac.authorization.k8s.io "dangling" is forbidden: role.rbac.authorization.k8s.io "missing" not found');

    // The `bind` verb on a role lets one bind it without holding it.
    await created(`${RBAC}/namespaces/esc/roles`, role("binder", [{ apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles"], verbs: ["bind"], resourceNames: ["cluster-admin"] }]));
    await created(`${RBAC}/namespaces/esc/rolebindings`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "dev-binder" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "binder" },
      subjects: [{ kind: "User", name: "developer" }],
    });
    assert.equal((await post(`${RBAC}/namespaces/esc/rolebindings`, binding("nope", { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" }), dev)).status, 201);
  });

  it("answers reviews from everyone's view when authorization is allow-all", async () => {
    const open = await startTestApiServer({});
    try {
      const r = await call(open.url, "POST", `${AUTHZ}/selfsubjectaccessreviews`, ssar({ resourceAttributes: { verb: "delete", resource: "nodes" } }));
      assert.deepEqual(r.body.status, { allowed: true });
      const rules = await call(open.url, "POST", `${AUTHZ}/selfsubjectrulesreviews`, { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectRulesReview", spec: { namespace: "x" } });
      assert.deepEqual(rules.body.status.resourceRules, [{ verbs: ["*"], apiGroups: ["*"], resources: ["*"] }]);
    } finally {
      await open.close();
    }
  });
});
