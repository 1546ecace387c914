import { openMaybeGzip } from "./line-scan.js";

/**
 * Byte length of every line, for the fast ingest path: DuckDB's typed `read_json` does not expose
 * the raw text, and `event_bytes` must be the size of the event as written. `clean` is false as
 * soon as a line is not exactly one `{...}` (blank, indented, CRLF, not an object): such a file
 * takes the exact, slower path, so here a row number is always a line number.
 */
export interface LineLengths {
  clean: boolean;
  count: number;
  lengths: Int32Array;
}

const OPEN = 0x7b;
const CLOSE = 0x7d;
const NL = 10;

export async function lineLengths(path: string, gzip: boolean): Promise<LineLengths> {
  let lengths = new Int32Array(1 << 16);
  let count = 0;
  let cur = 0; // bytes of the current line seen so far
  let first = -1; // first byte of the current line
  let last = -1; // last byte seen of the current line
  const push = (): boolean => {
    if (first !== OPEN || last !== CLOSE || cur > 0x7fffffff) return false;
    if (count === lengths.length) {
      const grown = new Int32Array(count * 2);
      grown.set(lengths);
      lengths = grown;
    }
    lengths[count++] = cur;
    cur = 0;
    first = -1;
    last = -1;
    return true;
  };
  const stream = openMaybeGzip(path, gzip);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let pos = 0;
      while (pos < chunk.length) {
        const nl = chunk.indexOf(NL, pos);
        const end = nl === -1 ? chunk.length : nl;
        if (end > pos) {
          if (first === -1) first = chunk[pos]!;
          last = chunk[end - 1]!;
          cur += end - pos;
        }
        if (nl === -1) break;
        if (!push()) return { clean: false, count, lengths };
        pos = nl + 1;
      }
    }
  } finally {
    stream.destroy();
  }
  if (cur > 0 && !push()) return { clean: false, count, lengths };
  return { clean: true, count, lengths: lengths.subarray(0, count) };
}
