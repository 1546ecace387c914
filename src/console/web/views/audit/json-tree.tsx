// A JSON value as a collapsible tree, all of it text (keys and values go through Preact's escaping).
import type { JSX } from "preact";

function Leaf({ value }: { value: unknown }) {
  if (value === null) return <span class="j-null">null</span>;
  if (typeof value === "string") return <span class="j-str">{JSON.stringify(value)}</span>;
  if (typeof value === "number") return <span class="j-num">{String(value)}</span>;
  if (typeof value === "boolean") return <span class="j-bool">{String(value)}</span>;
  return <span>{String(value)}</span>;
}

export function JsonTree({ value, name, depth = 0 }: { value: unknown; name?: string; depth?: number }): JSX.Element {
  const label = name === undefined ? null : <span class="j-key">{name}: </span>;
  if (value === null || typeof value !== "object") {
    return (
      <div class="j-line">
        {label}
        <Leaf value={value} />
      </div>
    );
  }
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value as Record<string, unknown>);
  const brackets = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) {
    return (
      <div class="j-line">
        {label}
        <span>{brackets.join("")}</span>
      </div>
    );
  }
  return (
    <details class="j-node" open={depth < 3}>
      <summary>
        {label}
        <span class="hint">
          {brackets[0]}
          {entries.length} {Array.isArray(value) ? "items" : "keys"}
          {brackets[1]}
        </span>
      </summary>
      <div class="j-children">
        {entries.map(([k, v]) => (
          <JsonTree key={k} name={k} value={v} depth={depth + 1} />
        ))}
      </div>
    </details>
  );
}
