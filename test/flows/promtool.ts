import { spawnSync } from "node:child_process";

/** Runs `promtool check metrics` on an exposition; returns its complaints (empty when clean). */
export function promtoolCheck(text: string): string {
  const r = spawnSync("/usr/bin/promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  if (r.error) throw r.error;
  return r.status === 0 ? "" : `${r.stdout}${r.stderr}`.trim() || `exit ${r.status}`;
}

/** The value of one sample line `name{labels} value` (labels given as a full `{...}` string or omitted). */
export function sample(text: string, name: string, labels = ""): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}${labels} `)) return Number(line.slice(name.length + labels.length + 1));
  }
  return undefined;
}
