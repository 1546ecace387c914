import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { RECORDED_VERSION, startTestApiServer, type TestApiServer } from "./kube-apiserver/index.js";
import { recordedExchange } from "./kube-apiserver/recordings.js";
import { humanDuration } from "./kube-apiserver/tables.js";
import { storageVersionHash } from "./kube-apiserver/discovery.js";
import { parseYaml, toYaml } from "./kube-apiserver/representation.js";
import { call, deployment, pod } from "./kube-apiserver/test-helpers.js";

const TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io";
const KUBECTL_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
const NS = "rec";

function cm(name: string, data: Record<string, string> = {}, labels: Record<string, string> = {}): Record<string, unknown> {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, labels }, data };
}

/** Reads a watch until `frames` frames arrived (or the stream ended), then closes it. */
function watchFrames(url: string, accept: string, frames: number, during?: () => Promise<void>): Promise<{ status: number; contentType?: string; frames: Record<string, unknown>[] }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept } }, (res) => {
      const out: Record<string, unknown>[] = [];
      let buf = "";
      const done = () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, contentType: res.headers["content-type"], frames: out });
      };
      res.on("data", (c: Buffer) => {
        buf += c.toString("utf8");
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) out.push(JSON.parse(line) as Record<string, unknown>);
          if (out.length >= frames) done();
        }
      });
      res.on("end", () => {
        if (buf.trim() && res.statusCode !== 200) out.push(JSON.parse(buf) as Record<string, unknown>);
        done();
      });
      if (res.statusCode === 200 && during) setTimeout(() => void during().catch(reject), 50);
    });
    req.on("error", (err) => ((err as NodeJS.ErrnoException).code === "ECONNRESET" ? undefined : reject(err)));
    req.end();
  });
}

