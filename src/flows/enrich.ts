import type { IpMetadata } from "../core/kube-metadata/metadata-index.js";
import { matchCidr, type NamedCidr } from "../core/kube-metadata/cidr.js";
import { guessWorkloadFromPodName, HELM_INSTANCE_LABEL } from "../core/kube-metadata/owners.js";
import type { EventPod, HubbleEndpoint } from "./events.js";
import { Doorkeeper } from "./doorkeeper.js";

/** What the flow processor needs from the metadata cache (KubeMetadataCache satisfies it). */
export interface IpResolver {
  readonly ready: boolean;
  readonly version: number;
  lookup(ip: string): IpMetadata | undefined;
  lookupPod(namespace: string, name: string): IpMetadata | undefined;
  serviceFor(ip: string, port: number): string | undefined;
}

/** One side of a flow, reduced to what becomes labels. */
export interface Peer {
  namespace: string;
  workload: string;
  kind: string;
  pod?: string;
  release?: string;
  services: readonly string[];
  ignored: boolean;
  /**
   * Set on peers the enricher memoised: the same object comes back for the same key within a
   * generation, so callers may key their own caches by it. Transient peers (first sightings of a
   * key) are new objects every time and must not be.
   */
  memo?: true;
}

export const WORLD = "world";

function fromMetadata(m: IpMetadata): Peer {
  return {
    namespace: m.namespace,
    workload: m.workload,
    kind: m.workloadKind,
    ...(m.pod ? { pod: m.pod } : {}),
    ...(m.release ? { release: m.release } : {}),
    services: m.services,
    ignored: m.ignored,
  };
}

function fromEventPod(p: EventPod): Peer {
  const guess = p.workload ? { workload: p.workload, workloadKind: p.workloadKind ?? "Workload" } : guessWorkloadFromPodName(p.name);
  const release = p.labels?.[HELM_INSTANCE_LABEL];
  return { namespace: p.namespace, workload: guess.workload, kind: guess.workloadKind, pod: p.name, ...(release ? { release } : {}), services: [], ignored: false };
}

// Memoised peers (local pods and remote addresses). A node's working set is its pods (≤ 250 by
// kubelet's limits) and the addresses they talk to; 20 000 holds the 11 000 of the throughput
// benchmark with room. When processes outnumber it (100k distinct ones), the memo only fills and
// is dropped: a larger one (it was 50 000) held ~8 MiB more for nothing (docs/flows.md, Memory).
const MEMO_MAX = 20_000;

/**
 * Maps addresses and event-carried pod identities to peers: the live cache first (owner chain,
 * Helm release, services, ignore annotations), then what the event itself says, then a configured
 * CIDR name, then "world". Answers are memoised until the cache changes.
 */
export class Enricher {
  private memo = new Map<string, Peer>();
  private memoVersion = -1;
  // Pods from the Tetragon parser's head cache are the same object for every event of a process.
  // Weak: an entry lives as long as its pod object, i.e. as long as the parser remembers the head
  // (a strong map kept up to MEMO_MAX pods whose heads were long gone: ~7 MiB at 100k processes).
  private podMemo = new WeakMap<EventPod, Peer>();
  private memoGeneration = 0;
  // Admission: a key is memoised on its second sighting (see Doorkeeper).
  private readonly admit = new Doorkeeper(1 << 14);

  constructor(
    private readonly resolver: IpResolver | undefined,
    private readonly cidrs: readonly NamedCidr[] = [],
  ) {}

  private fresh(): Map<string, Peer> {
    const v = this.resolver?.ready ? this.resolver.version : -1;
    if (v !== this.memoVersion || this.memo.size > MEMO_MAX) {
      this.memo = new Map();
      this.podMemo = new WeakMap();
      this.memoVersion = v;
      this.memoGeneration++;
    }
    return this.memo;
  }

  /** Changes whenever memoised peers are dropped: Peer objects are stable within a generation. */
  get generation(): number {
    return this.memoGeneration;
  }

  /** True when answers come from a synced cluster cache. */
  get clusterReady(): boolean {
    return this.resolver?.ready ?? false;
  }

  private cached(): IpResolver | undefined {
    return this.resolver?.ready ? this.resolver : undefined;
  }

  /** The traced process's side: its pod (from the event) or, for host processes, its address. */
  local(ip: string, pod: EventPod | undefined, node: string | undefined): Peer {
    const memo = this.fresh();
    if (pod === undefined) {
      const key = `i\u0000${ip}`;
      let peer = memo.get(key);
      if (peer === undefined) {
        const m = this.cached()?.lookup(ip);
        peer = m ? fromMetadata(m) : { namespace: "", workload: node ?? "host", kind: "Host", services: [], ignored: false };
        if (this.admit.seen(key)) memo.set(key, ((peer.memo = true), peer));
      }
      return peer;
    }
    let peer = this.podMemo.get(pod);
    if (peer !== undefined) return peer;
    const key = `p\u0000${pod.namespace}\u0000${pod.name}`;
    peer = memo.get(key);
    if (peer === undefined) {
      const m = this.cached()?.lookupPod(pod.namespace, pod.name);
      peer = m ? fromMetadata(m) : fromEventPod(pod);
      if (!this.admit.seen(key)) return peer;
      peer.memo = true;
      memo.set(key, peer);
    }
    // Pods parsed afresh are new objects every time: they leave the weak map with the event.
    this.podMemo.set(pod, peer);
    return peer;
  }

  /** The other side of a socket: in the cluster, in a named network, or the world. */
  remote(ip: string): Peer {
    const memo = this.fresh();
    let peer = memo.get(ip);
    if (peer) return peer;
    const m = this.cached()?.lookup(ip);
    if (m) peer = fromMetadata(m);
    else {
      const named = matchCidr(this.cidrs, ip);
      peer = { namespace: "", workload: named ? named.name : WORLD, kind: named ? "Network" : "World", services: [], ignored: false };
    }
    if (this.admit.seen(ip)) memo.set(ip, ((peer.memo = true), peer));
    return peer;
  }

  /** The service a client reached at ip:port: the ClusterIP's service or the backend's EndpointSlice service. */
  service(peer: Peer, ip: string, port: number): string {
    if (peer.services.length === 0) return "";
    if (peer.services.length === 1) return peer.services[0]!;
    return this.cached()?.serviceFor(ip, port) ?? peer.services[0]!;
  }

  /** A Hubble endpoint: the cache by IP, else the endpoint's own namespace/pod/workload, else the world. */
  hubble(ep: HubbleEndpoint): Peer {
    const m = ep.ip ? this.cached()?.lookup(ep.ip) : undefined;
    if (m) return fromMetadata(m);
    if (ep.namespace && ep.pod) {
      const guess = ep.workload ? { workload: ep.workload, workloadKind: ep.workloadKind ?? "Workload" } : guessWorkloadFromPodName(ep.pod);
      const release = ep.labels?.[HELM_INSTANCE_LABEL];
      return { namespace: ep.namespace, workload: guess.workload, kind: guess.workloadKind, pod: ep.pod, ...(release ? { release } : {}), services: ep.service ? [ep.service] : [], ignored: false };
    }
    return ep.ip ? this.remote(ep.ip) : { namespace: "", workload: WORLD, kind: "World", services: [], ignored: false };
  }
}
