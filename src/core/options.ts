import { InvalidArgumentError, Option } from "commander";
import { parseDuration } from "./duration.js";
import { UsageError } from "./errors.js";

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

/**
 * An http:// or https:// URL of a service this process calls (Prometheus, the auditor). No
 * user:password in it: URLs end up in logs and answers; credentials come from token files.
 */
export function httpUrlParser(flag: string): (v: string) => string {
  return (v) => {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      throw new UsageError(`${flag}: not a URL: "${v}"`);
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new UsageError(`${flag}: must be http:// or https://, got "${v}"`);
    if (u.username || u.password) throw new UsageError(`${flag}: credentials in the URL would end up in logs; use a token file`);
    return v;
  };
}
