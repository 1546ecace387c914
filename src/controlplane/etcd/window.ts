// Bounded range ends for the usage scan. etcd 3.4 answers a Range with a limit by first collecting
// the revision of *every* key in [key, range_end) from its in-memory index and only then cutting to
// the limit (mvcc treeIndex.Revisions takes no limit before etcd 3.5). A scan that pages with
// range_end = end of the prefix therefore makes etcd walk all remaining keys for every page:
// O(N²/page) work in etcd (measured: ~140 ms per page at 200k keys on the bench machine).
//
// The scan instead asks for windows [start, end) whose end is chosen from the key density seen
// so far: keys are read as numbers (their first WIDTH bytes, big-endian) and each window is sized
// to hold about 3/4 of a page. etcd's `count` in every answer is the exact number of keys in the
// window, so the next window's size follows the density: grown (at most ×16) through sparse key
// space, shrunk where keys are dense. Windows are contiguous, so no key is missed or read twice.

// Kubernetes keys are /registry/ + group + resource + namespace (≤ 63) + name (≤ 253): 320 bytes
// tell nearly all of them apart, so windows can narrow inside one namespace of long names too.
const WIDTH = 320;
const MAX = (1n << BigInt(WIDTH * 8)) - 1n;

/** The first WIDTH bytes of `k` as an unsigned big-endian number (shorter keys padded with zeros). */
export function keyToNum(k: Buffer): bigint {
  const b = Buffer.alloc(WIDTH);
  k.copy(b, 0, 0, Math.min(k.length, WIDTH));
  return BigInt(`0x${b.toString("hex")}`);
}

/** The WIDTH-byte key of a number (clamped to the largest). */
export function numToKey(n: bigint): Buffer {
  const v = n > MAX ? MAX : n < 0n ? 0n : n;
  return Buffer.from(v.toString(16).padStart(WIDTH * 2, "0"), "hex");
}

export class AdaptiveWindow {
  /** Width of the next window; undefined until a first answer told the density. */
  private span: bigint | undefined;
  constructor(private readonly globalEnd: Buffer) {}

  /** The end of the window that starts at `start` (always > start, at most the global end). */
  end(start: Buffer): Buffer {
    if (this.span === undefined) return this.globalEnd;
    // start may be longer than WIDTH: its number is rounded down, and end = that + span (≥ 1) is
    // still greater than start in byte order.
    const e = numToKey(keyToNum(start) + this.span);
    return Buffer.compare(e, this.globalEnd) >= 0 ? this.globalEnd : e;
  }

  /** etcd said [start, end) holds `count` keys; size the next window for about 3/4 of `limit`. */
  update(start: Buffer, end: Buffer, count: number, limit: number): void {
    let width = keyToNum(end) - keyToNum(start);
    if (width < 1n) width = 1n;
    const target = BigInt(Math.max(1, Math.floor((limit * 3) / 4)));
    let next = count === 0 ? width * 16n : (width * target) / BigInt(count);
    if (next > width * 16n) next = width * 16n;
    if (next < 1n) next = 1n;
    this.span = next;
  }
}
