// Discovery and the other non-resource documents of kube-apiserver v1.25, driven by the resource
// table (resources.ts, plus the resources of installed CRDs):
// - `/api` (APIVersions; serverAddressByClientCIDRs names this server's own address), `/api/v1`
//   and `/apis/<group>/<version>` (APIResourceList: singularName "" for built-ins, verbs,
//   shortNames, categories, storageVersionHash, subresources such as `pods/status`,
//   `deployments/scale` (autoscaling/v1 Scale), `pods/eviction` (policy/v1 Eviction)), `/apis`
//   (APIGroupList, groups in the aggregator's priority order, preferred version first) and
//   `/apis/<group>` (APIGroup). The core APIResourceList has no apiVersion, as the real one.
// - storageVersionHash: base64 of the first 8 bytes of sha256("<group>/<version>/<Kind>") of the
//   version the resource is stored in (k8s.io/apiserver/pkg/endpoints/discovery.StorageVersionHash);
//   events.k8s.io Events are stored as core v1 Events and share their hash.
// - Resources that exist only as endpoints (bindings, componentstatuses, tokenreviews, local/
//   selfsubjectrulesreviews) are listed as the real server lists them.
// - `/version` (configurable: the conformance server claims the recorded v1.25 build),
//   `/openapi/v2` (the recorded v1.25 document, gzip when accepted), `/openapi/v3` (the root:
//   one path per group/version with a hash, as text/plain like the real one).
// - A path no handler serves gets the mux's text/plain `404 page not found`; a path under a web
//   service the real server has (`/api…`, `/version…`, `/apis/<built-in group>…`) gets the JSON
//   404 `the server could not find the requested resource` with empty details.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { OPENAPI_FILE } from "./openapi.js";
import { plainTextStatus } from "./representation.js";
import { isBuiltinGroup, type ResourceInfo, type ResourceRegistry } from "./resources.js";
import { ApiError, errors, statusObject } from "./status.js";

export interface VersionInfo {
  major: string;
  minor: string;
  gitVersion: string;
  gitCommit: string;
  gitTreeState: string;
  buildDate: string;
  goVersion: string;
  compiler: string;
  platform: string;
}

/** What `/version` says unless the server is told otherwise. */
export const DEFAULT_VERSION: VersionInfo = {
  major: "1",
  minor: "25",
  gitVersion: "v1.25.0",
  gitCommit: "a866cbe2e5bbaa01cfd5e969aa3e033f3282a8a2",
  gitTreeState: "clean",
  buildDate: "2022-08-23T17:38:15Z",
  goVersion: "go1.19",
  compiler: "gc",
  platform: "linux/amd64",
};

/** The build the recording was made against (recorded-v1.25/README.md, `GET /version`). */
export const RECORDED_VERSION: VersionInfo = {
  major: "1",
  minor: "25",
  gitVersion: "v1.25.0-rc.0+fAce-coder.c603f13c",
  gitCommit: "9d577d8a29893062dfbd669997396dbd01ab0e47",
  gitTreeState: "",
  buildDate: "1970-01-01T00:00:00Z",
  goVersion: "go1.19.8",
  compiler: "gc",
  platform: "linux/amd64",
};

export function versionInfo(v: Partial<VersionInfo> = {}): VersionInfo {
  return { ...DEFAULT_VERSION, ...v };
}

const ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
/** The order the apiextensions-apiserver lists a custom resource's verbs in. */
const CR_VERBS = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"];
const STATUS_VERBS = ["get", "patch", "update"];
const CONNECT_GET = ["create", "get"];
const PROXY_VERBS = ["create", "delete", "get", "patch", "update"];

interface SubresourceSpec {
  name: string;
  kind?: string;
  group?: string;
  version?: string;
  verbs: string[];
}

interface Decoration {
  verbs?: string[];
  categories?: string[];
  subresources?: SubresourceSpec[];
  /** The group/version objects are stored in, when not the resource's own. */
  storage?: string;
}

const status: SubresourceSpec = { name: "status", verbs: STATUS_VERBS };
const scale: SubresourceSpec = { name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: STATUS_VERBS };
const ALL = ["all"];
const API_EXTENSIONS = ["api-extensions"];

