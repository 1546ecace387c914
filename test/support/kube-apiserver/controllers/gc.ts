// kube-controller-manager's garbage collector (pkg/controller/garbagecollector, v1.25), for the
// parts the store does not already do synchronously (Background and Orphan deletion stay there):
// - foreground deletion: an owner with deletionTimestamp and the `foregroundDeletion` finalizer
//   gets its dependents deleted — those that have dependents themselves with
//   propagationPolicy Foreground (so they wait in turn), the others in the background; a
//   dependent that still has another, live owner only loses the reference. Once no dependent
//   with `blockOwnerDeletion: true` is left, the finalizer is removed and the owner goes
//   (recorded: deployments/delete-foreground, deployments/get-during-foreground-delete);
// - dangling owner references: an object whose owners all do not exist (no object of that kind
//   and name with that uid) is deleted.
import type { KubeObject, ObjectStore, StoreEvent } from "../store.js";
import type { ResourceInfo } from "../resources.js";
import { type Controller, type ControllerRuntime, type Enqueue } from "./runtime.js";

interface OwnerRef {
  apiVersion?: string;
  kind?: string;
  name?: string;
  uid?: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

const FOREGROUND = "foregroundDeletion";

function gvrOf(info: ResourceInfo): string {
  return `${info.group ? `${info.group}/` : ""}${info.version}/${info.resource}`;
}

function refs(o: KubeObject): OwnerRef[] {
  return ((o.metadata.ownerReferences ?? []) as OwnerRef[]).filter((r) => r && typeof r.uid === "string");
}

/** The live owner an ownerReference points at, or undefined (absent, or another object by that name). */
function ownerOf(store: ObjectStore, dependent: KubeObject, ref: OwnerRef): { obj: KubeObject; info: ResourceInfo } | undefined {
  if (!ref.apiVersion || !ref.kind || !ref.name) return undefined;
  const info = store.registry.byKind(ref.apiVersion, ref.kind);
  if (!info) return undefined;
  const obj = store.getRaw(info, info.namespaced ? dependent.metadata.namespace : undefined, ref.name);
  return obj && obj.metadata.uid === ref.uid ? { obj, info } : undefined;
}

function deletingDependents(o: KubeObject): boolean {
  return !!o.metadata.deletionTimestamp && (o.metadata.finalizers ?? []).includes(FOREGROUND);
}

export class GarbageCollector implements Controller {
  readonly name = "garbage-collector";
  private readonly enqueue: Enqueue;

  constructor(
    private readonly rt: ControllerRuntime,
    private readonly delayMs: number,
  ) {
    this.enqueue = rt.enqueuer(this);
    // Foreground deletions are finished here from now on, not by the store's stand-in.
    rt.store.garbageCollector = "controller";
  }

  private key(info: ResourceInfo, o: KubeObject): string {
    return JSON.stringify([gvrOf(info), o.metadata.namespace ?? "", o.metadata.name, o.metadata.uid]);
  }

  observe(e: StoreEvent): void {
    const o = e.object;
    if (e.type !== "DELETED" && deletingDependents(o) && !(e.oldObject && deletingDependents(e.oldObject))) this.enqueue(this.key(e.resource, o), this.delayMs);
    const owners = refs(o);
    if (owners.length === 0) return;
    // A dependent changed or went: its owners that wait for their dependents look again.
    for (const r of owners) {
      const owner = ownerOf(this.rt.store, o, r);
      if (owner && deletingDependents(owner.obj)) this.enqueue(this.key(owner.info, owner.obj));
    }
    if (e.type === "ADDED" || (e.type === "MODIFIED" && JSON.stringify(e.oldObject?.metadata.ownerReferences) !== JSON.stringify(o.metadata.ownerReferences)))
      this.enqueue(this.key(e.resource, o), this.delayMs);
  }

  sync(key: string): void {
    const [gvr, ns, name, uid] = JSON.parse(key) as [string, string, string, string];
    const o = this.rt.store.get(gvr, ns || undefined, name);
    if (!o || o.metadata.uid !== uid) return;
    if (deletingDependents(o)) return this.processDeletingDependents(gvr, o);
    this.attemptToDelete(gvr, o);
  }

