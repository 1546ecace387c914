// Developer tool: replays the recording and prints every difference, exchange by exchange,
// including the allow-listed ones. `node --import tsx test/support/conformance/report.ts [id-prefix…]`
import { AllowList } from "./allowlist.js";
import { describeDifference } from "./compare.js";
import { loadExchanges } from "./recording.js";
import { replayAll } from "./replay.js";
import { Bindings, compareExchange, credentials, scenarioHooks, startConformanceServer } from "./suite.js";

const filters = process.argv.slice(2);
const server = await startConformanceServer();
const api = server.api;
const exchanges = loadExchanges();
const allow = new AllowList();
const b = new Bindings();
let failing = 0;
let excused = 0;
await replayAll(api.url, exchanges, b, credentials, (r) => {
  const diffs = r.actual ? compareExchange(r.exchange, r.actual, b) : [];
  const show = filters.length === 0 || filters.some((f) => r.exchange.id.startsWith(f));
  const lines: string[] = [];
  if (r.error) lines.push(`  ERROR ${r.error.split("\n")[0]}`);
  for (const d of diffs) {
    const e = allow.excuse(r.exchange.id, d);
    if (e) excused++;
    else failing++;
    lines.push(`  ${e ? "allowed" : "DIFF   "} ${describeDifference(d)}`);
  }
  if (show && lines.length > 0) console.log(`${r.exchange.id} (${r.exchange.request.method} ${r.exchange.request.path} as ${r.exchange.as})\n${lines.join("\n")}`);
}, scenarioHooks(server, exchanges, b));
console.log(`\n${failing} failing differences, ${excused} allowed; unused allow-list entries: ${allow.unused().map((e) => e.id).join(", ") || "none"}`);
await api.close();