/** Per "<group>/<resource>": what discovery says beyond the resource table. */
const DECORATIONS: Record<string, Decoration> = {
  "/pods": {
    categories: ALL,
    subresources: [
      { name: "attach", kind: "PodAttachOptions", verbs: CONNECT_GET },
      { name: "binding", kind: "Binding", verbs: ["create"] },
      { name: "ephemeralcontainers", verbs: STATUS_VERBS },
      { name: "eviction", group: "policy", version: "v1", kind: "Eviction", verbs: ["create"] },
      { name: "exec", kind: "PodExecOptions", verbs: CONNECT_GET },
      { name: "log", verbs: ["get"] },
      { name: "portforward", kind: "PodPortForwardOptions", verbs: CONNECT_GET },
      { name: "proxy", kind: "PodProxyOptions", verbs: PROXY_VERBS },
      status,
    ],
  },
  "/namespaces": {
    verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    subresources: [{ name: "finalize", verbs: ["update"] }, status],
  },
  "/nodes": { subresources: [{ name: "proxy", kind: "NodeProxyOptions", verbs: PROXY_VERBS }, status] },
  "/services": { categories: ALL, subresources: [{ name: "proxy", kind: "ServiceProxyOptions", verbs: PROXY_VERBS }, status] },
  "/replicationcontrollers": { categories: ALL, subresources: [scale, status] },
  "/resourcequotas": { subresources: [status] },
  "/persistentvolumes": { subresources: [status] },
  "/persistentvolumeclaims": { subresources: [status] },
  "/serviceaccounts": { subresources: [{ name: "token", group: "authentication.k8s.io", version: "v1", kind: "TokenRequest", verbs: ["create"] }] },
  "/bindings": { verbs: ["create"] },
  "/componentstatuses": { verbs: ["get", "list"] },
  "apps/deployments": { categories: ALL, subresources: [scale, status] },
  "apps/replicasets": { categories: ALL, subresources: [scale, status] },
  "apps/statefulsets": { categories: ALL, subresources: [scale, status] },
  "apps/daemonsets": { categories: ALL, subresources: [status] },
  "batch/jobs": { categories: ALL, subresources: [status] },
  "batch/cronjobs": { categories: ALL, subresources: [status] },
  "autoscaling/horizontalpodautoscalers": { categories: ALL, subresources: [status], storage: "autoscaling/v2" },
  "policy/poddisruptionbudgets": { subresources: [status] },
  "networking.k8s.io/ingresses": { subresources: [status] },
  "networking.k8s.io/networkpolicies": { subresources: [status] },
  "storage.k8s.io/volumeattachments": { subresources: [status] },
  "storage.k8s.io/csistoragecapacities": { storage: "storage.k8s.io/v1" },
  "certificates.k8s.io/certificatesigningrequests": { subresources: [{ name: "approval", verbs: STATUS_VERBS }, status] },
  "flowcontrol.apiserver.k8s.io/flowschemas": { subresources: [status], storage: "flowcontrol.apiserver.k8s.io/v1beta2" },
  "flowcontrol.apiserver.k8s.io/prioritylevelconfigurations": { subresources: [status], storage: "flowcontrol.apiserver.k8s.io/v1beta2" },
  "apiextensions.k8s.io/customresourcedefinitions": { categories: API_EXTENSIONS, subresources: [status] },
  "apiregistration.k8s.io/apiservices": { categories: API_EXTENSIONS, subresources: [status] },
  "admissionregistration.k8s.io/mutatingwebhookconfigurations": { categories: API_EXTENSIONS },
  "admissionregistration.k8s.io/validatingwebhookconfigurations": { categories: API_EXTENSIONS },
  "events.k8s.io/events": { storage: "v1" },
  "authentication.k8s.io/tokenreviews": { verbs: ["create"] },
  "authorization.k8s.io/localsubjectaccessreviews": { verbs: ["create"] },
  "authorization.k8s.io/selfsubjectaccessreviews": { verbs: ["create"] },
  "authorization.k8s.io/selfsubjectrulesreviews": { verbs: ["create"] },
  "authorization.k8s.io/subjectaccessreviews": { verbs: ["create"] },
};

