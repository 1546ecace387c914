import { InvalidArgumentError } from "commander";
import { parseDuration } from "../core/duration.js";

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/** `--since/--until`: an RFC3339 time, or a Go duration meaning "that long before now". */
export function parseTimeArg(v: string, now: () => number = Date.now): Date {
  const s = v.trim();
  if (RFC3339.test(s)) {
    const t = Date.parse(s);
    if (!Number.isNaN(t)) return new Date(t);
  }
  let ms: number;
  try {
    ms = parseDuration(s);
  } catch {
    throw new InvalidArgumentError(`expected an RFC3339 time (2024-05-01T12:00:00Z) or a duration ago (90m, 24h), got "${v}".`);
  }
  return new Date(now() - ms);
}

/** ADDR for listeners: "host:port", ":port" or "[::1]:port". */
export function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(v.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new InvalidArgumentError(`expected HOST:PORT or :PORT, got "${v}".`);
  return { host: m[1] ?? (m[2] || "0.0.0.0"), port };
}
