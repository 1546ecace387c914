// Consistent mappings between what the recorded server generated and what the test server
// generates: resourceVersions, uids, random name suffixes and continue tokens. A value is bound
// the first time both sides show it at the same place; from then on the same recorded value must
// meet the same actual value everywhere (a bijection), so an RV that must stay the same, a uid that
// must be reused or a continue token that must be passed back are still checked, not ignored.
// resourceVersions must also keep their order: recorded r1 < r2 implies actual a1 < a2.

/** Characters Kubernetes uses for generateName suffixes and pod-template hashes. */
export const RANDOM_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
const RANDOM_SEGMENT = new RegExp(`^[${RANDOM_ALPHABET}]{5,10}$`);
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class Binder {
  private readonly fwd = new Map<string, string>();
  private readonly back = new Map<string, string>();

  constructor(private readonly what: string) {}

  /** Binds recorded ↔ actual; returns a reason when that contradicts an earlier binding. */
  bind(recorded: string, actual: string): string | undefined {
    const a = this.fwd.get(recorded);
    if (a !== undefined) return a === actual ? undefined : `${this.what} ${recorded} stood for ${a} earlier, here for ${actual}`;
    const r = this.back.get(actual);
    if (r !== undefined) return `${this.what} ${actual} already stands for recorded ${r}, here for ${recorded}`;
    this.fwd.set(recorded, actual);
    this.back.set(actual, recorded);
    return undefined;
  }

  actual(recorded: string): string | undefined {
    return this.fwd.get(recorded);
  }

  entries(): [string, string][] {
    return [...this.fwd.entries()];
  }
}

export class RvBinder {
  private readonly pairs = new Map<number, number>();
  private readonly back = new Map<number, number>();
  /** Pairs whose order is checked: RVs of the recorder's own writes (see bind). */
  private readonly ordered = new Map<number, number>();
  /** Lists' and bookmarks' RVs: the store's revision, which other writers also move (see bindLoose). */
  private readonly loose = new Map<number, number>();

  /**
   * A list's or bookmark's resourceVersion is the storage revision when it was served. On the
   * recorded cluster, other writers (controllers renewing leases in kube-system) moved that revision
   * between our writes, so it need not equal any object's RV, while on the test server it does:
   * such RVs are checked for order against the objects' RVs and for consistency with themselves
   * (every page of a list carries the same one), not for a one-to-one match.
   */
  bindLoose(recorded: string, actual: string): string | undefined {
    if (!/^[0-9]+$/.test(recorded) || !/^[0-9]+$/.test(actual)) return recorded === actual ? undefined : `resourceVersion ${JSON.stringify(recorded)} vs ${JSON.stringify(actual)}`;
    const r = Number(recorded);
    const a = Number(actual);
    const strict = this.pairs.get(r);
    if (strict !== undefined) return strict === a ? undefined : `resourceVersion ${r} stood for ${strict} earlier, here for ${a}`;
    const known = this.loose.get(r);
    if (known !== undefined && known !== a) return `list resourceVersion ${r} stood for ${known} earlier, here for ${a}`;
    for (const [r2, a2] of this.ordered) {
      if ((r2 < r && a2 > a) || (r2 > r && a2 < a)) return `resourceVersion order: recorded ${r2} ${r2 < r ? "<" : ">"} ${r}, but actual ${a2} ${a2 < a ? "<" : ">"} ${a}`;
    }
    this.loose.set(r, a);
    return undefined;
  }

  /**
   * `ordered`: the RV of an object the replayed request itself wrote. Those must keep the recorded
   * order; RVs of objects other writers (controllers) produced concurrently are bound one-to-one
   * but their order relative to ours may differ from run to run, as it did on the real cluster.
   */
  bind(recorded: string, actual: string, ordered = true): string | undefined {
    if (!/^[0-9]+$/.test(recorded) || !/^[0-9]+$/.test(actual)) return recorded === actual ? undefined : `resourceVersion ${JSON.stringify(recorded)} vs ${JSON.stringify(actual)}`;
    const r = Number(recorded);
    const a = Number(actual);
    const known = this.pairs.get(r);
    if (known !== undefined) return known === a ? undefined : `resourceVersion ${r} stood for ${known} earlier, here for ${a}`;
    const knownR = this.back.get(a);
    if (knownR !== undefined) return `resourceVersion ${a} already stands for recorded ${knownR}, here for ${r}`;
    if (ordered)
      for (const [r2, a2] of this.ordered) {
        if ((r2 < r && a2 >= a) || (r2 > r && a2 <= a))
          return `resourceVersion order: recorded ${r2} ${r2 < r ? "<" : ">"} ${r}, but actual ${a2} ${a2 < a ? "<" : a2 > a ? ">" : "="} ${a}`;
      }
    this.pairs.set(r, a);
    this.back.set(a, r);
    if (ordered) this.ordered.set(r, a);
    return undefined;
  }

