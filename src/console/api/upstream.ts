// One call to a service the console reads on the browser's behalf (Prometheus, the auditor):
// bounded in time (the whole answer, not only its headers) and in size, redirects never followed
// (a token goes to the configured URL only), and every failure an UpstreamError (502) naming the
// service and URL.
import { errorMessage } from "../../core/errors.js";
import { UpstreamError } from "../http.js";

export interface UpstreamAnswer {
  status: number;
  text: string;
}

export interface UpstreamCall {
  /** "Prometheus http://…/api/v1/query", "auditor http://…/status": the start of every error. */
  where: string;
  timeoutMs: number;
  maxBytes: number;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: URLSearchParams;
}

/** Reads a response body up to `limit` bytes; throws naming the URL when it is larger. */
async function readLimited(res: Response, limit: number, what: string): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel().catch(() => undefined);
    throw new UpstreamError(`${what}: answer of ${declared} bytes is larger than the limit of ${limit} bytes`);
  }
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new UpstreamError(`${what}: answer is larger than the limit of ${limit} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export async function fetchUpstream(url: string, c: UpstreamCall): Promise<UpstreamAnswer> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: c.method ?? "GET",
      headers: c.headers ?? {},
      ...(c.body ? { body: c.body } : {}),
      signal: AbortSignal.timeout(c.timeoutMs),
      redirect: "manual",
    });
  } catch (err) {
    const e = err as Error;
    throw new UpstreamError(`${c.where}: ${e.name === "TimeoutError" ? `no answer within ${c.timeoutMs} ms` : errorMessage((e as { cause?: unknown }).cause ?? e)}`);
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel().catch(() => undefined);
    throw new UpstreamError(`${c.where}: HTTP ${res.status} redirect (not followed: the console calls the configured URL only)`);
  }
  try {
    return { status: res.status, text: await readLimited(res, c.maxBytes, c.where) };
  } catch (err) {
    if (err instanceof UpstreamError) throw err;
    const e = err as Error;
    throw new UpstreamError(`${c.where}: ${e.name === "TimeoutError" ? `answer not complete within ${c.timeoutMs} ms` : errorMessage(e)}`);
  }
}
