import { InvalidArgumentError, Option } from "commander";
import { parseDuration } from "./duration.js";

// Parsers for commander options. Commander names the flag in its error
// ("option '-p, --port <int>' argument '70000' is invalid. ...") and the CLI maps it to exit 2.

export function intParser(min: number, max: number): (v: string) => number {
  return (v: string) => {
    if (!/^-?\d+$/.test(v.trim())) throw new InvalidArgumentError(`expected an integer, got "${v}".`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`must be between ${min} and ${max}, got ${n}.`);
    return n;
  };
}

export function durationParser(opts: { min?: number; allowZero?: boolean } = {}): (v: string) => number {
  return (v: string) => {
    let ms: number;
    try {
      ms = parseDuration(v);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message + ".");
    }
    if (ms === 0 && !opts.allowZero) throw new InvalidArgumentError(`must be greater than 0, got "${v}".`);
    if (opts.min !== undefined && ms < opts.min) throw new InvalidArgumentError(`must be at least ${opts.min}ms, got "${v}".`);
    return ms;
  };
}

export function sizeParser(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(|b|k|kb|ki|kib|m|mb|mi|mib|g|gb|gi|gib)$/i.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`expected a size such as 1048576, 512KiB, 64MiB or 1GiB, got "${v}".`);
  const unit = m[2]!.toLowerCase();
  const mult = unit.startsWith("k") ? 1024 : unit.startsWith("m") ? 1024 ** 2 : unit.startsWith("g") ? 1024 ** 3 : 1;
  return Math.floor(Number(m[1]) * mult);
}

/** An option that is also settable by an environment variable (commander reads it). */
export function envOption(flags: string, description: string, env: string): Option {
  return new Option(flags, description).env(env);
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