  /** Objects with an ownerReference to `uid`. */
  private dependents(uid: string): { obj: KubeObject; info: ResourceInfo }[] {
    const out: { obj: KubeObject; info: ResourceInfo }[] = [];
    for (const info of this.rt.store.registry.all())
      for (const obj of this.rt.store.listCurrent(info)) if (refs(obj).some((r) => r.uid === uid)) out.push({ obj, info });
    return out;
  }

  private processDeletingDependents(gvr: string, owner: KubeObject): void {
    const uid = String(owner.metadata.uid);
    const deps = this.dependents(uid);
    for (const { obj, info } of deps) {
      if (obj.metadata.deletionTimestamp) continue;
      this.attemptToDeleteDependent(info, obj);
    }
    const blocking = this.dependents(uid).filter(({ obj }) => refs(obj).some((r) => r.uid === uid && r.blockOwnerDeletion === true));
    if (blocking.length > 0) return;
    this.rt.update(gvr, owner.metadata.namespace, String(owner.metadata.name), (o) => {
      const rest = (o.metadata.finalizers ?? []).filter((f) => f !== FOREGROUND);
      if (rest.length) o.metadata.finalizers = rest;
      else delete o.metadata.finalizers;
    });
  }

  /** attemptToDeleteItem for a dependent of an owner that is deleting its dependents. */
  private attemptToDeleteDependent(info: ResourceInfo, dep: KubeObject): void {
    const live = refs(dep).filter((r) => {
      const owner = ownerOf(this.rt.store, dep, r);
      return owner && !deletingDependents(owner.obj) && !owner.obj.metadata.deletionTimestamp;
    });
    const gvr = gvrOf(info);
    if (live.length > 0) {
      // Solid owners left: only the references to owners that are going are removed.
      const keep = new Set(live.map((r) => r.uid));
      this.rt.update(gvr, dep.metadata.namespace, String(dep.metadata.name), (o) => {
        o.metadata.ownerReferences = refs(o).filter((r) => keep.has(r.uid));
      });
      return;
    }
    const hasDependents = this.dependents(String(dep.metadata.uid)).length > 0;
    const finalizers = dep.metadata.finalizers ?? [];
    const policy = hasDependents || finalizers.includes(FOREGROUND) ? "Foreground" : finalizers.includes("orphan") ? "Orphan" : "Background";
    this.rt.delete(gvr, dep.metadata.namespace, String(dep.metadata.name), { preconditions: { uid: dep.metadata.uid }, propagationPolicy: policy });
  }

  /** attemptToDeleteItem for an object none of whose owners is being deleted: dangling references. */
  private attemptToDelete(gvr: string, o: KubeObject): void {
    if (o.metadata.deletionTimestamp) return;
    const owners = refs(o);
    if (owners.length === 0) return;
    const info = this.rt.store.registry.resolve(gvr);
    const dangling: OwnerRef[] = [];
    let solid = 0;
    for (const r of owners) {
      const ownerInfo = r.apiVersion && r.kind ? this.rt.store.registry.byKind(r.apiVersion, r.kind) : undefined;
      // A namespaced owner of a cluster-scoped object is invalid: leave such objects alone.
      if (!ownerInfo || (ownerInfo.namespaced && !info.namespaced)) return;
      const owner = ownerOf(this.rt.store, o, r);
      if (owner) solid++;
      else dangling.push(r);
    }
    if (dangling.length === 0) return;
    if (solid > 0) {
      const gone = new Set(dangling.map((r) => r.uid));
      this.rt.update(gvr, o.metadata.namespace, String(o.metadata.name), (x) => {
        x.metadata.ownerReferences = refs(x).filter((r) => !gone.has(r.uid));
      });
      return;
    }
    const finalizers = o.metadata.finalizers ?? [];
    const policy = finalizers.includes("orphan") ? "Orphan" : finalizers.includes(FOREGROUND) ? "Foreground" : "Background";
    this.rt.delete(gvr, o.metadata.namespace, String(o.metadata.name), { preconditions: { uid: o.metadata.uid }, propagationPolicy: policy });
  }
}
