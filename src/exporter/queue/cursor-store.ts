import { mkdir, readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../fsutil.js";
import { sinkFileStem } from "../sink-file-name.js";

export interface CursorPosition {
  segFirst: bigint;
  end: number;
}

interface Entry {
  acked: bigint;
  persisted: bigint;
  position?: CursorPosition;
  writing?: Promise<void>;
}

/**
 * Per-sink "acked up to seq" cursors, one small JSON file each, replaced atomically
 * (tmp + fsync + rename + fsync dir) so a crash leaves the old or the new value.
 */
export class CursorStore {
  private readonly entries = new Map<string, Entry>();
  /** Cursors of sinks no longer configured: they still bound the seqs we may reuse. */
  private orphanMax = 0n;

  constructor(readonly dir: string) {}

  async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o750 });
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith(".json")) continue;
      const path = join(this.dir, name);
      let parsed: { sink?: unknown; acked?: unknown };
      try {
        parsed = JSON.parse(await readFile(path, "utf8")) as typeof parsed;
      } catch (err) {
        throw new Error(`${path}: unreadable cursor file: ${(err as Error).message}`);
      }
      if (typeof parsed.sink !== "string" || typeof parsed.acked !== "string" || !/^\d+$/.test(parsed.acked)) {
        throw new Error(`${path}: cursor file must hold {"sink": string, "acked": "<digits>"}`);
      }
      const acked = BigInt(parsed.acked);
      this.entries.set(parsed.sink, { acked, persisted: acked });
      if (acked > this.orphanMax) this.orphanMax = acked;
    }
  }

  get(sink: string): { acked: bigint; position?: CursorPosition } | undefined {
    return this.entries.get(sink);
  }

  persistedAcked(sink: string): bigint {
    return this.entries.get(sink)?.persisted ?? 0n;
  }

  maxAcked(): bigint {
    let max = this.orphanMax;
    for (const e of this.entries.values()) if (e.acked > max) max = e.acked;
    return max;
  }

  set(sink: string, acked: bigint, position?: CursorPosition): void {
    const e = this.entries.get(sink);
    if (!e) {
      this.entries.set(sink, { acked, persisted: -1n, position });
      return;
    }
    if (acked < e.acked) return;
    e.acked = acked;
    if (position) e.position = position;
  }

  /** Writes the sink's cursor; concurrent calls coalesce into at most one more write. */
  async persist(sink: string): Promise<void> {
    const e = this.entries.get(sink);
    if (!e) return;
    while (e.writing) {
      await e.writing;
      if (e.persisted >= e.acked) return;
    }
    if (e.persisted === e.acked) return;
    const value = e.acked;
    const path = join(this.dir, `${sinkFileStem(sink)}.json`);
    e.writing = writeFileAtomic(path, JSON.stringify({ sink, acked: value.toString() }) + "\n")
      .then(() => {
        if (value > e.persisted) e.persisted = value;
      })
      .finally(() => {
        e.writing = undefined;
      });
    await e.writing;
  }

  async persistAll(sinks: readonly string[]): Promise<void> {
    for (const s of sinks) await this.persist(s);
  }
}
