import { test } from "node:test";
import assert from "node:assert/strict";
import { MetadataIndex } from "../../../src/core/kube-metadata/metadata-index.js";
import { guessWorkloadFromPodName } from "../../../src/core/kube-metadata/owners.js";
import { matchCidr, parseNamedCidr } from "../../../src/core/kube-metadata/cidr.js";
import { endpointSlice, job, namespace, node, pod, replicaSet, service } from "./objects.js";

test("owner resolution: Pod→ReplicaSet→Deployment, Pod→Job→CronJob, StatefulSet, DaemonSet, bare pod", () => {
  const ix = new MetadataIndex();
  ix.apply("replicasets", "add", replicaSet("shop", "web-7d9f8c6b5", "web"));
  ix.apply("jobs", "add", job("ops", "backup-29012345", "backup"));
  ix.apply("pods", "add", pod({ ns: "shop", name: "web-7d9f8c6b5-x1y2z", ip: "10.0.0.1", owner: { kind: "ReplicaSet", name: "web-7d9f8c6b5" } }));
  ix.apply("pods", "add", pod({ ns: "ops", name: "backup-29012345-q8w7e", ip: "10.0.0.2", owner: { kind: "Job", name: "backup-29012345", apiVersion: "batch/v1" } }));
  ix.apply("pods", "add", pod({ ns: "db", name: "pg-0", ip: "10.0.0.3", owner: { kind: "StatefulSet", name: "pg" } }));
  ix.apply("pods", "add", pod({ ns: "kube-system", name: "cilium-abcde", ip: "10.0.0.4", owner: { kind: "DaemonSet", name: "cilium" } }));
  ix.apply("pods", "add", pod({ ns: "default", name: "debug", ip: "10.0.0.5" }));
  const w = (ip: string) => {
    const m = ix.lookup(ip)!;
    return `${m.workloadKind}/${m.workload}`;
  };
  assert.equal(w("10.0.0.1"), "Deployment/web");
  assert.equal(w("10.0.0.2"), "CronJob/backup");
  assert.equal(w("10.0.0.3"), "StatefulSet/pg");
  assert.equal(w("10.0.0.4"), "DaemonSet/cilium");
  assert.equal(w("10.0.0.5"), "Pod/debug");
  assert.equal(ix.lookup("10.9.9.9"), undefined);
});

test("a ReplicaSet not (yet) cached: the pod-template-hash suffix gives the Deployment; it is re-resolved when the RS arrives", () => {
  const ix = new MetadataIndex();
  ix.apply("pods", "add", pod({ ns: "a", name: "api-5f6d7-abcde", ip: "10.1.0.1", labels: { "pod-template-hash": "5f6d7" }, owner: { kind: "ReplicaSet", name: "api-5f6d7" } }));
  assert.deepEqual([ix.lookup("10.1.0.1")!.workloadKind, ix.lookup("10.1.0.1")!.workload], ["Deployment", "api"]);
  ix.apply("pods", "add", pod({ ns: "a", name: "rs-only-abcde", ip: "10.1.0.2", owner: { kind: "ReplicaSet", name: "rs-only" } }));
  assert.equal(ix.lookup("10.1.0.2")!.workloadKind, "ReplicaSet");
  ix.apply("replicasets", "add", replicaSet("a", "rs-only", "real-deploy", { "meta.helm.sh/release-name": "rel-1" }));
  assert.deepEqual([ix.lookup("10.1.0.2")!.workload, ix.lookup("10.1.0.2")!.release], ["real-deploy", "rel-1"]);
});

test("Helm release from the instance label or the release-name annotation", () => {
  const ix = new MetadataIndex();
  ix.apply("pods", "add", pod({ name: "a", ip: "10.2.0.1", labels: { "app.kubernetes.io/instance": "from-label" } }));
  ix.apply("pods", "add", pod({ name: "b", ip: "10.2.0.2", annotations: { "meta.helm.sh/release-name": "from-annotation" } }));
  assert.equal(ix.lookup("10.2.0.1")!.release, "from-label");
  assert.equal(ix.lookup("10.2.0.2")!.release, "from-annotation");
});

