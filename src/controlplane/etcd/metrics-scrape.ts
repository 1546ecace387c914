// etcd's own Prometheus /metrics: the backend quota (`etcd_server_quota_backend_bytes`, etcd ≥ 3.4)
// is not in the Status RPC, only here. Parsed with parse-prometheus-text-format.
import parsePrometheusTextFormat, { type PromFamily } from "parse-prometheus-text-format";
import { httpGet, type TlsMaterial } from "./connection.js";

/** Where an endpoint's /metrics is: the given metrics URL (a base or a full /metrics URL), else the endpoint itself. */
export function metricsUrlFor(endpoint: string, metricsUrl?: string): string {
  const base = new URL(metricsUrl ?? endpoint);
  if (base.pathname === "/" || base.pathname === "") base.pathname = "/metrics";
  return base.toString();
}

export async function scrapeEtcdMetrics(url: string, tls: TlsMaterial, timeoutMs: number): Promise<PromFamily[]> {
  const text = await httpGet(url, tls, timeoutMs);
  try {
    return parsePrometheusTextFormat(text);
  } catch (err) {
    throw new Error(`${url}: not Prometheus text: ${(err as Error).message.slice(0, 200)}`);
  }
}

/** The value of an unlabelled gauge, when the family is there and the value a finite number. */
export function gaugeValue(families: PromFamily[], name: string): number | undefined {
  const f = families.find((x) => x.name === name);
  const v = Number(f?.metrics[0]?.value);
  return f !== undefined && Number.isFinite(v) ? v : undefined;
}

export const QUOTA_METRIC = "etcd_server_quota_backend_bytes";
