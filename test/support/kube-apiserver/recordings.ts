// The exchanges a real kube-apiserver v1.25 answered (../shared/kube/recorded-v1.25/exchanges.jsonl,
// format in its README), by id, for tests that compare the test server's answers with them.
// One loader for the recording: conformance/recording.ts.
import { loadExchanges, RECORDED_DIR } from "../conformance/recording.js";

export interface RecordedExchange {
  id: string;
  description?: string;
  request: { method: string; path: string; query: Record<string, string>; headers: Record<string, string>; body: unknown };
  response: { status: number; headers: Record<string, unknown>; body: unknown };
}

let byId: Map<string, RecordedExchange> | undefined;

/** The recorded exchange `id`; throws naming the folder when the recordings are not there. */
export function recordedExchange(id: string): RecordedExchange {
  byId ??= new Map(loadExchanges().map((e) => [e.id, e as unknown as RecordedExchange]));
  const e = byId.get(id);
  if (!e) throw new Error(`no recorded exchange ${JSON.stringify(id)} in ${RECORDED_DIR}/exchanges.jsonl`);
  return structuredClone(e);
}

/** The recorded request's path and query, with the namespace moved to `namespace`. */
export function recordedUrl(e: RecordedExchange, namespace: string): string {
  const path = e.request.path.replace(/\/namespaces\/[^/]+\//, `/namespaces/${namespace}/`);
  const q = new URLSearchParams(e.request.query).toString();
  return q ? `${path}?${q}` : path;
}