/** Served only as endpoints (never stored): listed even when the resource table lacks them. */
const ENDPOINT_ONLY: { group: string; version: string; resource: string; kind: string; namespaced: boolean; shortNames?: string[] }[] = [
  { group: "", version: "v1", resource: "bindings", kind: "Binding", namespaced: true },
  { group: "", version: "v1", resource: "componentstatuses", kind: "ComponentStatus", namespaced: false, shortNames: ["cs"] },
  { group: "authentication.k8s.io", version: "v1", resource: "tokenreviews", kind: "TokenReview", namespaced: false },
  { group: "authorization.k8s.io", version: "v1", resource: "localsubjectaccessreviews", kind: "LocalSubjectAccessReview", namespaced: true },
  { group: "authorization.k8s.io", version: "v1", resource: "selfsubjectaccessreviews", kind: "SelfSubjectAccessReview", namespaced: false },
  { group: "authorization.k8s.io", version: "v1", resource: "selfsubjectrulesreviews", kind: "SelfSubjectRulesReview", namespaced: false },
  { group: "authorization.k8s.io", version: "v1", resource: "subjectaccessreviews", kind: "SubjectAccessReview", namespaced: false },
];
const NOT_STORED = new Set(ENDPOINT_ONLY.map((e) => `${e.group}/${e.resource}`));

/** The aggregator's order of the built-in groups in /apis (recorded), and their versions' order. */
const GROUP_ORDER = [
  "apiregistration.k8s.io",
  "apps",
  "events.k8s.io",
  "authentication.k8s.io",
  "authorization.k8s.io",
  "autoscaling",
  "batch",
  "certificates.k8s.io",
  "networking.k8s.io",
  "policy",
  "rbac.authorization.k8s.io",
  "storage.k8s.io",
  "admissionregistration.k8s.io",
  "apiextensions.k8s.io",
  "scheduling.k8s.io",
  "coordination.k8s.io",
  "node.k8s.io",
  "discovery.k8s.io",
  "flowcontrol.apiserver.k8s.io",
];
const VERSION_ORDER: Record<string, string[]> = {
  autoscaling: ["v2", "v1", "v2beta2"],
  "storage.k8s.io": ["v1", "v1beta1"],
  "flowcontrol.apiserver.k8s.io": ["v1beta2", "v1beta1"],
};

/** discovery.StorageVersionHash. */
export function storageVersionHash(group: string, version: string, kind: string): string {
  return createHash("sha256").update(`${group}/${version}/${kind}`).digest().subarray(0, 8).toString("base64");
}

/** version.CompareKubeAwareVersionStrings order, highest first: v2 > v1 > v2beta1 > v1beta2 > v1alpha1 > other. */
export function compareKubeAwareVersions(a: string, b: string): number {
  const parse = (v: string): [number, number, number] | undefined => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return undefined;
    return [m[2] === undefined ? 3 : m[2] === "beta" ? 2 : 1, Number(m[1]), Number(m[3] ?? 0)];
  };
  const pa = parse(a);
  const pb = parse(b);
  if (!pa && !pb) return a < b ? -1 : a > b ? 1 : 0;
  if (!pa) return 1;
  if (!pb) return -1;
  if (pa[0] !== pb[0]) return pb[0] - pa[0];
  if (pa[1] !== pb[1]) return pb[1] - pa[1];
  return pb[2] - pa[2];
}

let openApiV2: { gz: Buffer; json?: Buffer } | undefined;

export class Discovery {
  constructor(
    private readonly registry: ResourceRegistry,
    private readonly version: VersionInfo,
    private readonly serverUrl: () => string,
  ) {}

