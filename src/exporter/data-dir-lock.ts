import { readFileSync } from "node:fs";
import { mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { fsyncDir } from "./fsutil.js";

interface LockOwner {
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat field 22): tells a reused pid apart. */
  start: string | null;
  host: string;
}

/** Locks held by this process, so that a second open in the same process is refused too. */
const heldHere = new Set<string>();

function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true; // a shared volume mounted elsewhere: never steal
  if (owner.pid === process.pid) return false; // our own pid from a previous life (pid 1 in a container)
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  const start = processStart(owner.pid);
  return owner.start === null || start === null || start === owner.start;
}

export class DataDirLockedError extends Error {
  constructor(
    readonly path: string,
    owner: LockOwner,
  ) {
    super(`${path}: the data directory is in use by another exporter (pid ${owner.pid} on ${owner.host}); two exporters must not share a queue`);
    this.name = "DataDirLockedError";
  }
}

/**
 * An exclusive lock on a data directory: a lock file created with O_EXCL holding the owner's
 * pid and process start time. A lock left by a dead process (SIGKILL) is taken over at once,
 * so a restarted exporter is never refused.
 */
export class DataDirLock {
  private constructor(readonly path: string) {}

  static async acquire(dataDir: string): Promise<DataDirLock> {
    const path = join(dataDir, "lock");
    if (heldHere.has(path)) throw new DataDirLockedError(path, { pid: process.pid, start: processStart(process.pid), host: hostname() });
    await mkdir(dataDir, { recursive: true, mode: 0o750 });
    const me: LockOwner = { pid: process.pid, start: processStart(process.pid), host: hostname() };
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const fh = await open(path, "wx", 0o640);
        await fh.writeFile(JSON.stringify(me) + "\n");
        await fh.datasync();
        await fh.close();
        await fsyncDir(dataDir);
        heldHere.add(path);
        return new DataDirLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw err;
      }
      let owner: LockOwner;
      try {
        owner = JSON.parse(text) as LockOwner;
        if (typeof owner.pid !== "number") throw new Error("no pid");
      } catch {
        // Crashed between create and write: an empty or torn lock file has no live owner.
        owner = { pid: -1, start: null, host: hostname() };
      }
      if (owner.pid !== -1 && isAlive(owner)) throw new DataDirLockedError(path, owner);
      // Move the stale lock aside atomically: of two exporters racing here only one rename wins.
      const aside = `${path}.stale.${process.pid}`;
      try {
        await rename(path, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw err;
      }
      const moved = await readFile(aside, "utf8").catch(() => "");
      if (moved !== text) {
        // We moved a lock someone created after our read: it is theirs, put it back.
        await rename(aside, path).catch(() => {});
        throw new DataDirLockedError(path, owner);
      }
      await unlink(aside).catch(() => {});
    }
    throw new Error(`${path}: could not take the lock after several attempts`);
  }

  async release(): Promise<void> {
    heldHere.delete(this.path);
    await unlink(this.path).catch(() => {});
  }
}
