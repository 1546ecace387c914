import { isUtf8 } from "node:buffer";

export type LineVerdict = { ok: true; record: Buffer } | { ok: false; reason: ProtocolErrorReason; message: string } | { ok: "blank" };
export type ProtocolErrorReason = "not_object" | "invalid_json" | "invalid_utf8" | "too_large";

const NL = 0x0a;
const CR = 0x0d;
const OPEN_BRACE = 0x7b;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === CR;
}

/** Checks one producer line: a UTF-8 JSON object. The record keeps the producer's bytes. */
export function checkLine(line: Buffer): LineVerdict {
  let end = line.length;
  if (end > 0 && line[end - 1] === CR) end--;
  const body = end === line.length ? line : line.subarray(0, end);
  let i = 0;
  while (i < body.length && isSpace(body[i]!)) i++;
  if (i === body.length) return { ok: "blank" };
  if (!isUtf8(body)) return { ok: false, reason: "invalid_utf8", message: "line is not valid UTF-8" };
  if (body[i] !== OPEN_BRACE) return { ok: false, reason: "not_object", message: "line is not a JSON object" };
  try {
    // Native JSON.parse beats a byte-level validator in JS (measured: ~4.5 µs vs ~8 µs per KiB).
    JSON.parse(body.toString("utf8"));
  } catch (err) {
    return { ok: false, reason: "invalid_json", message: `invalid JSON: ${(err as Error).message}` };
  }
  return { ok: true, record: body };
}

export interface LineEvent {
  /** 1-based line number on this connection. */
  line: number;
  verdict: LineVerdict;
}

/**
 * Splits a byte stream into lines, bounded: a line longer than maxLineBytes is not kept in
 * memory; the rest of it is skipped up to its newline and it is reported as too large.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private partLen = 0;
  private skipping = false;
  private lineNo = 0;

  constructor(private readonly maxLineBytes: number) {}

  get linesSeen(): number {
    return this.lineNo;
  }

  push(chunk: Buffer, out: LineEvent[]): void {
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(NL, pos);
      const end = nl === -1 ? chunk.length : nl;
      if (this.skipping) {
        if (nl === -1) return;
        this.skipping = false;
        pos = nl + 1;
        continue;
      }
      const len = this.partLen + (end - pos);
      // +1 allows a CR before the newline on a line of exactly the maximum size.
      if (len > this.maxLineBytes + 1) {
        this.parts = [];
        this.partLen = 0;
        this.lineNo++;
        out.push({ line: this.lineNo, verdict: { ok: false, reason: "too_large", message: `record larger than the limit of ${this.maxLineBytes} bytes` } });
        if (nl === -1) {
          this.skipping = true;
          return;
        }
        pos = nl + 1;
        continue;
      }
      if (nl === -1) {
        this.parts.push(chunk.subarray(pos));
        this.partLen += chunk.length - pos;
        return;
      }
      const piece = chunk.subarray(pos, nl);
      const line = this.partLen === 0 ? piece : Buffer.concat([...this.parts, piece]);
      this.parts = [];
      this.partLen = 0;
      this.lineNo++;
      const verdict = checkLine(line);
      if (verdict.ok === true && verdict.record.length > this.maxLineBytes) {
        out.push({ line: this.lineNo, verdict: { ok: false, reason: "too_large", message: `record larger than the limit of ${this.maxLineBytes} bytes` } });
      } else {
        out.push({ line: this.lineNo, verdict });
      }
      pos = nl + 1;
    }
  }

  /** End of stream: a last line without a newline still counts. */
  end(out: LineEvent[]): void {
    if (this.skipping || this.partLen === 0) return;
    const line = Buffer.concat(this.parts);
    this.parts = [];
    this.partLen = 0;
    this.lineNo++;
    out.push({ line: this.lineNo, verdict: checkLine(line) });
  }
}