describe("test API server: representations, discovery, events, deprecations", () => {
  let api: TestApiServer;
  before(async () => {
    api = await startTestApiServer();
    await call(api.url, "POST", `/api/v1/namespaces/${NS}/configmaps`, cm("cm-a", { i: "1" }, { set: "x" }));
    await call(api.url, "POST", `/api/v1/namespaces/${NS}/configmaps`, cm("cm-b", { i: "2", j: "3" }, { set: "x" }));
    await call(api.url, "POST", `/api/v1/namespaces/${NS}/pods`, pod("p1", { app: "table" }));
    await call(api.url, "POST", `/apis/apps/v1/namespaces/${NS}/deployments`, deployment("web"));
  });
  after(() => api.close());

  describe("discovery", () => {
    it("serves /api/v1, /apis/apps, /apis/apps/v1, coordination and events.k8s.io exactly as recorded", async () => {
      for (const id of ["discovery/api-v1", "discovery/apis-apps", "discovery/apis-apps-v1", "discovery/apis-coordination-v1", "discovery/apis-events-v1"]) {
        const x = recordedExchange(id);
        const r = await call(api.url, "GET", x.request.path);
        assert.equal(r.status, 200, id);
        assert.equal(r.headers.get("content-type"), "application/json");
        assert.deepEqual(r.body, x.response.body, id);
        // Field order too (the core list has no apiVersion at all).
        assert.equal(JSON.stringify(r.body), JSON.stringify(x.response.body), id);
      }
    });

    it("lists the groups in the aggregator's order with the preferred version first (the recorded CRD group apart)", async () => {
      const x = recordedExchange("discovery/apis");
      const r = await call(api.url, "GET", "/apis");
      const recorded = (x.response.body as { groups: { name: string }[] }).groups.filter((g) => g.name !== "monitoring.coreos.com");
      assert.deepEqual(r.body.groups, recorded);
    });

    it("computes storageVersionHash from the storage group/version/kind (events.k8s.io shares core's)", () => {
      assert.equal(storageVersionHash("", "v1", "ConfigMap"), "qFsyl6wFWjQ=");
      assert.equal(storageVersionHash("apps", "v1", "Deployment"), "8aSe+NMegvE=");
      assert.equal(storageVersionHash("", "v1", "Event"), "r2yiGXH7wu8=");
    });

    it("advertises its own address in /api, and lists CRD resources with their verbs", async () => {
      const r = await call(api.url, "GET", "/api");
      assert.deepEqual(r.body, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: new URL(api.url).host }] });
      const crd = {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: "widgets.example.com" },
        spec: {
          group: "example.com",
          scope: "Namespaced",
          names: { plural: "widgets", singular: "widget", kind: "Widget", categories: ["all"] },
          versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } }, subresources: { status: {} } }],
        },
      };
      assert.equal((await call(api.url, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)).status, 201);
      const list = await call(api.url, "GET", "/apis/example.com/v1");
      assert.deepEqual(list.body.resources, [
        {
          name: "widgets",
          singularName: "widget",
          namespaced: true,
          kind: "Widget",
          verbs: ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"],
          categories: ["all"],
          storageVersionHash: storageVersionHash("example.com", "v1", "Widget"),
        },
        { name: "widgets/status", singularName: "", namespaced: true, kind: "Widget", verbs: ["get", "patch", "update"] },
      ]);
      const groups = (await call(api.url, "GET", "/apis")).body.groups as { name: string }[];
      assert.equal(groups.at(-1)!.name, "example.com");
    });

    it("answers /version with the configured build; the default is v1.25.0", async () => {
      assert.equal((await call(api.url, "GET", "/version")).body.gitVersion, "v1.25.0");
      const rec = await startTestApiServer({ kubernetesVersion: RECORDED_VERSION });
      try {
        const x = recordedExchange("discovery/version");
        assert.deepEqual((await call(rec.url, "GET", "/version")).body, x.response.body);
      } finally {
        await rec.close();
      }
    });

    it("404s: text/plain from the mux, JSON under the real web services (removed versions included)", async () => {
      for (const path of ["/no/such/path", "/apis/nonexistent.example.com/v1", "/apis/example.org/v1/namespaces/x/widgets"]) {
        const r = await call(api.url, "GET", path);
        assert.equal(r.status, 404, path);
        assert.equal(r.headers.get("content-type"), "text/plain; charset=utf-8", path);
        assert.equal(r.body, "404 page not found\n", path);
      }
      for (const path of [`/apis/policy/v1beta1/namespaces/${NS}/poddisruptionbudgets`, `/api/v1/namespaces/${NS}/foos`, "/apis/batch/v1beta1/cronjobs", "/api/v2"]) {
        const r = await call(api.url, "GET", path);
        assert.equal(r.status, 404, path);
        assert.deepEqual(r.body, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "the server could not find the requested resource", reason: "NotFound", details: {}, code: 404 }, path);
      }
    });

    it("serves /openapi/v2 (the recorded document) and the /openapi/v3 root as text/plain", async () => {
      const v2 = await call(api.url, "GET", "/openapi/v2");
      assert.equal(v2.status, 200);
      assert.equal(v2.body.swagger, "2.0");
      assert.ok(v2.body.definitions["io.k8s.api.core.v1.Pod"]);
      const v3 = await call(api.url, "GET", "/openapi/v3");
      assert.equal(v3.headers.get("content-type"), "text/plain; charset=utf-8");
      const paths = Object.keys(v3.body.paths);
      assert.ok(paths.includes("api/v1") && paths.includes("apis/apps/v1") && paths.includes("apis/autoscaling/v2beta2"));
      assert.match(v3.body.paths["api/v1"].serverRelativeURL, /^\/openapi\/v3\/api\/v1\?hash=[0-9A-F]{128}$/);
    });
  });

  describe("content negotiation", () => {
    it("406 for an Accept the route does not produce, with the recorded message", async () => {
      const x = recordedExchange("format/unsupported-accept");
      const r = await call(api.url, "GET", `/api/v1/namespaces/${NS}/configmaps/cm-a`, undefined, { headers: { accept: "text/html" } });
      assert.equal(r.status, 406);
      assert.deepEqual(r.body, x.response.body);
      const list = await call(api.url, "GET", `/api/v1/namespaces/${NS}/configmaps`, undefined, { headers: { accept: "text/html" } });
      assert.match(list.body.message, /application\/json;stream=watch, application\/vnd.kubernetes.protobuf;stream=watch$/);
      // A parameter the server does not know falls back to plain JSON, never a 406.
      const odd = await call(api.url, "GET", `/api/v1/namespaces/${NS}/configmaps/cm-a`, undefined, { headers: { accept: "application/json;as=Foo;v=v1;g=meta.k8s.io" } });
      assert.equal(odd.body.kind, "ConfigMap");
    });

    it("writes YAML as sigs.k8s.io/yaml does, reads YAML bodies, and negotiates errors too", async () => {
      const r = await call(api.url, "GET", `/api/v1/namespaces/${NS}/configmaps/cm-a`, undefined, { headers: { accept: "application/yaml" } });
      assert.equal(r.headers.get("content-type"), "application/yaml");
      const obj = parseYaml(r.body as string) as { metadata: { name: string; resourceVersion: string } };
      assert.equal(obj.metadata.name, "cm-a");
      assert.match(r.body as string, /^apiVersion: v1\ndata:\n {2}i: "1"\nkind: ConfigMap\nmetadata:\n {2}creationTimestamp: "\d{4}-/);
      assert.match(r.body as string, new RegExp(`\n {2}resourceVersion: "${obj.metadata.resourceVersion}"\n`));
      const missing = await call(api.url, "GET", `/api/v1/namespaces/${NS}/configmaps/nope`, undefined, { headers: { accept: "application/yaml" } });
      assert.equal(missing.status, 404);
      assert.match(missing.body as string, /^apiVersion: v1\ncode: 404\ndetails:\n {2}kind: configmaps\n {2}name: nope\nkind: Status\nmessage: configmaps "nope" not found\n/);
      const x = recordedExchange("format/yaml-create");
      const c = await call(api.url, "POST", `/api/v1/namespaces/${NS}/configmaps`, undefined, { raw: x.request.body as string, contentType: "application/yaml" });
      assert.equal(c.status, 201);
      assert.deepEqual(c.body.data, { a: "1" });
      // YAML 1.1 as go-yaml v2 reads it: `on` is a boolean, timestamps stay strings, "." a string.
      assert.deepEqual(parseYaml("a: on\nb: 2026-12-07T11:43:14Z\n.: x\nc: 12:30\n"), { a: true, b: "2026-12-07T11:43:14Z", ".": "x", c: "12:30" });
    });

    it("YAML output: key order, quoting, folding and blocks as go-yaml v2", () => {
      assert.equal(
        toYaml({ b: "a: b", a: "1", "key 10": [], "key 9": {}, c: ["x", { y: null }], d: "line1\nline2\n", e: "it's #1", f: "", g: true, h: 1.5, i: "yes" }),
        "a: \"1\"\nb: 'a: b'\nc:\n- x\n- \"y\": null\nd: |\n  line1\n  line2\ne: 'it''s #1'\nf: \"\"\ng: true\nh: 1.5\ni: \"yes\"\nkey 9: {}\nkey 10: []\n",
      );
      const long = toYaml({ message: Array.from({ length: 20 }, (_, i) => `word${i}`).join(" ") });
      assert.equal(long, "message: word0 word1 word2 word3 word4 word5 word6 word7 word8 word9 word10 word11\n  word12 word13 word14 word15 word16 word17 word18 word19\n");
    });

    it("pretty JSON for ?pretty=true; compact JSON ends with a newline and escapes <, >, & as Go does", async () => {
      await call(api.url, "POST", `/api/v1/namespaces/${NS}/configmaps`, cm("cm-html", { h: "<a&b>" }));
      const raw = await fetch(`${api.url}/api/v1/namespaces/${NS}/configmaps/cm-html`);
      const text = await raw.text();
      assert.ok(text.endsWith("}\n"));
      assert.ok(text.includes('"h":"\\u003ca\\u0026b\\u003e"'));
      const pretty = await (await fetch(`${api.url}/api/v1/namespaces/${NS}/configmaps/cm-html?pretty=true`)).text();
      assert.ok(pretty.includes('\n  "data": {\n    "h": "\\u003ca\\u0026b\\u003e"\n  }'), pretty);
      assert.ok(pretty.endsWith("}"));
    });
  });

  describe("Table", () => {
    it("pods, configmaps, deployments and namespaces with the recorded column definitions", async () => {
      const cases: [string, string][] = [
        ["table/pods", `/api/v1/namespaces/${NS}/pods`],
        ["table/configmaps-include-object", `/api/v1/namespaces/${NS}/configmaps`],
        ["table/deployments", `/apis/apps/v1/namespaces/${NS}/deployments`],
        ["table/namespaces-limit", "/api/v1/namespaces"],
      ];
      for (const [id, path] of cases) {
        const x = recordedExchange(id);
        const r = await call(api.url, "GET", path, undefined, { headers: { accept: TABLE } });
        assert.equal(r.status, 200, id);
        assert.equal(r.body.kind, "Table");
        assert.equal(r.body.apiVersion, "meta.k8s.io/v1");
        assert.deepEqual(r.body.columnDefinitions, (x.response.body as { columnDefinitions: unknown }).columnDefinitions, id);
      }
    });

    it("rows: cells as the printers make them, each object a PartialObjectMetadata; kubectl's Accept list", async () => {
      const r = await call(api.url, "GET", `/api/v1/namespaces/${NS}/pods`, undefined, { headers: { accept: KUBECTL_ACCEPT } });
      assert.equal(r.body.kind, "Table");
      const row = r.body.rows[0];
      assert.deepEqual(row.cells.slice(0, 4), ["p1", "0/1", "Pending", "0"]);
      assert.match(row.cells[4], /^\d+s$/);
      assert.deepEqual(row.cells.slice(5), ["<none>", "<none>", "<none>", "<none>"]);
      assert.deepEqual(Object.keys(row.object), ["kind", "apiVersion", "metadata"]);
      assert.equal(row.object.kind, "PartialObjectMetadata");
      assert.equal(row.object.metadata.name, "p1");
      assert.deepEqual(r.body.metadata, { resourceVersion: r.body.metadata.resourceVersion });

      const d = await call(api.url, "GET", `/apis/apps/v1/namespaces/${NS}/deployments`, undefined, { headers: { accept: TABLE } });
      assert.deepEqual(d.body.rows[0].cells.filter((_: unknown, i: number) => i !== 4), ["web", "0/1", 0, 0, "app", "nginx:1.27", "app=web"]);

      const single = await call(api.url, "GET", `/api/v1/namespaces/${NS}/pods/p1`, undefined, { headers: { accept: TABLE } });
      const p1 = await call(api.url, "GET", `/api/v1/namespaces/${NS}/pods/p1`);
      assert.deepEqual(single.body.metadata, { resourceVersion: p1.body.metadata.resourceVersion });
      assert.equal(single.body.rows.length, 1);
    });

    it("includeObject=Object/None, an invalid value 400, limit puts continue in the Table's metadata", async () => {
      const obj = await call(api.url, "GET", `/api/v1/namespaces/${NS}/configmaps?labelSelector=set%3Dx&includeObject=Object`, undefined, { headers: { accept: TABLE } });
      assert.deepEqual(
        obj.body.rows.map((r: { cells: unknown[] }) => r.cells.slice(0, 2)),
        [
          ["cm-a", 1],
          ["cm-b", 2],
        ],
      );
      assert.equal(obj.body.rows[0].object.kind, "ConfigMap");
      assert.equal(obj.body.rows[0].object.apiVersion, "v1");
      assert.deepEqual(obj.body.rows[0].object.data, { i: "1" });
      const none = await call(api.url, "GET", `/api/v1/namespaces/${NS}/configmaps?includeObject=None`, undefined, { headers: { accept: TABLE } });
      assert.equal(none.body.rows[0].object, null);
      const bad = await call(api.url, "GET", `/api/v1/namespaces/${NS}/configmaps?includeObject=All`, undefined, { headers: { accept: TABLE } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.message, "Unable to convert to Table as requested: includeObject: Invalid value: \"All\": must be 'Metadata', 'Object', 'None', or empty");
      const page = await call(api.url, "GET", `/api/v1/namespaces/${NS}/configmaps?limit=1`, undefined, { headers: { accept: TABLE } });
      assert.equal(page.body.rows.length, 1);
      assert.ok(page.body.metadata.continue);
      assert.ok(page.body.metadata.remainingItemCount >= 1);
    });

    it("kinds without a printer get Name and Created At; custom resources Name and Age", async () => {
      await call(api.url, "POST", `/api/v1/namespaces/${NS}/secrets`, { apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, stringData: { a: "b" } });
      const s = await call(api.url, "GET", `/api/v1/namespaces/${NS}/secrets/s`, undefined, { headers: { accept: TABLE } });
      assert.deepEqual(
        s.body.columnDefinitions.map((c: { name: string; type: string }) => [c.name, c.type]),
        [
          ["Name", "string"],
          ["Created At", "date"],
        ],
      );
      assert.match(s.body.rows[0].cells[1], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      // The Widget CRD of the discovery test declares no printer columns.
      const w = await call(api.url, "POST", `/apis/example.com/v1/namespaces/${NS}/widgets`, { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } });
      assert.equal(w.status, 201);
      const t = await call(api.url, "GET", `/apis/example.com/v1/namespaces/${NS}/widgets`, undefined, { headers: { accept: TABLE } });
      assert.deepEqual(
        t.body.columnDefinitions.map((c: { name: string; type: string }) => [c.name, c.type]),
        [
          ["Name", "string"],
          ["Age", "date"],
        ],
      );
      assert.deepEqual(t.body.rows[0].cells[0], "w");
      assert.match(t.body.rows[0].cells[1], /^\d+s$/);
    });

    it("a Table watch: column definitions on the first frame only", async () => {
      const w = await watchFrames(`${api.url}/api/v1/namespaces/${NS}/configmaps?watch=true&labelSelector=set%3Dx`, TABLE, 2);
      assert.equal(w.frames.length, 2);
      const [a, b] = w.frames.map((f) => f.object as { kind: string; columnDefinitions: unknown; rows: { cells: unknown[] }[] });
      assert.equal(a!.kind, "Table");
      assert.ok(Array.isArray(a!.columnDefinitions));
      assert.equal(b!.columnDefinitions, null);
      assert.equal(b!.rows.length, 1);
    });

    it("ages as duration.HumanDuration writes them", () => {
      const s = 1000;
      assert.deepEqual(
        [0, 34 * s, 119 * s, 405 * s, 22 * 60 * s, 185 * 60 * s, 9 * 3600 * s, 50 * 3600 * s, 400 * 86400 * s, 800 * 86400 * s, -1500].map(humanDuration),
        ["0s", "34s", "119s", "6m45s", "22m", "3h5m", "9h", "2d2h", "400d", "2y70d", "0s"],
      );
    });
  });

  describe("PartialObjectMetadata", () => {
    it("lists as PartialObjectMetadataList (items with kind and apiVersion); a list asked as PartialObjectMetadata is a 406", async () => {
      const r = await call(api.url, "GET", `/api/v1/namespaces/${NS}/pods`, undefined, { headers: { accept: "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io" } });
      assert.equal(r.body.kind, "PartialObjectMetadataList");
      assert.equal(r.body.apiVersion, "meta.k8s.io/v1");
      assert.deepEqual(Object.keys(r.body.items[0]), ["kind", "apiVersion", "metadata"]);
      assert.equal(r.body.items[0].metadata.name, "p1");
      const bad = await call(api.url, "GET", `/api/v1/namespaces/${NS}/pods`, undefined, { headers: { accept: "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io" } });
      assert.equal(bad.status, 406);
      assert.equal(bad.body.message, "you requested PartialObjectMetadata, but the requested object is a list (*core.PodList)");
      const one = await call(api.url, "GET", `/api/v1/namespaces/${NS}/pods/p1`, undefined, { headers: { accept: "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io" } });
      assert.equal(one.body.kind, "PartialObjectMetadata");
      assert.equal(one.body.spec, undefined);
    });

    it("metadata-only watches send PartialObjectMetadata frames; a YAML watch is a 406", async () => {
      const w = await watchFrames(`${api.url}/api/v1/namespaces/${NS}/configmaps?watch=true&fieldSelector=metadata.name%3Dcm-a`, "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io", 2, async () => {
        await call(api.url, "PATCH", `/api/v1/namespaces/${NS}/configmaps/cm-a`, { metadata: { labels: { meta: "partial" } } }, { contentType: "application/merge-patch+json" });
      });
      assert.equal(w.contentType, "application/json");
      assert.deepEqual(
        w.frames.map((f) => [f.type, (f.object as { kind: string }).kind]),
        [
          ["ADDED", "PartialObjectMetadata"],
          ["MODIFIED", "PartialObjectMetadata"],
        ],
      );
      assert.equal((w.frames[1]!.object as { metadata: { labels: Record<string, string> } }).metadata.labels.meta, "partial");
      const y = await watchFrames(`${api.url}/api/v1/namespaces/${NS}/configmaps?watch=true`, "application/yaml", 1);
      assert.equal(y.status, 406);
      assert.equal((y.frames[0] as { message: string }).message, "only the following media types are accepted: application/json;stream=watch, application/vnd.kubernetes.protobuf;stream=watch");
    });
  });

  describe("events.k8s.io/v1 and core/v1 Events", () => {
    const CORE = `/api/v1/namespaces/${NS}/events`;
    const V1 = `/apis/events.k8s.io/v1/namespaces/${NS}/events`;

    it("both APIs read and write the same objects, converted as recorded", async () => {
      const core = recordedExchange("events/create-core-v1");
      const c = await call(api.url, "POST", CORE, core.request.body);
      assert.equal(c.status, 201);
      const strip = (o: Record<string, unknown>) => ({ ...o, metadata: { name: (o.metadata as { name: string }).name, namespace: NS } });
      const expect = (id: string) => {
        const b = recordedExchange(id).response.body as Record<string, unknown>;
        return { ...strip(b) };
      };
      assert.deepEqual(strip(c.body), { ...expect("events/create-core-v1") });
      const v1 = await call(api.url, "POST", V1, recordedExchange("events/create-events-k8s-io-v1").request.body);
      assert.equal(v1.status, 201);
      assert.deepEqual(strip(v1.body), expect("events/create-events-k8s-io-v1"));
      assert.deepEqual(strip((await call(api.url, "GET", `${CORE}/rec-pod.ev1`)).body), expect("events/get-events-v1-via-core"));
      assert.deepEqual(strip((await call(api.url, "GET", `${V1}/rec-pod.core1`)).body), expect("events/get-core-via-events-v1"));
      const bogus = await call(api.url, "POST", CORE, recordedExchange("events/create-core-v1-invalid-type").request.body);
      assert.equal(bogus.status, 201);
      assert.deepEqual(strip(bogus.body), expect("events/create-core-v1-invalid-type"));
    });

    it("events.k8s.io/v1 validation is strict (422 naming the core kind); core accepts what the legacy rules allow", async () => {
      const x = recordedExchange("events/create-events-k8s-io-v1-invalid");
      const r = await call(api.url, "POST", V1, x.request.body);
      assert.equal(r.status, 422);
      assert.deepEqual(r.body, x.response.body);
      const counted = await call(api.url, "POST", V1, { ...(recordedExchange("events/create-events-k8s-io-v1").request.body as object), metadata: { name: "counted" }, deprecatedCount: 3, type: "Odd" });
      assert.equal(counted.status, 422);
      assert.equal(counted.body.message, 'Event "counted" is invalid: [type: Invalid value: "": has invalid value: Odd, count: Invalid value: "": needs to be unset]');
      const noController = await call(api.url, "POST", CORE, { apiVersion: "v1", kind: "Event", metadata: { name: "nc" }, involvedObject: { kind: "Pod", namespace: NS, name: "p" }, eventTime: "2026-12-07T11:43:46.139000Z", reason: "R", action: "A", reportingInstance: "i" });
      assert.equal(noController.status, 422);
      assert.deepEqual(noController.body.details.causes, [{ reason: "FieldValueRequired", message: "Required value", field: "reportingComponent" }, { reason: "FieldValueInvalid", message: 'Invalid value: "": name part must be non-empty', field: "reportingComponent" }]);
    });

    it("field selectors: regarding.* for events.k8s.io/v1 (translated), involvedObject.* for core", async () => {
      const v1 = await call(api.url, "GET", `${V1}?fieldSelector=regarding.name%3Drec-pod`);
      assert.equal(v1.status, 200);
      assert.equal(v1.body.kind, "EventList");
      assert.equal(v1.body.apiVersion, "events.k8s.io/v1");
      assert.deepEqual(v1.body.items.map((e: { metadata: { name: string } }) => e.metadata.name), ["rec-pod.core-bad", "rec-pod.core1", "rec-pod.ev1"]);
      assert.ok(v1.body.items.every((e: Record<string, unknown>) => "regarding" in e && !("involvedObject" in e)));
      const core = await call(api.url, "GET", `${CORE}?fieldSelector=involvedObject.kind%3DPod,reason%3DRecorded`);
      assert.deepEqual(core.body.items.map((e: { metadata: { name: string } }) => e.metadata.name), ["rec-pod.core1", "rec-pod.ev1"]);
      const bad = await call(api.url, "GET", `${V1}?fieldSelector=involvedObject.name%3Drec-pod`);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.message, "field label not supported: involvedObject.name");
    });

    it("patches through events.k8s.io/v1 apply to its fields; watches convert every frame", async () => {
      const w = watchFrames(`${api.url}${V1}?watch=true&fieldSelector=metadata.name%3Drec-pod.ev1`, "application/json", 2, async () => {
        const p = await call(api.url, "PATCH", `${V1}/rec-pod.ev1`, { note: "changed" }, { contentType: "application/merge-patch+json" });
        assert.equal(p.status, 200);
        assert.equal(p.body.note, "changed");
      });
      const frames = (await w).frames;
      assert.deepEqual(frames.map((f) => [f.type, (f.object as { apiVersion: string }).apiVersion, (f.object as { note: string }).note]), [
        ["ADDED", "events.k8s.io/v1", "recorded by record-apiserver"],
        ["MODIFIED", "events.k8s.io/v1", "changed"],
      ]);
      assert.equal((await call(api.url, "GET", `${CORE}/rec-pod.ev1`)).body.message, "changed");
    });
  });

  describe("deprecated and removed API versions", () => {
    it("a deprecated version answers with the Warning header; the preferred one does not", async () => {
      const x = recordedExchange("warnings/deprecated-api-hpa-v2beta2");
      const r = await fetch(`${api.url}${x.request.path.replace("/rec/", `/${NS}/`)}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("warning"), (x.response.headers.warning as string[])[0]);
      const body = (await r.json()) as { kind: string; apiVersion: string; items: unknown[] };
      assert.deepEqual([body.kind, body.apiVersion, body.items], ["HorizontalPodAutoscalerList", "autoscaling/v2beta2", []]);
      const v2 = await fetch(`${api.url}/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers`);
      assert.equal(v2.headers.get("warning"), null);
      const missing = await fetch(`${api.url}/apis/autoscaling/v2beta2/namespaces/${NS}/horizontalpodautoscalers/nope`);
      assert.equal(missing.status, 404);
      assert.ok(missing.headers.get("warning"), "the warning comes with errors too");
    });

    it("a version removed in 1.25 is a JSON 404, as recorded", async () => {
      const x = recordedExchange("warnings/removed-api-policy-v1beta1");
      const r = await call(api.url, "GET", x.request.path);
      assert.equal(r.status, 404);
      assert.deepEqual(r.body, x.response.body);
    });
  });
});