  /** Served groups (not the core one) with their versions, in /apis order. */
  groups(): [string, string[]][] {
    const found = new Map<string, Set<string>>();
    for (const r of this.registry.all()) {
      if (r.group === "") continue;
      const vs = found.get(r.group) ?? new Set<string>();
      vs.add(r.version);
      found.set(r.group, vs);
    }
    const rank = (g: string) => {
      const i = GROUP_ORDER.indexOf(g);
      return i < 0 ? GROUP_ORDER.length : i;
    };
    return [...found.entries()]
      .sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
      .map(([g, vs]) => {
        const order = VERSION_ORDER[g];
        const list = [...vs].sort((a, b) => {
          if (order && order.includes(a) && order.includes(b)) return order.indexOf(a) - order.indexOf(b);
          return compareKubeAwareVersions(a, b);
        });
        return [g, list];
      });
  }

  private servesGroup(group: string): boolean {
    return this.registry.all().some((r) => r.group === group);
  }

  private apiGroup(name: string, versions: string[]): Record<string, unknown> {
    const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
    return { name, versions: vs, preferredVersion: vs[0] };
  }

  /** The APIResourceList of one group/version; undefined when it is not served. */
  resourceList(group: string, version: string): Record<string, unknown> | undefined {
    const infos = this.registry.all().filter((r) => r.group === group && r.version === version);
    if (infos.length === 0) return undefined;
    const entries: Record<string, unknown>[] = [];
    const seen = new Set(infos.map((r) => r.resource));
    for (const r of infos) entries.push(...this.entriesFor(r));
    // Built-in endpoints the table does not serve are still listed, as the real server lists them.
    if (isBuiltinGroup(group))
      for (const e of ENDPOINT_ONLY)
        if (e.group === group && e.version === version && !seen.has(e.resource))
          entries.push(
            ...this.entriesFor({ ...e, listKind: `${e.kind}List`, singular: "", generation: false, statusSubresource: false, nameRule: "subdomain", fields: [] }),
          );
    entries.sort((a, b) => (String(a.name) < String(b.name) ? -1 : String(a.name) > String(b.name) ? 1 : 0));
    const list: Record<string, unknown> = { kind: "APIResourceList" };
    if (group !== "") list.apiVersion = "v1";
    list.groupVersion = group === "" ? version : `${group}/${version}`;
    list.resources = entries;
    return list;
  }

  private entriesFor(r: ResourceInfo): Record<string, unknown>[] {
    const crd = r.crd;
    const key = `${r.group}/${r.resource}`;
    const d: Decoration = crd ? {} : (DECORATIONS[key] ?? {});
    const out: Record<string, unknown>[] = [];
    const main: Record<string, unknown> = {
      name: r.resource,
      singularName: crd ? r.singular : "",
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: crd ? CR_VERBS : (d.verbs ?? ALL_VERBS),
    };
    if (r.shortNames && r.shortNames.length > 0) main.shortNames = r.shortNames;
    const categories = crd ? crd.categories : d.categories;
    if (categories && categories.length > 0) main.categories = categories;
    if (!NOT_STORED.has(key)) {
      const [sg, sv] = splitGv(crd ? this.crdStorageVersion(r) : (d.storage ?? (r.group === "" ? r.version : `${r.group}/${r.version}`)));
      main.storageVersionHash = storageVersionHash(sg, sv, r.kind);
    }
    out.push(main);
    const subs: SubresourceSpec[] = crd ? [...(crd.scale ? [scale] : []), ...(r.statusSubresource ? [status] : [])] : (d.subresources ?? (r.statusSubresource ? [status] : []));
    for (const s of subs) {
      const e: Record<string, unknown> = { name: `${r.resource}/${s.name}`, singularName: "", namespaced: r.namespaced };
      if (s.group !== undefined) {
        e.group = s.group;
        e.version = s.version;
      }
      e.kind = s.kind ?? r.kind;
      e.verbs = s.verbs;
      out.push(e);
    }
    return out;
  }

  private crdStorageVersion(r: ResourceInfo): string {
    const stored = this.registry.all().find((o) => o.group === r.group && o.resource === r.resource && o.crd?.storage);
    return `${r.group}/${stored?.version ?? r.version}`;
  }

