// The one allow-list of what the test server does not (or must not) imitate, with the reason for
// each entry: allowlist.yaml beside this file. An entry names an exchange id (or a glob such as
// "table/*") and optionally the answer paths it excuses; without paths it excuses the whole
// exchange (which is still replayed, so the state stays in step). Entries that excuse nothing
// any more fail the suite, so the list only ever shrinks to what is true.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import type { Difference } from "./compare.js";

export interface AllowEntry {
  id: string;
  paths?: string[];
  reason: string;
}

export const ALLOWLIST_FILE = fileURLToPath(new URL("./allowlist.yaml", import.meta.url));

/** `*` stands for any run of `segment`, `[*]` for any list index; everything else is literal. */
function globToRegExp(glob: string, segment: string): RegExp {
  const parts = glob.split(/(\[\*\]|\*)/);
  const re = parts.map((p) => (p === "[*]" ? "\\[\\d+\\]" : p === "*" ? segment : p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))).join("");
  return new RegExp(`^${re}`);
}

export class AllowList {
  readonly entries: AllowEntry[];
  private readonly used = new Set<AllowEntry>();

  constructor(file = ALLOWLIST_FILE) {
    const doc = YAML.parse(readFileSync(file, "utf8")) as unknown;
    if (!Array.isArray(doc)) throw new Error(`${file}: must be a YAML list of {id, paths?, reason}`);
    this.entries = doc.map((e, i) => {
      const where = `${file}: entry ${i + 1}`;
      if (typeof e !== "object" || e === null) throw new Error(`${where}: not a mapping`);
      const { id, paths, reason } = e as Record<string, unknown>;
      if (typeof id !== "string" || id === "") throw new Error(`${where}: id must be a non-empty string`);
      if (typeof reason !== "string" || reason.trim().length < 10) throw new Error(`${where} (${id}): reason must say why (at least a sentence)`);
      if (paths !== undefined && (!Array.isArray(paths) || paths.some((p) => typeof p !== "string")))
        throw new Error(`${where} (${id}): paths must be a list of strings`);
      return { id, reason, ...(paths !== undefined && { paths: paths as string[] }) };
    });
  }

  /** The entry that excuses this difference of this exchange, if any (and marks it used). */
  excuse(id: string, d: Difference): AllowEntry | undefined {
    for (const e of this.entries) {
      if (!new RegExp(`${globToRegExp(e.id, ".*").source}$`).test(id)) continue;
      const covered =
        e.paths === undefined ||
        e.paths.some((p) => {
          const re = globToRegExp(p, "[^.\\[]*");
          const m = re.exec(d.path);
          return m !== null && (m[0].length === d.path.length || ".[(".includes(d.path[m[0].length]!));
        });
      if (covered) {
        this.used.add(e);
        return e;
      }
    }
    return undefined;
  }

  unused(): AllowEntry[] {
    return this.entries.filter((e) => !this.used.has(e));
  }
}
