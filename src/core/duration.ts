// Go's time.ParseDuration syntax, because the flags and config files we accept
// were published for a Go tool: "300ms", "1.5h", "2h45m", "-1m" is rejected.
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;

/** Parses a Go duration string into milliseconds. Throws with a message that quotes the input. */
export function parseDuration(input: string): number {
  const s = input.trim();
  if (s === "0") return 0;
  if (s === "") throw new Error(`invalid duration "${input}": empty`);
  if (s.startsWith("-")) throw new Error(`invalid duration "${input}": must not be negative`);
  let rest = s.startsWith("+") ? s.slice(1) : s;
  let total = 0;
  while (rest.length > 0) {
    const m = PART.exec(rest);
    if (!m) throw new Error(`invalid duration "${input}": expected a number followed by a unit (ns, us, ms, s, m, h), e.g. 30s or 1m30s`);
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  if (!Number.isFinite(total)) throw new Error(`invalid duration "${input}": out of range`);
  return total;
}

/** Formats milliseconds the way Go's Duration.String() does (e.g. 1m30s, 500ms). */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1) return `${+(ms * 1000).toFixed(3)}µs`;
  if (ms < 1000) return `${+ms.toFixed(3)}ms`;
  let rest = ms / 1000;
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  rest -= m * 60;
  const sec = +rest.toFixed(3);
  let out = "";
  if (h) out += `${h}h`;
  if (h || m) out += `${m}m`;
  out += `${sec}s`;
  return out;
}