test("pods changing IPs, dual-stack podIPs, deleted and finished pods", () => {
  const ix = new MetadataIndex();
  ix.apply("pods", "add", pod({ name: "p", ips: ["10.3.0.1", "fd00::1"] }));
  assert.equal(ix.lookup("10.3.0.1")!.pod, "p");
  assert.equal(ix.lookup("fd00::1")!.pod, "p");
  ix.apply("pods", "update", pod({ name: "p", ip: "10.3.0.2" }));
  assert.equal(ix.lookup("10.3.0.1"), undefined, "old IP released");
  assert.equal(ix.lookup("10.3.0.2")!.pod, "p");
  ix.apply("pods", "update", pod({ name: "p", ip: "10.3.0.2", phase: "Succeeded" }));
  assert.equal(ix.lookup("10.3.0.2"), undefined, "a finished pod no longer owns its IP");
  ix.apply("pods", "add", pod({ name: "q", ip: "10.3.0.3" }));
  ix.apply("pods", "delete", pod({ name: "q", ip: "10.3.0.3" }));
  assert.equal(ix.lookup("10.3.0.3"), undefined);
  // IP reuse: the newer pod wins while both exist.
  ix.apply("pods", "add", pod({ name: "old", ip: "10.3.0.4", created: "2026-01-01T00:00:00Z" }));
  ix.apply("pods", "add", pod({ name: "new", ip: "10.3.0.4", created: "2026-01-02T00:00:00Z" }));
  assert.equal(ix.lookup("10.3.0.4")!.pod, "new");
});

test("hostNetwork pods own the node IP only when unambiguous; otherwise the IP is the node", () => {
  const ix = new MetadataIndex();
  ix.apply("nodes", "add", node("n1", "192.168.0.10"));
  assert.deepEqual([ix.lookup("192.168.0.10")!.kind, ix.lookup("192.168.0.10")!.workload], ["Node", "n1"]);
  ix.apply("pods", "add", pod({ ns: "kube-system", name: "kube-proxy-abcde", ip: "192.168.0.10", node: "n1", hostNetwork: true, owner: { kind: "DaemonSet", name: "kube-proxy" } }));
  assert.equal(ix.lookup("192.168.0.10")!.workload, "kube-proxy");
  ix.apply("pods", "add", pod({ ns: "kube-system", name: "node-exporter-fghij", ip: "192.168.0.10", node: "n1", hostNetwork: true, owner: { kind: "DaemonSet", name: "node-exporter" } }));
  assert.deepEqual([ix.lookup("192.168.0.10")!.kind, ix.lookup("192.168.0.10")!.workload], ["Node", "n1"]);
});

test("Service ClusterIPs and EndpointSlice backends; selector changes move backends between services", () => {
  const ix = new MetadataIndex();
  ix.apply("services", "add", service("shop", "web", "10.96.0.10"));
  ix.apply("pods", "add", pod({ ns: "shop", name: "web-1", ip: "10.4.0.1" }));
  ix.apply("pods", "add", pod({ ns: "shop", name: "web-2", ip: "10.4.0.2" }));
  assert.deepEqual(ix.lookup("10.96.0.10"), { kind: "Service", namespace: "shop", workload: "web", workloadKind: "Service", services: ["web"], ignored: false }, "no backends yet: the service itself");
  assert.deepEqual(ix.lookup("10.4.0.1")!.services, []);
  ix.apply("endpointslices", "add", endpointSlice("shop", "web", [{ ip: "10.4.0.1", pod: "web-1" }], [8080]));
  ix.apply("endpointslices", "add", endpointSlice("shop", "admin", [{ ip: "10.4.0.1", pod: "web-1" }], [9090]));
  assert.deepEqual(ix.lookup("10.4.0.1")!.services, ["admin", "web"]);
  assert.deepEqual([ix.lookup("10.96.0.10")!.workloadKind, ix.lookup("10.96.0.10")!.workload], ["Pod", "web-1"], "a ClusterIP with one backend workload is labelled with it");
  assert.equal(ix.serviceFor("10.4.0.1", 9090), "admin");
  assert.equal(ix.serviceFor("10.4.0.1", 8080), "web");
  // The selector now picks web-2: the endpoint controller rewrites the slice.
  ix.apply("endpointslices", "update", endpointSlice("shop", "web", [{ ip: "10.4.0.2", pod: "web-2" }], [8080]));
  assert.deepEqual(ix.lookup("10.4.0.1")!.services, ["admin"]);
  assert.deepEqual(ix.lookup("10.4.0.2")!.services, ["web"]);
  ix.apply("services", "delete", service("shop", "web", "10.96.0.10"));
  assert.equal(ix.lookup("10.96.0.10"), undefined);
});

