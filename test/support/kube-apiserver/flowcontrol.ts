// API Priority and Fairness, as far as clients can see it: every authenticated answer names the
// FlowSchema and PriorityLevelConfiguration that classified the request in two headers (401s carry
// none). Classification follows the mandatory and suggested configuration of v1.25 (exempt for
// system:masters, probes for health checks, service-accounts, global-default). No queuing or
// rejection is modelled: fault injection covers 429s.
import { randomUUID } from "node:crypto";
import type { UserInfo } from "./rbac.js";

const HEALTH_PATHS = /^\/(healthz|livez|readyz)(\/|$)/;

export class FlowControl {
  private readonly uids = new Map<string, string>();

  private uid(kind: string, name: string): string {
    const key = `${kind}/${name}`;
    let u = this.uids.get(key);
    if (!u) {
      u = randomUUID();
      this.uids.set(key, u);
    }
    return u;
  }

  /** The FlowSchema and priority level a request from `user` for `path` is classified under. */
  classify(user: UserInfo, path: string, resourceRequest: boolean): { flowSchema: string; priorityLevel: string } {
    if (user.groups.includes("system:masters")) return { flowSchema: "exempt", priorityLevel: "exempt" };
    if (!resourceRequest && HEALTH_PATHS.test(path)) return { flowSchema: "probes", priorityLevel: "exempt" };
    if (user.groups.includes("system:serviceaccounts")) return { flowSchema: "service-accounts", priorityLevel: "workload-low" };
    return { flowSchema: "global-default", priorityLevel: "global-default" };
  }

  headers(user: UserInfo, path: string, resourceRequest: boolean): Record<string, string> {
    const c = this.classify(user, path, resourceRequest);
    return {
      "X-Kubernetes-Pf-Flowschema-Uid": this.uid("flowschema", c.flowSchema),
      "X-Kubernetes-Pf-Prioritylevel-Uid": this.uid("prioritylevel", c.priorityLevel),
    };
  }
}