  /** The discovery or version document at `path`, or undefined. */
  document(path: string): { body: unknown; contentType?: string } | undefined {
    const segs = path.split("/").filter(Boolean);
    if (path === "/version") return { body: this.version };
    if (path === "/api") {
      const host = new URL(this.serverUrl()).host;
      return { body: { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: host }] } };
    }
    if (path === "/apis") return { body: { kind: "APIGroupList", apiVersion: "v1", groups: this.groups().map(([g, vs]) => this.apiGroup(g, vs)) } };
    if (segs[0] === "api" && segs.length === 2) {
      const list = this.resourceList("", segs[1]!);
      return list && { body: list };
    }
    if (segs[0] === "apis" && segs.length === 2) {
      const found = this.groups().find(([g]) => g === segs[1]);
      return found && { body: { kind: "APIGroup", apiVersion: "v1", ...this.apiGroup(found[0], found[1]) } };
    }
    if (segs[0] === "apis" && segs.length === 3) {
      const list = this.resourceList(segs[1]!, segs[2]!);
      return list && { body: list };
    }
    if (path === "/") return { body: { paths: this.paths() } };
    if (path === "/openapi/v3") return { body: JSON.stringify({ paths: this.openApiV3Paths() }), contentType: "text/plain; charset=utf-8" };
    return undefined;
  }

  private paths(): string[] {
    const out = ["/api", "/api/v1", "/apis", "/apis/"];
    for (const [g, vs] of this.groups()) {
      out.push(`/apis/${g}`);
      for (const v of vs) out.push(`/apis/${g}/${v}`);
    }
    out.push("/healthz", "/livez", "/openapi/v2", "/openapi/v3", "/openapi/v3/", "/readyz", "/version");
    return out.sort();
  }

  /**
   * The /openapi/v3 root: one entry per group and group/version with a content hash (the real one
   * hashes each spec; here the group/version's discovery document stands in for it).
   */
  private openApiV3Paths(): Record<string, { serverRelativeURL: string }> {
    const keys = ["api", "api/v1", "apis", ".well-known/openid-configuration", "logs", "openid/v1/jwks", "version"];
    for (const [g, vs] of this.groups()) {
      // The aggregator's own group has no OpenAPI v3 document in v1.25.
      if (g === "apiregistration.k8s.io") continue;
      if (isBuiltinGroup(g)) keys.push(`apis/${g}`);
      for (const v of vs) keys.push(`apis/${g}/${v}`);
    }
    const out: Record<string, { serverRelativeURL: string }> = {};
    for (const k of keys.sort()) {
      const hash = createHash("sha512").update(JSON.stringify(this.document(`/${k}`)?.body ?? k)).digest("hex").toUpperCase();
      out[k] = { serverRelativeURL: `/openapi/v3/${k}?hash=${hash}` };
    }
    return out;
  }

  /** `GET /openapi/v2`: the recorded v1.25 document (gzip-encoded when the client accepts it). */
  openApiV2(acceptEncoding: string | undefined): { body: Buffer; gzip: boolean } | undefined {
    if (!openApiV2) {
      if (!existsSync(OPENAPI_FILE)) return undefined;
      openApiV2 = { gz: readFileSync(OPENAPI_FILE) };
    }
    if (/\bgzip\b/.test(acceptEncoding ?? "")) return { body: openApiV2.gz, gzip: true };
    openApiV2.json ??= gunzipSync(openApiV2.gz);
    return { body: openApiV2.json, gzip: false };
  }

  /**
   * The 404 for a path nothing serves: JSON when it falls under one of the real server's web
   * services (`/api`, `/version`, `/apis/<served built-in group>`), else the mux's text/plain.
   */
  notFound(path: string): ApiError {
    const segs = path.split("/").filter(Boolean);
    const restful =
      segs[0] === "api" || segs[0] === "version" || (segs[0] === "apis" && segs.length >= 2 && isBuiltinGroup(segs[1]!) && this.servesGroup(segs[1]!));
    if (restful) return errors.notFoundPath();
    return new ApiError(plainTextStatus(statusObject(404, "NotFound", "404 page not found"), "404 page not found\n"));
  }
}

function splitGv(gv: string): [string, string] {
  const i = gv.indexOf("/");
  return i < 0 ? ["", gv] : [gv.slice(0, i), gv.slice(i + 1)];
}
