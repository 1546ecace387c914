import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { attributesOf, parseResourceUri } from "../../../src/audit/policy/request-info.js";
import { recordedEventFromJSON } from "../../../src/audit/policy/simulate.js";
import { AUDIT_SAMPLES } from "../../support/samples.js";

const SAMPLE = `${AUDIT_SAMPLES}/real-apiserver-v1.24-scenario.jsonl`;

test("request info: a create on a collection names no object, although the event's objectRef does", () => {
  const a = attributesOf({ verb: "create", requestURI: "/api/v1/namespaces/team-a/configmaps?fieldManager=kubectl", resource: "configmaps", namespace: "team-a", name: "cfg-1", user: "admin", groups: [] });
  assert.equal(a.name, "");
  assert.equal(a.namespace, "team-a");
  assert.equal(a.resourceRequest, true);
});

test("request info: namespaces resource carries its own name as namespace", () => {
  assert.deepEqual(parseResourceUri("/api/v1/namespaces/team-a", "get"), { namespace: "team-a", name: "team-a" });
  assert.deepEqual(parseResourceUri("/api/v1/namespaces/team-a/status", "update"), { namespace: "team-a", name: "team-a" });
  assert.deepEqual(parseResourceUri("/api/v1/namespaces?limit=500", "list"), { namespace: "", name: "" });
});

test("request info: group paths, subresources, cluster scope and legacy watch prefix", () => {
  assert.deepEqual(parseResourceUri("/apis/apps/v1/namespaces/ns/deployments/web/scale", "update"), { namespace: "ns", name: "web" });
  assert.deepEqual(parseResourceUri("/api/v1/nodes/n1", "get"), { namespace: "", name: "n1" });
  assert.deepEqual(parseResourceUri("/api/v1/watch/namespaces/ns/pods/p1", "watch"), { namespace: "ns", name: "p1" });
  assert.equal(parseResourceUri("/version", "get"), undefined);
});

test("request info: list and watch take the name from fieldSelector=metadata.name", () => {
  assert.equal(parseResourceUri("/api/v1/namespaces/kube-system/configmaps?fieldSelector=metadata.name%3Dleader&watch=true", "watch")?.name, "leader");
  assert.equal(parseResourceUri("/api/v1/namespaces/kube-system/configmaps?fieldSelector=metadata.name==leader", "list")?.name, "leader");
  assert.equal(parseResourceUri("/api/v1/namespaces/kube-system/configmaps?fieldSelector=metadata.name!=leader", "list")?.name, "");
  // only list/watch: a get already has the name in its path
  assert.equal(parseResourceUri("/api/v1/namespaces/ns/configmaps?fieldSelector=metadata.name%3Dx", "deletecollection")?.name, "");
});

test("request info: non-resource requests match on the path without query", () => {
  const a = attributesOf({ verb: "get", requestURI: "/version?timeout=5s", user: "admin", groups: ["system:masters"] });
  assert.equal(a.resourceRequest, false);
  assert.equal(a.path, "/version");
});

test("request info: an event without username is an unauthenticated request", () => {
  assert.equal(attributesOf({ verb: "list", requestURI: "/api/v1/namespaces", resource: "namespaces", user: null }).user, undefined);
  assert.equal(attributesOf({ verb: "list", requestURI: "/api/v1/namespaces", resource: "namespaces", user: "" }).user, undefined);
});

test("request info: on the real v1.24 sample, URI parsing agrees with objectRef except for names filled in from request bodies", () => {
  const lines = readFileSync(SAMPLE, "utf8").split("\n").filter(Boolean);
  let creates = 0;
  for (const line of lines) {
    const ev = recordedEventFromJSON(JSON.parse(line) as Record<string, unknown>);
    if (!ev.resource) continue;
    const a = attributesOf(ev);
    assert.equal(a.namespace, ev.namespace ?? "", line);
    if (ev.verb === "create") {
      creates++;
      assert.equal(a.name, "", `create names nothing: ${ev.requestURI}`);
    } else {
      assert.equal(a.name, ev.name ?? "", line);
    }
  }
  assert.ok(creates >= 10, `sample has creates (${creates})`);
});
