// The SubjectAccessReview resource attributes an HTTP API authorizes against, and their flag syntax.

/** The SubjectAccessReview resourceAttributes (all strings; absent = not set). */
export interface ResourceAttributes {
  namespace?: string;
  verb: string;
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  name?: string;
}

const ATTRIBUTE_KEYS = ["namespace", "verb", "group", "version", "resource", "subresource", "name"] as const;

/**
 * Parses `key=value,...` (keys: namespace, verb, group, version, resource, subresource, name;
 * `apiGroup` is accepted for group). Throws with a message naming the offending part.
 */
export function parseResourceAttributes(text: string): Partial<ResourceAttributes> {
  const out: Record<string, string> = {};
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new Error(`expected key=value, got "${part}"`);
    let key = part.slice(0, eq).trim();
    if (key === "apiGroup") key = "group";
    if (!(ATTRIBUTE_KEYS as readonly string[]).includes(key)) throw new Error(`unknown key "${key}" (one of ${ATTRIBUTE_KEYS.join(", ")})`);
    if (key in out) throw new Error(`key "${key}" given twice`);
    out[key] = part.slice(eq + 1).trim();
  }
  return out;
}
