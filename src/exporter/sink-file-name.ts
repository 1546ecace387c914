import { createHash } from "node:crypto";

/**
 * A file-name stem for a sink (cursor and dead-letter files): readable, and unique
 * thanks to a short hash, because different URLs can sanitize to the same text.
 * Query strings are left out of the readable part: they may carry options or secrets.
 */
export function sinkFileStem(sinkName: string): string {
  const readable = sinkName
    .split("?")[0]!
    .replace(/^[a-z]+:\/\//i, (m) => m.slice(0, -3) + "_")
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/^[._]+/, "")
    .slice(0, 80);
  const hash = createHash("sha256").update(sinkName).digest("hex").slice(0, 10);
  return `${readable || "sink"}-${hash}`;
}
