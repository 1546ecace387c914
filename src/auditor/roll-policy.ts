// When to roll the controller: N consecutive fails (a pass resets the count, an
// inconclusive leaves it alone), never inside the cooldown, never above the hourly cap.
import type { CheckOutcome } from "./cycle.js";
import type { Mode } from "./probe.js";

export type RollDecision =
  | { roll: true }
  | { roll: false; skipped?: "audit_mode" | "cooldown" | "hourly_cap" };

export interface RollPolicyOptions {
  mode: Mode;
  failureThreshold: number;
  cooldownMs: number;
  maxRollsPerHour: number;
}

const HOUR_MS = 3_600_000;

export class RollPolicy {
  private consecutive = 0;
  private rolls: number[] = [];
  constructor(private readonly opts: RollPolicyOptions) {}

  get consecutiveFailures(): number {
    return this.consecutive;
  }

  get lastRollAt(): number | undefined {
    return this.rolls.at(-1);
  }

  rollsInLastHour(now: number): number {
    this.rolls = this.rolls.filter((t) => now - t < HOUR_MS);
    return this.rolls.length;
  }

  /**
   * Feeds one check outcome. The count is not reset by a roll: while the controller
   * stays broken it stays at or above the threshold, and the cooldown alone spaces rolls.
   */
  record(outcome: CheckOutcome, now: number): RollDecision {
    if (outcome === "pass") this.consecutive = 0;
    if (outcome !== "fail") return { roll: false };
    this.consecutive++;
    if (this.consecutive < this.opts.failureThreshold) return { roll: false };
    if (this.opts.mode === "audit") return { roll: false, skipped: "audit_mode" };
    const last = this.lastRollAt;
    if (last !== undefined && now - last < this.opts.cooldownMs) return { roll: false, skipped: "cooldown" };
    if (this.rollsInLastHour(now) >= this.opts.maxRollsPerHour) return { roll: false, skipped: "hourly_cap" };
    return { roll: true };
  }

  /** Counts an attempted roll (successful or not) against cooldown and cap, so a failing roll cannot loop. */
  rolled(now: number): void {
    this.rolls.push(now);
  }
}
