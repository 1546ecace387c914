// The reaction probes' expression language: parser properties (fast-check) and the evaluator
// against an independent reference on generated objects.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ExprError, evaluate, expandPlaceholders, formatCondition, parseCondition, select, unknownPlaceholder, type Condition, type Literal, type Step } from "../../src/auditor/expr.js";

const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,8}$/);
const anyKey = fc.oneof(name, fc.string({ minLength: 1, maxLength: 8 }));
const literal: fc.Arbitrary<Literal> = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.integer({ min: -1e6, max: 1e6 }),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 }).filter((d) => !Object.is(d, -0)),
  fc.boolean(),
  fc.constant(null),
);
const op = fc.constantFrom("==", "!=", "<", "<=", ">", ">=" as const);
const filterStep: fc.Arbitrary<Step> = fc.record({
  kind: fc.constant("filter" as const),
  rel: fc.array(anyKey, { maxLength: 2 }),
  test: fc.oneof(fc.record({ op, value: literal }), fc.constant({ op: "exists" as const })),
});
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("field" as const), name: anyKey }),
  fc.record({ kind: fc.constant("index" as const), index: fc.nat(20) }),
  fc.constant({ kind: "wildcard" as const }),
  filterStep,
);
const path = fc.array(step, { minLength: 1, maxLength: 4 });
const condition: fc.Arbitrary<Condition> = fc.oneof(
  fc.record({ kind: fc.constant("object" as const), exists: fc.boolean() }),
  fc.record({ kind: fc.constant("exists" as const), path, exists: fc.boolean() }),
  fc.record({ kind: fc.constant("compare" as const), path, op, value: literal }),
  fc.record({ kind: fc.constant("in" as const), path, values: fc.array(literal, { minLength: 1, maxLength: 4 }) }),
);

test("property: printing then parsing any condition gives it back", () => {
  fc.assert(
    fc.property(condition, (c) => {
      // fast-check may build null-prototype records: compare as plain JSON.
      assert.deepStrictEqual(parseCondition(formatCondition(c)), JSON.parse(JSON.stringify(c)));
    }),
    { numRuns: 2000 },
  );
});

test("property: any input either parses or fails with an ExprError naming a column inside it", () => {
  const alphabet = fc.constantFrom(..."abc.[]()'\"?@*=!<>$ 0123456789-_,inotexsul".split(""));
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.array(alphabet, { maxLength: 40 }).map((a) => a.join(""))), (s) => {
      try {
        const c = parseCondition(s);
        // What parsed is stable: its canonical form parses to the same condition.
        assert.deepStrictEqual(parseCondition(formatCondition(c)), c);
      } catch (err) {
        assert.ok(err instanceof ExprError, `not an ExprError: ${String(err)}`);
        assert.ok(err.column >= 1 && err.column <= s.length + 1, `column ${err.column} for ${JSON.stringify(s)}`);
      }
    }),
    { numRuns: 3000 },
  );
});

// Reference model: a path of plain field names over nested objects, written independently.
function refGet(obj: unknown, keys: string[]): unknown {
  let v = obj;
  for (const k of keys) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v ?? undefined;
}

test("property: on plain field paths the evaluator agrees with a reference", () => {
  const leaf = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom("a", "b", "Ready", "1"), fc.boolean(), fc.constant(null));
  const tree = fc.letrec((tie) => ({ node: fc.oneof({ depthSize: "small" }, leaf, fc.dictionary(fc.constantFrom("x", "y", "z"), tie("node"), { maxKeys: 3 })) })).node;
  const keys = fc.array(fc.constantFrom("x", "y", "z"), { minLength: 1, maxLength: 3 });
  fc.assert(
    fc.property(tree, keys, op, fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom("a", "b", "Ready")), (obj, ks, o, lit) => {
      const text = `${ks.join(".")} ${o} ${typeof lit === "string" ? `'${lit}'` : lit}`;
      const got = evaluate(parseCondition(text), obj);
      const v = refGet(obj, ks);
      let want: boolean | "undecidable";
      if (v === undefined) want = false;
      else if (o === "==") want = v === lit;
      else if (o === "!=") want = v !== lit;
      else if (typeof v !== typeof lit || (typeof v !== "number" && typeof v !== "string")) want = "undecidable";
      else {
        const a = v as number | string;
        const b = lit as number | string;
        want = o === "<" ? a < b : o === "<=" ? a <= b : o === ">" ? a > b : a >= b;
      }
      assert.equal(got.holds, want, `${text} on ${JSON.stringify(obj)}: ${JSON.stringify(got)}`);
      const exists = evaluate(parseCondition(`${ks.join(".")} exists`), obj).holds;
      assert.equal(exists, v !== undefined);
    }),
    { numRuns: 3000 },
  );
});

