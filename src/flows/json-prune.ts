/**
 * JSON.parse that builds only the parts of a document a caller reads.
 *
 * A Tetragon kprobe line is ~1.5 KB, of which the flow pipeline needs ~250 bytes (function name,
 * arguments, pod identity, node). Building every object of the line with JSON.parse was the
 * largest cost per event; this scanner steps over the rest (strings by indexOf) and hands only
 * the wanted values to JSON.parse.
 *
 * The whole document is checked for JSON syntax, with one leniency: inside strings that are
 * skipped, raw control characters are not looked for (they are invisible to the caller). Any
 * syntax error makes the caller fall back to JSON.parse for the exact message (see parseJsonLine).
 */

/** Which fields of an object to build: `true` builds the whole value, a spec prunes it too. */
export interface PruneSpec {
  readonly fields: ReadonlyMap<string, true | PruneSpec>;
  /** Keep the names of the other fields, with null values (e.g. to tell event types apart). */
  readonly keepOtherKeys?: boolean;
}

export function pruneSpec(fields: Record<string, true | PruneSpec>, keepOtherKeys = false): PruneSpec {
  return { fields: new Map(Object.entries(fields)), keepOtherKeys };
}

const MAX_DEPTH = 256;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// After a backslash: one of "\/bfnrt, or u and four hex digits.
const ESCAPE = /["\\/bfnrt]|u[0-9a-fA-F]{4}/y;

class PrunedParser {
  private pos = 0;
  /** Index of the next backslash at or after the last search (Infinity: none left). */
  private nextBackslash = -1;

  constructor(private readonly s: string) {}

  parse(spec: PruneSpec): unknown {
    const s = this.s;
    let i = this.ws(0);
    let out: unknown;
    if (s.charCodeAt(i) === 123 /* { */) {
      out = this.object(i, spec, 1);
      i = this.pos;
    } else {
      const end = this.skip(i, 1);
      out = JSON.parse(s.slice(i, end));
      i = end;
    }
    if (this.ws(i) !== s.length) this.fail(i, "unexpected data after the JSON value");
    return out;
  }

  private fail(at: number, what: string): never {
    throw new SyntaxError(`${what} at position ${at}`);
  }

  private ws(i: number): number {
    const s = this.s;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else return i;
    }
  }

  /** i is at an opening quote; returns the index after the closing quote. */
  private string(i: number): number {
    const s = this.s;
    const close = s.indexOf('"', i + 1);
    if (close < 0) this.fail(i, "unterminated string");
    if (this.nextBackslash <= i) {
      const b = s.indexOf("\\", i + 1);
      this.nextBackslash = b < 0 ? Infinity : b;
    }
    if (this.nextBackslash > close) return close + 1;
    // Escapes inside: walk the string, validating each escape.
    let k = i + 1;
    for (;;) {
      const c = s.charCodeAt(k);
      if (Number.isNaN(c)) this.fail(i, "unterminated string");
      if (c === 34) break;
      if (c === 92) {
        ESCAPE.lastIndex = k + 1;
        if (!ESCAPE.test(s)) this.fail(k, "bad escape in string");
        k = ESCAPE.lastIndex;
      } else k++;
    }
    this.nextBackslash = -1;
    return k + 1;
  }

  private key(i: number): string {
    const end = this.string(i);
    this.pos = end;
    const raw = this.s.slice(i + 1, end - 1);
    return raw.includes("\\") ? (JSON.parse(this.s.slice(i, end)) as string) : raw;
  }

  /** Steps over one value starting at i (no leading whitespace); returns the index after it. */
  private skip(i: number, depth: number): number {
    const s = this.s;
    const c = s.charCodeAt(i);
    if (c === 34) return this.string(i);
    if (c === 123 || c === 91) {
      if (depth > MAX_DEPTH) this.fail(i, "nested too deep");
      const closing = c === 123 ? 125 : 93;
      i = this.ws(i + 1);
      if (s.charCodeAt(i) === closing) return i + 1;
      for (;;) {
        if (c === 123) {
          if (s.charCodeAt(i) !== 34) this.fail(i, "expected a field name");
          i = this.ws(this.string(i));
          if (s.charCodeAt(i) !== 58) this.fail(i, "expected ':'");
          i = this.ws(i + 1);
        }
        i = this.ws(this.skip(i, depth + 1));
        const d = s.charCodeAt(i);
        if (d === closing) return i + 1;
        if (d !== 44) this.fail(i, "expected ',' or a closing bracket");
        i = this.ws(i + 1);
      }
    }
    if (c === 116 && s.startsWith("true", i)) return i + 4;
    if (c === 102 && s.startsWith("false", i)) return i + 5;
    if (c === 110 && s.startsWith("null", i)) return i + 4;
    NUMBER.lastIndex = i;
    if ((c === 45 || (c >= 48 && c <= 57)) && NUMBER.test(s)) return NUMBER.lastIndex;
    return this.fail(i, "unexpected character");
  }

  /** i is at '{'; builds the fields the spec names; leaves pos after '}'. */
  private object(i: number, spec: PruneSpec, depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) this.fail(i, "nested too deep");
    const s = this.s;
    const out: Record<string, unknown> = {};
    i = this.ws(i + 1);
    if (s.charCodeAt(i) === 125) {
      this.pos = i + 1;
      return out;
    }
    for (;;) {
      if (s.charCodeAt(i) !== 34) this.fail(i, "expected a field name");
      const name = this.key(i);
      i = this.ws(this.pos);
      if (s.charCodeAt(i) !== 58) this.fail(i, "expected ':'");
      i = this.ws(i + 1);
      const want = spec.fields.get(name);
      let value: unknown = null;
      if (want !== undefined && want !== true && s.charCodeAt(i) === 123) {
        value = this.object(i, want, depth + 1);
        i = this.pos;
      } else {
        const end = this.skip(i, depth + 1);
        if (want !== undefined) value = JSON.parse(s.slice(i, end));
        i = end;
      }
      // Like JSON.parse: a later duplicate wins, and "__proto__" is an own field.
      if (want !== undefined || spec.keepOtherKeys) {
        if (name === "__proto__") Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
        else out[name] = value;
      }
      i = this.ws(i);
      const d = s.charCodeAt(i);
      if (d === 125) {
        this.pos = i + 1;
        return out;
      }
      if (d !== 44) this.fail(i, "expected ',' or '}'");
      i = this.ws(i + 1);
    }
  }
}

/**
 * Parses a JSON text, building only what `spec` names. Valid JSON always parses (a value this
 * scanner cannot take is handed to JSON.parse whole); invalid JSON throws JSON.parse's own
 * SyntaxError, so error messages do not depend on which path ran.
 */
export function parsePruned(text: string, spec: PruneSpec): unknown {
  try {
    return new PrunedParser(text).parse(spec);
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    // JSON.parse decides: it reports the exact error (positions in the whole line), or parses
    // what is nested deeper than this scanner follows.
    return JSON.parse(text) as unknown;
  }
}
