// The API server's per-layer latency annotations (`apiserver.latency.k8s.io/*`), stored as numeric
// columns of `events`. kube-apiserver adds them at ResponseComplete, only to requests whose total
// latency (stageTimestamp − requestReceivedTimestamp) exceeds 500 ms (`writeLatencyToAnnotation`
// in k8s.io/apiserver/pkg/endpoints/filters/audit.go), and only the layers that took non-zero time
// (`AuditAnnotationsFromLatencyTrackers` in k8s.io/apiserver/pkg/endpoints/request/webhook_duration.go).
// Values are Go `time.Duration.String()` texts: "3.002622604s", "43.75199ms", "1.783µs", "1m2.5s".

export const LATENCY_ANNOTATION_PREFIX = "apiserver.latency.k8s.io/";

export interface LatencyAnnotation {
  /** The key after the prefix, e.g. "etcd". */
  key: string;
  /** The `events` column (DOUBLE, milliseconds, NULL when absent or malformed). */
  column: string;
}

const KEYS = [
  "total", // stageTimestamp − requestReceivedTimestamp, added "for convenience" with the others
  "etcd", // storage round trips (sum)
  "apf-queue-wait", // API Priority and Fairness queueing (v1.31+)
  "decode-response-object", // decoding objects read from etcd (v1.30+)
  "transform-response-object", // converting the response (e.g. to a Table)
  "serialize-response-object", // JSON/protobuf encoding, INCLUDING the writes it interleaves with
  "response-write", // writes of the serialized bytes to the HTTP response
  "mutating-webhook", // sum over mutating admission webhooks (called in sequence)
  "validating-webhook", // max over validating admission webhooks (called in parallel)
  "impersonation", // constrained impersonation checks (v1.36+, ConstrainedImpersonation)
] as const;
export type LatencyKey = (typeof KEYS)[number];

export const LATENCY_ANNOTATIONS: readonly LatencyAnnotation[] = KEYS.map((key) => ({ key, column: columnOf(key) }));

export function columnOf(key: LatencyKey): string {
  return `apiserver_latency_${key.replace(/-/g, "_")}_ms`;
}

/** One Go duration component: a decimal number and a unit (Go's time.ParseDuration units). */
const COMPONENT = String.raw`(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)`;
const WHOLE = String.raw`[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+`;
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, "μs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

const sqlStr = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/**
 * SQL: the Go duration in milliseconds (DOUBLE), NULL when the text is NULL or not a Go duration.
 * `v` must be a column or other cheap expression (it is repeated). Almost every value the API server
 * writes is one component ("43.75199ms", "3.002622604s", "1.783µs"): those are read with plain string
 * functions; only the rest ("1m2.5s", a sign) go through the regular expressions, which cost ~5x more.
 */
export function goDurationMsSql(v: string): string {
  const num = (x: string): string =>
    `CASE WHEN ${x} NOT IN ('', '.') AND ltrim(${x}, '0123456789.') = '' AND length(${x}) - length(replace(${x}, '.', '')) <= 1 THEN CAST(${x} AS DOUBLE) END`;
  const cut = (n: number): string => `left(${v}, length(${v}) - ${n})`;
  const single =
    `CASE WHEN suffix(${v}, 'ms') THEN ${num(cut(2))} WHEN suffix(${v}, 'ns') THEN ${num(cut(2))} * 1e-6 ` +
    `WHEN suffix(${v}, 'µs') OR suffix(${v}, 'μs') OR suffix(${v}, 'us') THEN ${num(cut(2))} * 1e-3 ` +
    `WHEN suffix(${v}, 's') THEN ${num(cut(1))} * 1000 WHEN suffix(${v}, 'm') THEN ${num(cut(1))} * 60000 WHEN suffix(${v}, 'h') THEN ${num(cut(1))} * 3600000 END`;
  const unit = Object.entries(UNIT_MS)
    .map(([u, f]) => `WHEN ${sqlStr(u)} THEN ${f}`)
    .join(" ");
  const sum = `list_sum(list_transform(regexp_extract_all(${v}, ${sqlStr(COMPONENT)}), x -> regexp_extract(x, '^[0-9.]+')::DOUBLE * CASE regexp_extract(x, '[^0-9.]+$') ${unit} END))`;
  const general = `CASE WHEN ${v} IN ('0', '+0', '-0') THEN 0.0 WHEN NOT regexp_full_match(${v}, ${sqlStr(WHOLE)}) THEN NULL WHEN starts_with(${v}, '-') THEN -${sum} ELSE ${sum} END`;
  return `CASE WHEN ${v} IS NULL THEN NULL ELSE coalesce(${single}, ${general}) END`;
}

/** The same grammar in JS (the live counter of `audit serve`): milliseconds, or null if not a Go duration. */
export function parseGoDurationMs(text: string): number | null {
  if (text === "0" || text === "+0" || text === "-0") return 0;
  if (!new RegExp(`^${WHOLE}$`).test(text)) return null;
  let ms = 0;
  for (const m of text.matchAll(new RegExp(COMPONENT, "g"))) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return text.startsWith("-") ? -ms : ms;
}

/**
 * The annotations of one event whose value is not a Go duration (stored as NULL): for the live
 * counter. Non-string values (a number, an object) are malformed too.
 */
export function malformedLatencyAnnotations(annotations: unknown): { key: LatencyKey; value: string }[] {
  if (annotations === null || typeof annotations !== "object" || Array.isArray(annotations)) return [];
  const a = annotations as Record<string, unknown>;
  const out: { key: LatencyKey; value: string }[] = [];
  for (const key of KEYS) {
    const v = a[LATENCY_ANNOTATION_PREFIX + key];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string" || parseGoDurationMs(v) === null) out.push({ key, value: typeof v === "string" ? v : JSON.stringify(v) });
  }
  return out;
}

/** What the API server threshold is (for messages and docs): annotations only above it. */
export const ANNOTATION_THRESHOLD_MS = 500;

export const NO_ANNOTATIONS_NOTE =
  `no request in the selection carries ${LATENCY_ANNOTATION_PREFIX}* annotations, so there is no split of where the time went: ` +
  `kube-apiserver adds them only to requests slower than ${ANNOTATION_THRESHOLD_MS} ms (and not at all before the latency trackers existed; ` +
  "a store written before these columns existed has them empty)";
