// Compares a recorded answer with the test server's, after the normalization documented in
// README.md: timestamps compare by format, generated values through Bindings, everything else
// exactly. Returns every difference with its path; the suite reports the first.
import type { Bindings} from "./bindings.js";
import { decodeContinue, UUID } from "./bindings.js";

export interface Difference {
  path: string;
  recorded: unknown;
  actual: unknown;
  why?: string;
}

const TIME = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/** The format of a timestamp: its fraction digits and zone (values differ from run to run). */
function timeShape(s: string): string | undefined {
  const m = TIME.exec(s);
  return m ? `<time${m[2] ? `.${m[2].length - 1}` : ""}${m[3] === "Z" ? "Z" : "offset"}>` : undefined;
}

export interface CompareOptions {
  /** Paths (patterns as in the allow-list) whose arrays compare as sets, sorted by namespace/name. */
  unordered?: RegExp[];
  /** Paths of resourceVersions whose order is checked (the request's own write). */
  orderedRv?: string[];
}

function objectKey(v: unknown): string {
  const entry = v as { manager?: string; operation?: string; subresource?: string; apiVersion?: string } | null;
  if (typeof entry?.manager === "string" && typeof entry.operation === "string") return `${entry.manager}|${entry.operation}|${entry.subresource ?? ""}|${entry.apiVersion ?? ""}`;
  const m = (v as { metadata?: { namespace?: string; name?: string } } | null)?.metadata;
  const o = (v as { object?: { metadata?: { namespace?: string; name?: string } } } | null)?.object?.metadata;
  const meta = m ?? o;
  return meta ? `${meta.namespace ?? ""}/${meta.name ?? ""}` : JSON.stringify(v);
}

export class Comparer {
  private readonly looseRv = new Set<string>();

  constructor(
    private readonly b: Bindings,
    private readonly opts: CompareOptions = {},
  ) {}

  compare(recorded: unknown, actual: unknown, path: string, out: Difference[] = []): Difference[] {
    const key = path.slice(path.lastIndexOf(".") + 1);
    if (typeof recorded === "string" && typeof actual === "string") {
      this.compareString(recorded, actual, path, key, out);
      return out;
    }
    if (Array.isArray(recorded) && Array.isArray(actual)) {
      if (recorded.length !== actual.length) {
        out.push({ path: `${path}.length`, recorded: recorded.length, actual: actual.length });
        return out;
      }
      let r = recorded;
      let a = actual;
      if (this.opts.unordered?.some((re) => re.test(path))) {
        r = [...recorded].sort((x, y) => objectKey(x).localeCompare(objectKey(y)));
        a = [...actual].sort((x, y) => objectKey(x).localeCompare(objectKey(y)));
      }
      r.forEach((v, i) => this.compare(v, a[i], `${path}[${i}]`, out));
      return out;
    }
    if (isObject(recorded) && isObject(actual)) {
      // A list's RV, and a bookmark's, is the store revision: compared loosely (Bindings.rv.bindLoose).
      const listLike = Array.isArray(recorded.items) || Array.isArray(recorded.rows) || recorded.type === "BOOKMARK";
      const meta = (recorded.type === "BOOKMARK" ? (recorded.object as Record<string, unknown> | undefined)?.metadata : recorded.metadata) as Record<string, unknown> | undefined;
      const ameta = (actual.type === "BOOKMARK" ? (actual.object as Record<string, unknown> | undefined)?.metadata : actual.metadata) as Record<string, unknown> | undefined;
      if (listLike && typeof meta?.resourceVersion === "string" && typeof ameta?.resourceVersion === "string") {
        this.looseRv.add(`${path}${recorded.type === "BOOKMARK" ? ".object" : ""}.metadata.resourceVersion`);
      }
      // Keys can hold generated values too (managedFields' k:{"uid":"…"}): translated first.
      const keyFor = new Map(Object.keys(recorded).map((k) => [k, k.includes("{") || k.includes("-") ? this.b.translateText(k, false) : k]));
      const matched = new Set<string>();
      for (const [k, ak] of keyFor) {
        if (!Object.hasOwn(actual, ak)) out.push({ path: `${path}.${k}`, recorded: recorded[k], actual: undefined, why: "missing" });
        else {
          matched.add(ak);
          this.compare(recorded[k], actual[ak], `${path}.${k}`, out);
        }
      }
      for (const k of Object.keys(actual)) if (!matched.has(k)) out.push({ path: `${path}.${k}`, recorded: undefined, actual: actual[k], why: "unexpected" });
      return out;
    }
    if (recorded !== actual) out.push({ path, recorded, actual });
    return out;
  }

  private compareString(r: string, a: string, path: string, key: string, out: Difference[]): void {
    if (r === a) {
      // Equal by chance or by design; still record the binding so later uses stay consistent.
      if (key === "resourceVersion" || UUID.test(r)) this.bindOrReport(r, a, path, key, out);
      return;
    }
    if (this.b.matchRedacted(r, a)) return;
    const rt = timeShape(r);
    if (rt !== undefined) {
      const at = timeShape(a);
      if (rt !== at) out.push({ path, recorded: r, actual: a, why: `timestamp format ${rt} vs ${at ?? "not a timestamp"}` });
      return;
    }
    if (key === "continue") {
      const rd = decodeContinue(r);
      const ad = decodeContinue(a);
      if (!rd || !ad) {
        out.push({ path, recorded: r, actual: a, why: "continue token not decodable" });
        return;
      }
      if (rd.v !== ad.v) out.push({ path: `${path}(v)`, recorded: rd.v, actual: ad.v });
      const whyRv = this.b.rv.bindLoose(String(rd.rv), String(ad.rv));
      if (whyRv) out.push({ path: `${path}(rv)`, recorded: rd.rv, actual: ad.rv, why: whyRv });
      this.compareString(rd.start, ad.start, `${path}(start)`, "start", out);
      const whyTok = this.b.token.bind(r, a);
      if (whyTok) out.push({ path, recorded: r, actual: a, why: whyTok });
      return;
    }
    if (this.bindOrReport(r, a, path, key, out)) return;
    const named = this.b.bindRandomName(r, a);
    if (named === undefined) return;
    if (named !== "no") {
      out.push({ path, recorded: r, actual: a, why: named });
      return;
    }
    const translated = this.b.translateText(r, key === "message");
    if (translated !== a) out.push({ path, recorded: r, actual: a, ...(translated !== r && { why: `recorded text translated: ${translated}` }) });
  }

  /** resourceVersions and uids: true when the pair was handled (bound or reported). */
  private bindOrReport(r: string, a: string, path: string, key: string, out: Difference[]): boolean {
    let why: string | undefined;
    if (key === "resourceVersion" && /^[0-9]+$/.test(r))
      why = this.looseRv.has(path) ? this.b.rv.bindLoose(r, a) : this.b.rv.bind(r, a, this.opts.orderedRv?.includes(path) ?? false);
    else if (UUID.test(r) && UUID.test(a)) why = this.b.uid.bind(r, a);
    else return false;
    if (why) out.push({ path, recorded: r, actual: a, why });
    return true;
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function describeDifference(d: Difference): string {
  const show = (v: unknown) => (v === undefined ? "(absent)" : JSON.stringify(v)?.slice(0, 300));
  return `${d.path}: recorded ${show(d.recorded)}, test server ${show(d.actual)}${d.why ? ` (${d.why})` : ""}`;
}
