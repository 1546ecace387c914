import { test } from "node:test";
import assert from "node:assert/strict";
import { parseHubbleFlow } from "../../src/flows/hubble.js";
import { InvalidEventError } from "../../src/flows/events.js";
import { sampleEvents } from "./samples.js";

test("Hubble sample: requests are skipped, responses carry code, method, latency_ns (a string) and the server endpoint", () => {
  const events = sampleEvents("hubble-otel_basic-sample-5-http-flows.jsonl").map(parseHubbleFlow);
  assert.deepEqual(
    events.slice(0, 3).map((e) => e.kind === "hubble" && e.type),
    ["http_request", "http_request", "http_request"],
  );
  assert.deepEqual(events[3], {
    kind: "http",
    method: "GET",
    code: 503,
    latencySeconds: 0.999958359,
    server: { ip: "10.156.1.2", port: 9253, namespace: "kube-system", pod: "node-local-dns-r99x7" },
    client: { ip: "10.156.2.7", port: 57468, namespace: "istio-system", pod: "prometheus-6655946b9f-6xcpf", labels: { app: "prometheus", release: "istio" } },
    node: "gke-ilya-otel-demo-2-ilya-otel-demo-2-dac8cc20-hr0z",
    verdict: "FORWARDED",
    protocol: "TCP",
    direction: "egress",
  });
  assert.equal(events[4]!.kind === "http" && events[4]!.latencySeconds, 4.13818364);
  assert.equal(events[4]!.kind === "http" && events[4]!.server.pod, "node-local-dns-6jnx9");
});

test("flows without L7 HTTP are flow events of their own type; workloads[] and source_service are used", () => {
  assert.deepEqual(parseHubbleFlow({ flow: { verdict: "FORWARDED", IP: { source: "1.1.1.1", destination: "2.2.2.2" } } }), {
    kind: "hubble",
    type: "l4",
    verdict: "FORWARDED",
    protocol: "",
    src: { ip: "1.1.1.1", port: 0 },
    dst: { ip: "2.2.2.2", port: 0 },
    direction: "unknown",
  });
  const kafka = parseHubbleFlow({ flow: { l7: { type: "REQUEST", kafka: { topic: "x" } } } });
  assert.equal(kafka.kind === "hubble" && kafka.type, "l7_other");
  const ev = parseHubbleFlow({
    flow: {
      IP: { source: "10.0.0.9", destination: "10.0.0.1" },
      l4: { TCP: { source_port: 8080, destination_port: 5555 } },
      source: { namespace: "shop", pod_name: "api-1", workloads: [{ name: "api", kind: "Deployment" }] },
      source_service: { name: "api-svc", namespace: "shop" },
      l7: { type: "RESPONSE", http: { code: 200, method: "POST" } },
      is_reply: true,
    },
  });
  assert.equal(ev.kind, "http");
  if (ev.kind !== "http") return;
  assert.deepEqual(ev.server, { ip: "10.0.0.9", port: 8080, namespace: "shop", pod: "api-1", workload: "api", workloadKind: "Deployment", service: "api-svc" });
  assert.equal(ev.latencySeconds, 0, "omitted latency_ns is 0");
});

test("malformed Hubble lines are rejected with a reason", () => {
  assert.throws(() => parseHubbleFlow("x"), (e: unknown) => e instanceof InvalidEventError && e.reason === "shape");
  assert.throws(() => parseHubbleFlow({ something: 1 }), (e: unknown) => e instanceof InvalidEventError && e.reason === "shape");
  assert.throws(() => parseHubbleFlow({ flow: { l7: { type: "RESPONSE", latency_ns: "abc", http: {} } } }), (e: unknown) => e instanceof InvalidEventError && e.reason === "field" && /latency_ns/.test(e.message));
  assert.throws(() => parseHubbleFlow({ flow: { l7: { type: "BOGUS", http: {} } } }), (e: unknown) => e instanceof InvalidEventError && e.reason === "field");
});
