/**
 * Kubernetes metadata cache: a live IP → {pod, namespace, workload, workloadKind, services, node,
 * release, ignored} map fed by list+watch informers (src/core/kube).
 *
 *   const meta = KubeMetadataCache.start(client, { node }); await meta.waitReady(10_000);
 *   meta.lookup("10.0.1.7")   // IpMetadata | undefined (outside the cluster)
 *   meta.on("change", (kind) => ...)
 *
 * The pure logic (owner resolution, IP index, ignore annotations) is MetadataIndex, usable with
 * any source of objects.
 */
export { KubeMetadataCache, RESOURCE_KINDS, informerSource, type ObjectSource, type SourceFactory, type MetadataCacheOptions } from "./cache.js";
export { MetadataIndex, IGNORE_ANNOTATIONS, type IpMetadata, type ResourceKind } from "./metadata-index.js";
export { parseNamedCidr, matchCidr, type NamedCidr } from "./cidr.js";
export { guessWorkloadFromPodName, HELM_INSTANCE_LABEL, HELM_RELEASE_ANNOTATION } from "./owners.js";
