import { test } from "node:test";
import assert from "node:assert/strict";
import { expandGrafanaVariables, metricNames, selectorLabels } from "../../src/dashboards/promql.js";

test("metricNames: selectors, not functions, keywords, labels, strings or durations", () => {
  assert.deepEqual(metricNames(`sum by (probe, le) (rate(a_bucket{x=~"$ns", y="b c"}[5m])) / ignoring(le) b_total offset 5m and on(x) c`), ["a_bucket", "b_total", "c"]);
  assert.deepEqual(metricNames(`histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket[5m]))) > 1`), ["http_server_request_duration_seconds_bucket"]);
  assert.deepEqual(metricNames(`time() - max(x_seconds) or vector(0)`), ["x_seconds"]);
  assert.deepEqual(metricNames(`predict_linear(free_bytes[1h], 4 * 3600) < 0 or nan_total`), ["free_bytes", "nan_total"]);
});

test("expandGrafanaVariables: ranges and every template variable", () => {
  assert.equal(expandGrafanaVariables(`rate(x{a=~"$namespace", b=~"\${pod}"}[$__rate_interval]) / increase(x[$__range])`, { rateInterval: "15s", range: "5m" }), `rate(x{a=~".*", b=~".*"}[15s]) / increase(x[5m])`);
});

test("selectorLabels: the labels each selector matches on", () => {
  const got = selectorLabels(`sum(rate(a_total{x=~"$ns", y!="a=b"}[5m])) / sum(b{z="1"}) + c`);
  assert.deepEqual([...got.entries()].map(([k, v]) => [k, [...v].sort()]), [["a_total", ["x", "y"]], ["b", ["z"]]]);
});
