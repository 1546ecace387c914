// The small expression language of reaction probes' expectations (docs/auditor.md,
// "Expression language"). Hand-written recursive-descent parser and a pure evaluator:
//
//   condition := "exists" | "not" "exists"                       (the object itself)
//              | path "exists" | path "not" "exists"
//              | path ("==" | "!=" | "<" | "<=" | ">" | ">=") literal
//              | path "in" "[" literal ("," literal)* "]"
//   path      := ["$" ["."]] name step*        step := "." name | "[" int "]" | "[" string "]" | "[*]" | "[?(" filter ")]"
//   filter    := "@" rel (op literal | "exists")                rel  := ("." name | "[" string "]")*
//   literal   := 'text' | "text" | number | true | false | null | bare word ([A-Za-z_][A-Za-z0-9_./-]*)
//
// A path selects zero or more values (`[*]` and filters may select several). Comparisons hold
// when ANY selected value satisfies them, except `!=`, which needs values and ALL of them to
// differ; a path that selects nothing makes every comparison false (the field has not been
// reached yet). Ordering operators compare two numbers or two strings; anything else cannot be
// judged (an `undecidable` answer, never a pass).

export class ExprError extends Error {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(`at column ${column}: ${message}`);
    this.name = "ExprError";
  }
}

export type Literal = string | number | boolean | null;
export const COMPARE_OPS = ["==", "!=", "<", "<=", ">", ">="] as const;
export type CompareOp = (typeof COMPARE_OPS)[number];

export type Step =
  | { kind: "field"; name: string }
  | { kind: "index"; index: number }
  | { kind: "wildcard" }
  | { kind: "filter"; rel: string[]; test: { op: CompareOp; value: Literal } | { op: "exists" } };

export type Condition =
  | { kind: "object"; exists: boolean }
  | { kind: "exists"; path: Step[]; exists: boolean }
  | { kind: "compare"; path: Step[]; op: CompareOp; value: Literal }
  | { kind: "in"; path: Step[]; values: Literal[] };

/** Bound on a condition's text: expectations are one line. */
export const MAX_CONDITION_LENGTH = 1024;

const NAME = /[A-Za-z_][A-Za-z0-9_-]*/y;
const BARE = /[A-Za-z_][A-Za-z0-9_./-]*/y;
const NUMBER = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
const INT = /[0-9]+/y;

class Parser {
  pos = 0;
  constructor(readonly src: string) {}

