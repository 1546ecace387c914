// Keys laid out like Kubernetes' /registry/ (namespaced, cluster-scoped, group-prefixed, the
// historical names), with values of known, mostly distinct sizes, for the etcd usage tests.
// `STORAGE_PREFIXES` is written from Kubernetes' storage layout (k8s.io/apiserver, the
// registries' key prefixes), not from the code under test: the tests ask etcd itself what is
// under each prefix and compare with the scanner.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { EtcdServer } from "../support/etcd.js";

export const KEYS: Array<[key: string, valueBytes: number]> = [
  ["/registry/pods/ns-a/web-1", 4100],
  ["/registry/pods/ns-a/web-2", 4200],
  ["/registry/pods/ns-b/job-1", 3900],
  ["/registry/pods/kube-system/coredns-1", 5100],
  ["/registry/configmaps/ns-a/settings", 12_000],
  ["/registry/configmaps/ns-b/big", 96_000],
  ["/registry/configmaps/kube-system/kube-root-ca.crt", 1800],
  ["/registry/secrets/ns-a/token", 2400],
  ["/registry/secrets/kube-system/bootstrap", 0], // an empty value is a key of 0 bytes
  ["/registry/events/ns-a/web-1.17a", 650],
  ["/registry/events/ns-a/web-1.17b", 655],
  ["/registry/events/ns-b/job-1.17c", 700],
  ["/registry/deployments/ns-a/web", 3300],
  ["/registry/replicasets/ns-a/web-5d9", 2900],
  ["/registry/leases/kube-node-lease/node-1", 310],
  ["/registry/services/specs/ns-a/web", 800],
  ["/registry/services/endpoints/ns-a/web", 720],
  ["/registry/controllers/ns-b/legacy-rc", 1500],
  ["/registry/namespaces/ns-a", 420],
  ["/registry/namespaces/ns-b", 421],
  ["/registry/namespaces/kube-system", 430],
  ["/registry/minions/node-1", 9800],
  ["/registry/clusterroles/admin", 6100],
  ["/registry/clusterrolebindings/cluster-admin", 510],
  ["/registry/ranges/serviceips", 90],
  ["/registry/apiregistration.k8s.io/apiservices/v1.apps", 980],
  ["/registry/apiregistration.k8s.io/apiservices/v1beta1.metrics.k8s.io", 1010],
  ["/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com", 22_000],
  ["/registry/example.com/widgets/ns-a/w-1", 1234],
  ["/registry/example.com/widgets/ns-b/w-2", 1235],
  ["/registry/example.com/gadgets/g-1", 777], // a cluster-scoped custom resource
  ["/registry/odd/a/b/c", 33], // not an object key: too many segments
  // outside the /registry/ prefix: never counted
  ["/registry-other/pods/ns-a/x", 5000],
  ["/other/key", 100],
];

/** Resource name (as `kubectl api-resources` spells it, plural.group for group-prefixed storage) → etcd key prefix. */
export const STORAGE_PREFIXES: Record<string, string> = {
  pods: "/registry/pods/",
  configmaps: "/registry/configmaps/",
  secrets: "/registry/secrets/",
  events: "/registry/events/",
  deployments: "/registry/deployments/",
  replicasets: "/registry/replicasets/",
  leases: "/registry/leases/",
  services: "/registry/services/specs/",
  endpoints: "/registry/services/endpoints/",
  replicationcontrollers: "/registry/controllers/",
  namespaces: "/registry/namespaces/",
  nodes: "/registry/minions/",
  clusterroles: "/registry/clusterroles/",
  clusterrolebindings: "/registry/clusterrolebindings/",
  ranges: "/registry/ranges/",
  "apiservices.apiregistration.k8s.io": "/registry/apiregistration.k8s.io/apiservices/",
  "customresourcedefinitions.apiextensions.k8s.io": "/registry/apiextensions.k8s.io/customresourcedefinitions/",
  "widgets.example.com": "/registry/example.com/widgets/",
  "gadgets.example.com": "/registry/example.com/gadgets/",
};
export const CLUSTER_SCOPED = new Set(["namespaces", "nodes", "clusterroles", "clusterrolebindings", "ranges", "apiservices.apiregistration.k8s.io", "customresourcedefinitions.apiextensions.k8s.io", "gadgets.example.com"]);
export const NAMESPACES = ["ns-a", "ns-b", "kube-system", "kube-node-lease"];

/** A value of `n` bytes whose content differs per key. */
export const valueOf = (key: string, n: number): Buffer => Buffer.alloc(n, key.charCodeAt(key.length - 1) % 26 + 97);

export async function fill(etcd: EtcdServer, keys = KEYS): Promise<void> {
  for (const [k, n] of keys) await etcd.client.put(k, valueOf(k, n));
}

/** What etcd itself says is under a prefix: count_only, and the value bytes of a separate full read. */
export async function etcdSays(etcd: EtcdServer, prefix: string): Promise<{ keys: number; bytes: number }> {
  const count = (await etcd.client.range(prefix, { prefix: true, countOnly: true })).count;
  const all = await etcd.client.range(prefix, { prefix: true });
  if (all.kvs.length !== count) throw new Error(`etcd answered ${all.kvs.length} kvs for ${prefix} but counted ${count}`);
  return { keys: count, bytes: all.kvs.reduce((s, kv) => s + (kv.value?.length ?? 0), 0) };
}

/** A throwaway CA, a server certificate for 127.0.0.1, and a client certificate (openssl, EC P-256). */
export function makeCerts(dir: string): { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string; otherCa: string } {
  const run = (args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  const key = (name: string): void => run(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name]);
  for (const ca of ["ca", "other-ca"]) {
    key(`${ca}.key`);
    run(["req", "-x509", "-new", "-key", `${ca}.key`, "-out", `${ca}.crt`, "-days", "1", "-subj", `/CN=watch-auditor-test-${ca}`]);
  }
  writeFileSync(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
  writeFileSync(join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const who of ["server", "client"]) {
    key(`${who}.key`);
    run(["req", "-new", "-key", `${who}.key`, "-out", `${who}.csr`, "-subj", `/CN=${who}`]);
    run(["x509", "-req", "-in", `${who}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${who}.crt`, "-days", "1", "-extfile", `${who}.ext`]);
  }
  const p = (f: string): string => join(dir, f);
  return { ca: p("ca.crt"), serverCert: p("server.crt"), serverKey: p("server.key"), clientCert: p("client.crt"), clientKey: p("client.key"), otherCa: p("other-ca.crt") };
}


/**
 * Waits until etcd's DB size and size in use stop moving (writes reach the bolt file in batches up
 * to 100 ms after they were acknowledged), so that figures read at different moments agree.
 */
export async function settled(etcd: EtcdServer, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    const s = await etcd.client.status();
    const now = `${s.dbSize}/${s.dbSizeInUse}/${s.raftIndex}`;
    if (now === last) return;
    if (Date.now() > deadline) throw new Error(`etcd's DB size did not settle within ${timeoutMs} ms (last ${now})`);
    last = now;
    await new Promise((r) => setTimeout(r, 300));
  }
}
