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

/** Splits on commas that are not inside parentheses. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function checkKey(key: string, sel: string): void {
  if (!KEY.test(key) || key.length > 316)
    throw errors.badRequest(`unable to parse requirement: invalid label key "${key}" in selector "${sel}"`);
}
function checkValue(v: string, sel: string): void {
  if (!VALUE.test(v) || v.length > 63)
    throw errors.badRequest(`unable to parse requirement: invalid label value: "${v}" in selector "${sel}"`);
}

export function parseLabelSelector(sel: string): LabelReq[] {
  const reqs: LabelReq[] = [];
  if (sel.trim() === "") return reqs;
  for (const raw of splitTop(sel)) {
    const part = raw.trim();
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/))) {
      checkKey(m[1]!, sel);
      const values = m[3]!.split(",").map((v) => v.trim());
      values.forEach((v) => checkValue(v, sel));
      reqs.push({ key: m[1]!, op: m[2] as LabelOp, values });
    } else if ((m = part.match(/^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/))) {
      checkKey(m[1]!, sel);
      checkValue(m[3]!, sel);
      reqs.push({ key: m[1]!, op: m[2] === "!=" ? "!=" : "=", values: [m[3]!] });
    } else if ((m = part.match(/^!\s*(\S+)$/))) {
      checkKey(m[1]!, sel);
      reqs.push({ key: m[1]!, op: "!", values: [] });
    } else if (/^\S+$/.test(part)) {
      checkKey(part, sel);
      reqs.push({ key: part, op: "exists", values: [] });
    } else {
      throw errors.badRequest(`unable to parse requirement: found '${part}', expected: identifier in selector "${sel}"`);
    }
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