  fail(msg: string, at = this.pos): never {
    throw new ExprError(msg, at + 1);
  }
  ws(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos]!)) this.pos++;
  }
  peek(s: string): boolean {
    return this.src.startsWith(s, this.pos);
  }
  eat(s: string): boolean {
    if (!this.peek(s)) return false;
    this.pos += s.length;
    return true;
  }
  expect(s: string): void {
    if (!this.eat(s)) this.fail(`expected "${s}"${this.pos < this.src.length ? `, got "${this.src.slice(this.pos, this.pos + 8)}"` : " at the end"}`);
  }
  sticky(re: RegExp): string | undefined {
    re.lastIndex = this.pos;
    const m = re.exec(this.src);
    if (!m) return undefined;
    this.pos += m[0].length;
    return m[0];
  }
  /** A keyword: the word must end there (so `existsX` is a name, not `exists`). */
  keyword(w: string, bracketMayFollow = false): boolean {
    if (!this.peek(w)) return false;
    const next = this.src[this.pos + w.length];
    if (next !== undefined && /[A-Za-z0-9_.\-[]/.test(next) && !(bracketMayFollow && next === "[")) return false;
    this.pos += w.length;
    return true;
  }
  atEnd(): boolean {
    this.ws();
    return this.pos >= this.src.length;
  }

  condition(): Condition {
    this.ws();
    if (this.keyword("exists")) return this.end({ kind: "object", exists: true });
    const save = this.pos;
    if (this.keyword("not")) {
      this.ws();
      if (this.keyword("exists")) return this.end({ kind: "object", exists: false });
      this.pos = save;
    }
    const path = this.path();
    this.ws();
    if (this.keyword("exists")) return this.end({ kind: "exists", path, exists: true });
    if (this.keyword("not")) {
      this.ws();
      if (!this.keyword("exists")) this.fail(`expected "exists" after "not"`);
      return this.end({ kind: "exists", path, exists: false });
    }
    if (this.keyword("in", true)) {
      this.ws();
      this.expect("[");
      const values: Literal[] = [];
      for (;;) {
        this.ws();
        values.push(this.literal());
        this.ws();
        if (this.eat("]")) break;
        this.expect(",");
      }
      return this.end({ kind: "in", path, values });
    }
    const op = this.op();
    if (!op) this.fail(this.pos >= this.src.length ? `expected an operator (${COMPARE_OPS.join(" ")} exists in) at the end` : `expected an operator (${COMPARE_OPS.join(" ")} exists in), got "${this.src.slice(this.pos, this.pos + 8)}"`);
    this.ws();
    return this.end({ kind: "compare", path, op, value: this.literal() });
  }

  end<T>(c: T): T {
    if (!this.atEnd()) this.fail(`unexpected "${this.src.slice(this.pos, this.pos + 8)}" after the condition`);
    return c;
  }

  op(): CompareOp | undefined {
    for (const op of ["==", "!=", "<=", ">=", "<", ">"] as const) if (this.eat(op)) return op;
    return undefined;
  }

  path(): Step[] {
    const steps: Step[] = [];
    if (this.eat("$")) {
      if (!this.eat(".")) {
        if (!this.peek("[")) this.fail(`expected "." or "[" after "$"`);
      }
    }
    if (!this.peek("[")) {
      const first = this.sticky(NAME);
      if (first === undefined) this.fail(this.pos >= this.src.length ? "expected a field path at the end" : `expected a field path, got "${this.src.slice(this.pos, this.pos + 8)}"`);
      steps.push({ kind: "field", name: first });
    }
    for (;;) {
      if (this.eat(".")) {
        const n = this.sticky(NAME);
        if (n === undefined) this.fail(`expected a field name after "."`);
        steps.push({ kind: "field", name: n });
      } else if (this.peek("[")) {
        steps.push(this.bracket(true));
      } else break;
    }
    if (steps.length === 0) this.fail("empty path");
    return steps;
  }

  bracket(allowFilter: boolean): Step {
    const at = this.pos;
    this.expect("[");
    this.ws();
    let step: Step;
    if (this.eat("*")) step = { kind: "wildcard" };
    else if (this.peek("'") || this.peek('"')) step = { kind: "field", name: this.string() };
    else if (this.peek("?")) {
      if (!allowFilter) this.fail("filters cannot be nested");
      this.pos++;
      this.ws();
      this.expect("(");
      this.ws();
      this.expect("@");
      const rel: string[] = [];
      for (;;) {
        if (this.eat(".")) {
          const n = this.sticky(NAME);
          if (n === undefined) this.fail(`expected a field name after "."`);
          rel.push(n);
        } else if (this.peek("[")) {
          const s = this.bracket(false);
          if (s.kind !== "field") this.fail("only field names ('key' or .key) are allowed inside a filter", at);
          rel.push(s.name);
        } else break;
      }
      this.ws();
      let test: Extract<Step, { kind: "filter" }>["test"];
      if (this.keyword("exists")) test = { op: "exists" };
      else {
        const op = this.op();
        if (!op) this.fail(`expected an operator in the filter`);
        this.ws();
        test = { op, value: this.literal() };
      }
      this.ws();
      this.expect(")");
      step = { kind: "filter", rel, test };
    } else {
      const n = this.sticky(INT);
      if (n === undefined) this.fail(`expected an index, '*', a quoted key or a ?() filter after "["`);
      step = { kind: "index", index: Number(n) };
    }
    this.ws();
    this.expect("]");
    return step;
  }

  string(): string {
    const q = this.src[this.pos]!;
    const start = this.pos;
    this.pos++;
    let out = "";
    for (;;) {
      if (this.pos >= this.src.length) this.fail("unterminated string", start);
      const ch = this.src[this.pos++]!;
      if (ch === q) return out;
      if (ch === "\\") {
        const e = this.src[this.pos++];
        if (e === undefined) this.fail("unterminated string", start);
        out += e === "n" ? "\n" : e === "t" ? "\t" : e;
      } else out += ch;
    }
  }

  literal(): Literal {
    if (this.peek("'") || this.peek('"')) return this.string();
    const num = this.sticky(NUMBER);
    if (num !== undefined) {
      // "1abc" is not a number followed by junk: report the whole word.
      if (this.pos < this.src.length && /[A-Za-z_]/.test(this.src[this.pos]!)) this.fail(`bad number "${num}${this.src.slice(this.pos, this.pos + 6)}"`, this.pos - num.length);
      return Number(num);
    }
    const word = this.sticky(BARE);
    if (word === undefined) this.fail(this.pos >= this.src.length ? "expected a value at the end" : `expected a value (a 'string', a number, true, false, null or a word), got "${this.src.slice(this.pos, this.pos + 8)}"`);
    if (word === "true") return true;
    if (word === "false") return false;
    if (word === "null") return null;
    return word;
  }
}

