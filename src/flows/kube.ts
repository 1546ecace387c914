import type { Logger } from "../core/logger.js";
import { KubeClient } from "../core/kube/client.js";
import type { InformerStat } from "../core/kube/informer.js";
import type { GVR } from "../core/kube/gvr.js";
import { KubeMetadataCache } from "../core/kube-metadata/cache.js";
import type { KubeConnector } from "./service.js";

export interface KubeConnectOptions {
  kubeconfig?: string;
  inCluster?: boolean;
  node?: string;
  /** Informer stats hook (list, relist, restart, event, error) for metrics. */
  onStat?: (stat: InformerStat, gvr: GVR) => void;
}

/** Loads the client (kubeconfig/in-cluster) and starts the metadata cache; throws if there is no configuration. */
export function kubeConnector(opts: KubeConnectOptions, log: Logger): KubeConnector {
  return {
    connect: async (onStat) => {
      const client = await KubeClient.load({ ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}), ...(opts.inCluster ? { inCluster: true } : {}), logger: log });
      log.info({ server: client.server, node: opts.node }, "starting Kubernetes metadata cache");
      const cache = KubeMetadataCache.start(client, {
        ...(opts.node ? { node: opts.node } : {}),
        informer: { logger: log, ...(onStat ? { onStat } : {}) },
      });
      return {
        get ready() {
          return cache.ready;
        },
        get version() {
          return cache.version;
        },
        lookup: (ip) => cache.lookup(ip),
        lookupPod: (ns, name) => cache.lookupPod(ns, name),
        serviceFor: (ip, port) => cache.serviceFor(ip, port),
        waitReady: (ms) => cache.waitReady(ms),
        stop: async () => {
          await cache.stop();
          client.close();
        },
      };
    },
  };
}
