// Fault injection: answer matching requests with an error Status, a delay, or never.

export type Verb = "get" | "list" | "create" | "update" | "patch" | "delete" | "deletecollection" | "watch";

export interface FaultSpec {
  method?: string;
  pathRegex?: RegExp | string;
  verb?: Verb;
  /** Answer with a Status of this code (429 adds Retry-After). Omit with delayMs for a pure delay. */
  status?: number;
  /** How many matching requests to affect; default: all until clear(). */
  count?: number;
  delayMs?: number;
  /** Accept the request and never answer (until the client gives up or the server closes). */
  hang?: boolean;
  retryAfterSeconds?: number;
  message?: string;
}

export interface ActiveFault extends FaultSpec {
  /** Requests this fault has affected so far. */
  hits: number;
}

export class Faults {
  private list: ActiveFault[] = [];

  inject(spec: FaultSpec): ActiveFault {
    if (spec.status === undefined && spec.delayMs === undefined && !spec.hang)
      throw new Error("fault needs status, delayMs or hang");
    const f: ActiveFault = { ...spec, hits: 0 };
    this.list.push(f);
    return f;
  }

  clear(): void {
    this.list = [];
  }

  /** Takes the first matching fault with budget left (consuming one use), if any. */
  take(method: string, path: string, verb: string | undefined): ActiveFault | undefined {
    for (const f of this.list) {
      if (f.count !== undefined && f.hits >= f.count) continue;
      if (f.method && f.method.toUpperCase() !== method) continue;
      if (f.verb && f.verb !== verb) continue;
      if (f.pathRegex && !new RegExp(f.pathRegex).test(path)) continue;
      f.hits++;
      return f;
    }
    return undefined;
  }
}