test("a backend address whose pod is on another node (not cached with --node) still resolves from its EndpointSlice", () => {
  const ix = new MetadataIndex();
  ix.apply("endpointslices", "add", endpointSlice("shop", "cart", [{ ip: "10.5.0.7", pod: "cart-6c8d9f7b4-zzzzz", node: "n2" }]));
  const m = ix.lookup("10.5.0.7")!;
  assert.deepEqual([m.kind, m.namespace, m.pod, m.workload, m.workloadKind, m.node], ["Endpoint", "shop", "cart-6c8d9f7b4-zzzzz", "cart", "Deployment", "n2"]);
  assert.deepEqual(m.services, ["cart"]);
});

test("ignore annotations at pod, namespace and node scope, re-evaluated on change", () => {
  const ix = new MetadataIndex();
  ix.apply("namespaces", "add", namespace("shop"));
  ix.apply("nodes", "add", node("n1", "192.168.0.1"));
  ix.apply("pods", "add", pod({ ns: "shop", name: "p", ip: "10.6.0.1", node: "n1" }));
  assert.equal(ix.lookup("10.6.0.1")!.ignored, false);
  ix.apply("pods", "update", pod({ ns: "shop", name: "p", ip: "10.6.0.1", node: "n1", annotations: { "watch-auditor.dev/ignore": "true" } }));
  assert.equal(ix.lookup("10.6.0.1")!.ignored, true, "pod scope");
  ix.apply("pods", "update", pod({ ns: "shop", name: "p", ip: "10.6.0.1", node: "n1", annotations: { "watch-auditor.dev/ignore": "false" } }));
  assert.equal(ix.lookup("10.6.0.1")!.ignored, false, "only \"true\" ignores");
  ix.apply("namespaces", "update", namespace("shop", { "owlk8s/ignore": "true" }));
  assert.equal(ix.lookup("10.6.0.1")!.ignored, true, "namespace scope (owlk8s annotation)");
  ix.apply("namespaces", "update", namespace("shop"));
  assert.equal(ix.lookup("10.6.0.1")!.ignored, false);
  ix.apply("nodes", "update", node("n1", "192.168.0.1", { "watch-auditor.dev/ignore": "true" }));
  assert.equal(ix.lookup("10.6.0.1")!.ignored, true, "node scope");
  assert.equal(ix.lookup("192.168.0.1")!.ignored, true, "the node's own address");
  const v = ix.version;
  ix.apply("nodes", "update", node("n1", "192.168.0.1"));
  assert.ok(ix.version > v);
  assert.equal(ix.lookup("10.6.0.1")!.ignored, false);
});

test("pod-name heuristics used when only the event names the pod", () => {
  assert.deepEqual(guessWorkloadFromPodName("keycloak-operator-5bc7649f79-nnpjh"), { workload: "keycloak-operator", workloadKind: "Deployment" });
  assert.deepEqual(guessWorkloadFromPodName("node-local-dns-r99x7"), { workload: "node-local-dns", workloadKind: "DaemonSet" });
  assert.deepEqual(guessWorkloadFromPodName("backup-29012345-q8w7e"), { workload: "backup", workloadKind: "CronJob" });
  assert.deepEqual(guessWorkloadFromPodName("file-access"), { workload: "file-access", workloadKind: "Pod" });
});

test("--cidr-name parsing and most-specific match, IPv4 and IPv6", () => {
  const cidrs = ["10.0.0.0/8=corp", "10.1.0.0/16=lab", "fd00::/8=ula"].map(parseNamedCidr);
  assert.equal(matchCidr(cidrs, "10.2.3.4")!.name, "corp");
  assert.equal(matchCidr(cidrs, "10.1.3.4")!.name, "lab");
  assert.equal(matchCidr(cidrs, "fd12::1")!.name, "ula");
  assert.equal(matchCidr(cidrs, "8.8.8.8"), undefined);
  for (const bad of ["10.0.0.0/8", "10.0.0.0=corp", "10.0.0.0/33=x", "nope/8=x", "10.0.0.0/8=bad name"]) assert.throws(() => parseNamedCidr(bad), new RegExp(bad.split("=")[0]!.replace(/[./]/g, "\\$&")));
});
