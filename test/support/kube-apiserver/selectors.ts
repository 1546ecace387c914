// labelSelector / fieldSelector parsing and matching with the real server's grammar and errors.
import { errors } from "./status.js";
import type { KubeObject } from "./store.js";

type LabelOp = "=" | "!=" | "in" | "notin" | "exists" | "!";
interface LabelReq {
  key: string;
  op: LabelOp;
  values: string[];
}
export type Matcher = (obj: KubeObject) => boolean;

const KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

function checkKey(key: string, sel: string): void {
  if (!KEY.test(key) || key.length > 316)
    throw errors.badRequest(`unable to parse requirement: invalid label key "${key}" in selector "${sel}"`);
}
function checkValue(v: string, sel: string): void {
  if (!VALUE.test(v) || v.length > 63)
    throw errors.badRequest(`unable to parse requirement: invalid label value: "${v}" in selector "${sel}"`);
}

// A port of k8s.io/apimachinery/pkg/labels' lexer and parser, so that what is accepted, and the
// error texts of what is not, are the real server's (recorded: lists/labelselector-invalid*).
type Tok = { t: "id" | "in" | "notin" | "!" | "=" | "==" | "!=" | "(" | ")" | "," | ">" | "<" | "end"; v: string };
const SPECIAL = new Set(["!", "=", "(", ")", ",", ">", "<"]);

function lex(sel: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < sel.length) {
    const c = sel[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (SPECIAL.has(c)) {
      const two = sel.slice(i, i + 2);
      if (two === "==" || two === "!=") {
        out.push({ t: two, v: two });
        i += 2;
      } else {
        out.push({ t: c as Tok["t"], v: c });
        i++;
      }
      continue;
    }
    let j = i;
    while (j < sel.length && !SPECIAL.has(sel[j]!) && !/\s/.test(sel[j]!)) j++;
    const word = sel.slice(i, j);
    out.push(word === "in" ? { t: "in", v: word } : word === "notin" ? { t: "notin", v: word } : { t: "id", v: word });
    i = j;
  }
  out.push({ t: "end", v: "" });
  return out;
}

export function parseLabelSelector(sel: string): LabelReq[] {
  const toks = lex(sel);
  let pos = 0;
  const peek = () => toks[pos]!;
  const next = () => toks[pos++]!;
  // Where a value is expected, the keywords are plain identifiers ("phase=in").
  const asValue = (t: Tok): Tok => (t.t === "in" || t.t === "notin" ? { t: "id", v: t.v } : t);
  const reqs: LabelReq[] = [];
  const requirement = (): LabelReq => {
    let op: LabelOp | undefined;
    if (peek().t === "!") {
      next();
      op = "!";
    }
    const k = next();
    if (k.t !== "id") throw new Error(`found '${k.v}', expected: identifier`);
    checkKey(k.v, sel);
    if (op === "!") return { key: k.v, op, values: [] };
    if (peek().t === "end" || peek().t === ",") return { key: k.v, op: "exists", values: [] };
    const o = next();
    let parsed: LabelOp;
    if (o.t === "in" || o.t === "notin") parsed = o.t;
    else if (o.t === "=" || o.t === "==") parsed = "=";
    else if (o.t === "!=") parsed = "!=";
    else throw new Error(`found '${o.v}', expected: '=', '!=', '==', 'in', notin'`);
    if (parsed === "in" || parsed === "notin") {
      const open = next();
      if (open.t !== "(") throw new Error(`found '${open.v}' expected: '('`);
      const values: string[] = [];
      for (;;) {
        const t = asValue(next());
        if (t.t === ")") break;
        if (t.t === ",") {
          if (values.length === 0 || peek().t === "," || peek().t === ")") values.push("");
          continue;
        }
        if (t.t !== "id") throw new Error(`found '${t.v}', expected: ',', ')' or identifier`);
        values.push(t.v);
      }
      values.forEach((v) => checkValue(v, sel));
      return { key: k.v, op: parsed, values };
    }
    const v = asValue(peek());
    let value = "";
    if (v.t === "id") value = next().v;
    else if (v.t !== "end" && v.t !== ",") throw new Error(`found '${v.v}', expected: identifier`);
    checkValue(value, sel);
    return { key: k.v, op: parsed, values: [value] };
  };
  while (peek().t !== "end") {
    const t = peek();
    if (t.t !== "id" && t.t !== "!") throw errors.badRequest(`found '${t.v}', expected: !, identifier, or 'end of string'`);
    try {
      reqs.push(requirement());
    } catch (err) {
      if (err instanceof Error && !("status" in err)) throw errors.badRequest(`unable to parse requirement: ${err.message}`);
      throw err;
    }
    const after = next();
    if (after.t === "end") break;
    if (after.t !== ",") throw errors.badRequest(`found '${after.v}', expected: ',' or 'end of string'`);
    if (peek().t === "end") throw errors.badRequest(`found '', expected: identifier after ','`);
  }
  return reqs;
}

function labelsOf(obj: KubeObject): Record<string, string> {
  return (obj.metadata?.labels as Record<string, string> | undefined) ?? {};
}

export function labelMatcher(sel: string | null | undefined): Matcher {
  const reqs = parseLabelSelector(sel ?? "");
  if (reqs.length === 0) return () => true;
  return (obj) => {
    const labels = labelsOf(obj);
    return reqs.every((r) => {
      const has = Object.hasOwn(labels, r.key);
      const v = labels[r.key];
      switch (r.op) {
        case "=":
          return has && v === r.values[0];
        case "!=":
          return !has || v !== r.values[0];
        case "in":
          return has && r.values.includes(v!);
        case "notin":
          return !has || !r.values.includes(v!);
        case "exists":
          return has;
        case "!":
          return !has;
      }
    });
  };
}

function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const p of path.split(".")) {
    if (cur === null || typeof cur !== "object") return "";
    cur = (cur as Record<string, unknown>)[p];
  }
  if (cur === undefined || cur === null) return "";
  if (typeof cur === "object") {
    // `source` on core events is an object; the real field set uses source.component.
    const c = (cur as Record<string, unknown>).component;
    return typeof c === "string" ? c : "";
  }
  return String(cur);
}

/** `allowed` lists the selectable fields of the kind besides metadata.name / metadata.namespace. */
export function fieldMatcher(sel: string | null | undefined, allowed: string[]): Matcher {
  if (!sel || sel.trim() === "") return () => true;
  const reqs = sel.split(",").map((raw) => {
    const m = raw.trim().match(/^([^=!]+?)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw errors.badRequest(`invalid selector: '${sel}'; can't understand '${raw}'`);
    const field = m[1]!.trim();
    if (field !== "metadata.name" && field !== "metadata.namespace" && !allowed.includes(field))
      // Kinds with their own field-label conversion (pods, events, …) say "not supported"; the
      // generic registry of the others names what it does support.
      throw errors.badRequest(
        allowed.length > 0 ? `field label not supported: ${field}` : `"${field}" is not a known field selector: only "metadata.name", "metadata.namespace"`,
      );
    return { field, neg: m[2] === "!=", value: m[3]!.trim() };
  });
  return (obj) => reqs.every((r) => (fieldValue(obj, r.field) === r.value) !== r.neg);
}