/** Parses one condition; throws ExprError (with the 1-based column) on bad input. */
export function parseCondition(src: string): Condition {
  if (src.length > MAX_CONDITION_LENGTH) throw new ExprError(`longer than ${MAX_CONDITION_LENGTH} characters`, MAX_CONDITION_LENGTH + 1);
  const p = new Parser(src);
  if (p.atEnd()) throw new ExprError("empty condition", 1);
  return p.condition();
}

// ---- printing (canonical form; parse(format(c)) equals c) ----

function quote(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n").replace(/\t/g, "\\t")}'`;
}

export function formatLiteral(v: Literal): string {
  return typeof v === "string" ? quote(v) : v === null ? "null" : String(v);
}

const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function formatName(n: string, first: boolean): string {
  if (!PLAIN_NAME.test(n)) return `[${quote(n)}]`;
  return first ? n : `.${n}`;
}

export function formatPath(path: Step[]): string {
  let out = "";
  path.forEach((s, i) => {
    switch (s.kind) {
      case "field":
        if (i === 0 && !PLAIN_NAME.test(s.name)) out += `$[${quote(s.name)}]`;
        else if (i === 0 && (s.name === "exists" || s.name === "not")) out += `$.${s.name}`;
        else out += formatName(s.name, i === 0);
        break;
      case "index":
        out += i === 0 ? `$[${s.index}]` : `[${s.index}]`;
        break;
      case "wildcard":
        out += i === 0 ? "$[*]" : "[*]";
        break;
      case "filter": {
        const rel = s.rel.map((n) => formatName(n, false)).join("");
        const test = s.test.op === "exists" ? " exists" : ` ${s.test.op} ${formatLiteral(s.test.value)}`;
        out += `${i === 0 ? "$" : ""}[?(@${rel}${test})]`;
        break;
      }
    }
  });
  return out;
}

export function formatCondition(c: Condition): string {
  switch (c.kind) {
    case "object":
      return c.exists ? "exists" : "not exists";
    case "exists":
      return `${formatPath(c.path)} ${c.exists ? "exists" : "not exists"}`;
    case "compare":
      return `${formatPath(c.path)} ${c.op} ${formatLiteral(c.value)}`;
    case "in":
      return `${formatPath(c.path)} in [${c.values.map(formatLiteral).join(", ")}]`;
  }
}

// ---- evaluation ----