  /**
   * The actual resourceVersion to send where the recording sent `recorded`: the bound one, else
   * one in the same place relative to the bound ones (past the newest: the same distance beyond it,
   * so "1000000 in the future" stays that; between two: the older bound one, the same state as far
   * as the test server's writes go; before all: unchanged).
   */
  toActual(recorded: string): string {
    if (!/^[0-9]+$/.test(recorded)) return recorded;
    const r = Number(recorded);
    const exact = this.pairs.get(r) ?? this.loose.get(r);
    if (exact !== undefined) return String(exact);
    let floor: [number, number] | undefined;
    const all = [...this.pairs, ...this.loose];
    for (const p of all) if (p[0] < r && (!floor || p[0] > floor[0])) floor = p;
    if (!floor) return recorded;
    const newest = Math.max(...all.map((p) => p[0]));
    if (floor[0] !== newest) return String(floor[1]);
    // Past everything bound: a deliberately far-future RV keeps its distance; a near one (the
    // recorder read it from a list we did not record, while lease renewals moved the real revision)
    // is the newest revision the test server has shown.
    if (r - floor[0] >= 100_000) return String(floor[1] + (r - floor[0]));
    return String(Math.max(...all.map((p) => p[1])));
  }
}

export interface ContinueToken {
  v: string;
  rv: number;
  start: string;
}

export function decodeContinue(token: string): ContinueToken | undefined {
  try {
    const t = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as ContinueToken;
    return typeof t === "object" && t !== null && typeof t.rv === "number" ? t : undefined;
  } catch {
    return undefined;
  }
}

export function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify(t)).toString("base64url");
}

/** The recording's stand-in for every issued token (README: TokenRequest tokens are redacted). */
export const REDACTED_TOKEN = "<redacted-token>";
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export class Bindings {
  /** The first token the test server issued where the recording shows REDACTED_TOKEN. */
  issuedToken: string | undefined;

  /** A redacted token matches any JWT; the first one seen is what later requests send for it. */
  matchRedacted(recorded: string, actual: string): boolean {
    if (recorded !== REDACTED_TOKEN || !JWT.test(actual)) return false;
    this.issuedToken ??= actual;
    return true;
  }

  readonly rv = new RvBinder();
  readonly uid = new Binder("uid");

  readonly random = new Binder("random name part");
  readonly token = new Binder("continue token");

  /**
   * Binds two strings that differ only in random name parts ("gen-ftzhq" vs "gen-x7k2p",
   * "web-5d8f7c9b4-abcde"): same number of "-" separated parts, equal or both random-looking.
   */
  bindRandomName(recorded: string, actual: string): string | undefined | "no" {
    const rp = recorded.split("-");
    const ap = actual.split("-");
    if (rp.length !== ap.length || rp.length < 2) return "no";
    for (let i = 0; i < rp.length; i++) {
      if (rp[i] === ap[i]) continue;
      if (!RANDOM_SEGMENT.test(rp[i]!) || !RANDOM_SEGMENT.test(ap[i]!) || rp[i]!.length !== ap[i]!.length) return "no";
    }
    for (let i = 0; i < rp.length; i++) {
      if (rp[i] === ap[i]) continue;
      const why = this.random.bind(rp[i]!, ap[i]!);
      if (why) return why;
    }
    return undefined;
  }

  /** A recorded string with every bound uid, random name part and resourceVersion replaced by its actual value. */
  translateText(text: string, numbers: boolean): string {
    // One pass, so that the digits inside a uid are never taken for a resourceVersion.
    const uidOrNumber = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9]{3,}\b/g;
    let out = text.replace(uidOrNumber, (m) => (m.length === 36 ? (this.uid.actual(m) ?? m) : numbers ? this.rv.toActual(m) : m));
    out = out.replace(new RegExp(`(?<=-)[${RANDOM_ALPHABET}]{5,10}\\b`, "g"), (s) => this.random.actual(s) ?? s);
    return out;
  }

  /** The continue token to send for a recorded one: the one the test server gave for it, else re-encoded. */
  continueToSend(recorded: string): string {
    const bound = this.token.actual(recorded);
    if (bound !== undefined) return bound;
    const t = decodeContinue(recorded);
    if (!t) return recorded;
    return encodeContinue({ ...t, rv: Number(this.rv.toActual(String(t.rv))) });
  }
}