const deployment = {
  metadata: { name: "d", annotations: { "example.com/seen": "yes" }, finalizers: ["example.com/cleanup"], labels: { app: "web" } },
  spec: { replicas: 3 },
  status: {
    observedGeneration: 2,
    phase: "Ready",
    conditions: [
      { type: "Available", status: "True" },
      { type: "Progressing", status: "False" },
    ],
  },
};

test("the documented examples judge as documented", () => {
  const cases: [string, unknown, boolean | "undecidable"][] = [
    ["status.phase == Ready", deployment, true],
    ["status.phase == 'Ready'", deployment, true],
    ["$.status.phase != Failed", deployment, true],
    ["status.observedGeneration >= 1", deployment, true],
    ["status.observedGeneration > 2", deployment, false],
    ["status.observedGeneration < 'x'", deployment, "undecidable"],
    ["status.conditions[?(@.type == 'Available')].status == 'True'", deployment, true],
    ["status.conditions[?(@.type == 'Progressing')].status == 'True'", deployment, false],
    ["status.conditions[*].type in [Available, Degraded]", deployment, true],
    ["status.conditions[1].status == false", deployment, false],
    ["status.conditions[1].status == False", deployment, true],
    ["status.conditions[1].status == 'False'", deployment, true],
    ["metadata.annotations['example.com/seen'] exists", deployment, true],
    ["metadata.finalizers[?(@ == 'example.com/cleanup')] exists", deployment, true],
    ["metadata.finalizers[?(@ == 'other')] exists", deployment, false],
    ["metadata.labels.gone not exists", deployment, true],
    ["status.missing != 1", deployment, false],
    ["exists", deployment, true],
    ["exists", undefined, false],
    ["not exists", undefined, true],
    ["status.phase == Ready", undefined, false],
  ];
  for (const [text, obj, want] of cases) assert.equal(evaluate(parseCondition(text), obj).holds, want, text);
  assert.deepEqual(select(deployment, parseCondition("status.conditions[*].type exists").kind === "exists" ? (parseCondition("status.conditions[*].type exists") as { path: Step[] }).path : []), ["Available", "Progressing"]);
});

test("bad conditions are refused with the column and what was expected", () => {
  const cases: [string, RegExp][] = [
    ["", /column 1: empty condition/],
    ["status.phase", /column 13: expected an operator .* at the end/],
    ["status.phase =~ 'x'", /column 14: expected an operator/],
    ["status.phase == ", /column 17: expected a value at the end/],
    ["status..phase == 1", /column 8: expected a field name after "."/],
    ["status.phase == 'Ready", /column 17: unterminated string/],
    ["status.x in [1, 2", /expected "," at the end/],
    ["status.phase == Ready extra", /column 23: unexpected "extra"/],
    ["a[?(@[?(@ == 1)] exists)] exists", /column 7: filters cannot be nested/],
    ["x == 1abc", /column 6: bad number "1abc"/],
    ["not x", /expected an operator/],
  ];
  for (const [text, re] of cases) assert.throws(() => parseCondition(text), (e: unknown) => e instanceof ExprError && re.test(e.message), `${JSON.stringify(text)} → ${re}`);
});

test("placeholders: {{name}} and {{runId}} expand; unknown ones are named", () => {
  assert.equal(expandPlaceholders("probe={{name}},run={{ runId }}", { name: "n1", runId: "r1" }), "probe=n1,run=r1");
  assert.equal(unknownPlaceholder("a {{name}} {{nmae}}"), "{{nmae}}");
  assert.equal(unknownPlaceholder("{{runId}}"), undefined);
});
