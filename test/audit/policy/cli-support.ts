// Shared set-up of the `audit policy` CLI tests: a scratch directory for the file and policies.
import { after, before } from "node:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

// CI runs everything on 2 loaded cores: a CLI start can take many seconds there.
export const SLOW = { timeoutMs: 180_000 };

export interface ScratchDir {
  /** A path inside the directory (valid once the file's tests run). */
  path(name: string): string;
  /** Writes a policy (or any file) and returns its path. */
  policyFile(name: string, body: string): Promise<string>;
}

/** Registers before/after hooks in the calling test file that create and remove the directory. */
export function scratchDir(prefix: string): ScratchDir {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const path = (name: string): string => join(dir, name);
  return {
    path,
    async policyFile(name, body) {
      await writeFile(path(name), body);
      return path(name);
    },
  };
}
