// Loads what a real kube-apiserver v1.25 answered (../shared/kube/recorded-v1.25, beside the
// checkout as in CI; WATCH_AUDITOR_SHARED_KUBE overrides). A missing folder is an error naming it,
// never a skipped suite: without the recordings the conformance suite proves nothing.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SHARED_KUBE_DIR } from "../kube-apiserver/openapi.js";

export const RECORDED_DIR = join(SHARED_KUBE_DIR, "recorded-v1.25");

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
}

export interface WatchFrame {
  type: string;
  object: Record<string, unknown>;
}

export interface RecordedResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: unknown;
  elapsedMs?: number;
  events?: WatchFrame[];
  eventOffsetsMs?: number[];
  endedBy?: "server-timeout" | "server-close" | "client-close" | "server-response";
}

export interface Exchange {
  id: string;
  description: string;
  as: string;
  request: RecordedRequest;
  response: RecordedResponse;
  during?: string[];
  notes?: unknown;
}

export function requireRecordedDir(): string {
  if (!existsSync(RECORDED_DIR))
    throw new Error(
      `recordings of a real kube-apiserver not found: ${RECORDED_DIR} does not exist (clone the repo beside shared/, or set WATCH_AUDITOR_SHARED_KUBE to the folder holding recorded-v1.25/ and crds/)`,
    );
  return RECORDED_DIR;
}

/** Every recorded exchange, in recording order; a malformed line fails naming file:line. */
export function loadExchanges(): Exchange[] {
  const file = join(requireRecordedDir(), "exchanges.jsonl");
  const out: Exchange[] = [];
  const ids = new Set<string>();
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      if (line.trim() === "") return;
      let x: Exchange;
      try {
        x = JSON.parse(line) as Exchange;
      } catch (err) {
        throw new Error(`${file}:${i + 1}: not JSON: ${(err as Error).message}`);
      }
      if (typeof x.id !== "string" || !x.request || !x.response || typeof x.response.status !== "number")
        throw new Error(`${file}:${i + 1}: not an exchange (id, request, response.status)`);
      if (ids.has(x.id)) throw new Error(`${file}:${i + 1}: duplicate id ${x.id}`);
      ids.add(x.id);
      out.push(x);
    });
  return out;
}

export function exchangeById(all: Exchange[], id: string): Exchange {
  const x = all.find((e) => e.id === id);
  if (!x) throw new Error(`no recorded exchange ${id} in ${RECORDED_DIR}/exchanges.jsonl`);
  return x;
}