export type Verdict = { holds: true; observed?: string } | { holds: false; observed: string } | { holds: "undecidable"; observed: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function compare(a: unknown, op: CompareOp, b: Literal): boolean | "undecidable" {
  if (op === "==") return a === b;
  if (op === "!=") return a !== b;
  const numbers = typeof a === "number" && typeof b === "number";
  const strings = typeof a === "string" && typeof b === "string";
  if (!numbers && !strings) return "undecidable";
  const x = a as number | string;
  const y = b as number | string;
  switch (op) {
    case "<":
      return x < y;
    case "<=":
      return x <= y;
    case ">":
      return x > y;
    case ">=":
      return x >= y;
  }
}

function filterHolds(el: unknown, rel: string[], test: Extract<Step, { kind: "filter" }>["test"]): boolean {
  let v: unknown = el;
  for (const n of rel) v = isObject(v) ? v[n] : undefined;
  if (test.op === "exists") return present(v);
  if (!present(v)) return false;
  return compare(v, test.op, test.value) === true;
}

/** Every value the path selects in `obj` (present values only: null and missing select nothing). */
export function select(obj: unknown, path: Step[]): unknown[] {
  let cur: unknown[] = [obj];
  for (const s of path) {
    const next: unknown[] = [];
    for (const v of cur) {
      switch (s.kind) {
        case "field":
          if (isObject(v) && present(v[s.name])) next.push(v[s.name]);
          break;
        case "index":
          if (Array.isArray(v) && s.index < v.length && present(v[s.index])) next.push(v[s.index]);
          break;
        case "wildcard":
          if (Array.isArray(v)) next.push(...v.filter(present));
          else if (isObject(v)) next.push(...Object.values(v).filter(present));
          break;
        case "filter":
          if (Array.isArray(v)) next.push(...v.filter((el) => present(el) && filterHolds(el, s.rel, s.test)));
          break;
      }
    }
    cur = next;
  }
  return cur;
}

function show(values: unknown[], hide: boolean): string {
  if (hide) return `(${values.length} value${values.length === 1 ? "" : "s"} not shown: a Secret's field)`;
  const s = values.length === 1 ? JSON.stringify(values[0]) : JSON.stringify(values);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/**
 * Judges a condition on one object (undefined: the object does not exist). `hideValues`
 * keeps the values out of `observed` (Secrets: /status and logs must not show their data).
 */
export function evaluate(c: Condition, obj: unknown, opts: { hideValues?: boolean } = {}): Verdict {
  const hide = opts.hideValues === true;
  if (c.kind === "object") {
    const exists = obj !== undefined;
    return exists === c.exists ? { holds: true } : { holds: false, observed: exists ? "the object exists" : "the object does not exist" };
  }
  if (obj === undefined) return { holds: false, observed: "the object does not exist" };
  const values = select(obj, c.path);
  const where = formatPath(c.path);
  if (c.kind === "exists") {
    const exists = values.length > 0;
    const observed = exists ? `${where} = ${show(values, hide)}` : `${where} is absent`;
    return exists === c.exists ? { holds: true, observed } : { holds: false, observed };
  }
  if (values.length === 0) return { holds: false, observed: `${where} is absent` };
  const observed = `${where} = ${show(values, hide)}`;
  if (c.kind === "in") return c.values.some((l) => values.includes(l)) ? { holds: true, observed } : { holds: false, observed };
  if (c.op === "!=") return values.every((v) => v !== c.value) ? { holds: true, observed } : { holds: false, observed };
  let undecidable = false;
  for (const v of values) {
    const r = compare(v, c.op, c.value);
    if (r === true) return { holds: true, observed };
    if (r === "undecidable") undecidable = true;
  }
  if (undecidable) return { holds: "undecidable", observed: `${observed}: cannot compare ${typeof values[0] === "object" ? "an object or array" : `a ${typeof values[0]}`} with ${c.op} ${formatLiteral(c.value)}` };
  return { holds: false, observed };
}

/** Replaces `{{name}}` and `{{runId}}` (spaces inside the braces allowed). */
export function expandPlaceholders(s: string, vars: { name: string; runId: string }): string {
  return s.replace(/\{\{\s*(name|runId)\s*\}\}/g, (_m, k: "name" | "runId") => vars[k]);
}

/** Placeholders other than {{name}} and {{runId}}: a typo would silently stay literal text. */
export function unknownPlaceholder(s: string): string | undefined {
  for (const m of s.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) if (m[1] !== "name" && m[1] !== "runId") return m[0];
  return undefined;
}
