// Types for parse-prometheus-text-format 1.1.1 (it ships none): the output shape its README
// documents, compatible with prom2json. Values stay strings, as in the text.
declare module "parse-prometheus-text-format" {
  export interface PromSample {
    labels?: Record<string, string>;
    /** COUNTER, GAUGE, UNTYPED. */
    value?: string;
    /** HISTOGRAM: le → cumulative count. */
    buckets?: Record<string, string>;
    /** SUMMARY: quantile → value. */
    quantiles?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  export interface PromFamily {
    name: string;
    help: string;
    type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
    metrics: PromSample[];
  }
  /** Throws Error("Encountered invalid line: <line>") on a line it cannot read. */
  export default function parsePrometheusTextFormat(text: string): PromFamily[];
}
