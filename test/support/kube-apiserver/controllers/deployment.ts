// kube-controller-manager's deployment controller (pkg/controller/deployment, v1.25), followed
// function by function: getNewReplicaSet (ReplicaSet `<deployment>-<pod-template-hash>` with the
// real ComputeHash, the deployment.kubernetes.io/{revision,desired-replicas,max-replicas}
// annotations, the Deployment's annotations copied, the controller reference), isScalingEvent +
// proportional scaling, rolloutRolling (reconcileNewReplicaSet, cleanupUnhealthyReplicas,
// scaleDownOldReplicaSetsForRollingUpdate), rolloutRecreate, cleanupDeployment
// (revisionHistoryLimit), paused deployments, syncStatusOnly while being deleted, the status
// (observedGeneration, replicas, updatedReplicas, readyReplicas, availableReplicas,
// unavailableReplicas) and the Available/Progressing conditions with their real reasons and
// messages, ProgressDeadlineExceeded after progressDeadlineSeconds, and ScalingReplicaSet events.
//
// Not modelled: the deprecated rollback annotation, ReplicaFailure conditions copied from
// ReplicaSets beyond the newest failing one.
import { ApiError } from "../status.js";
import type { KubeObject, StoreEvent } from "../store.js";
import { computeHash } from "./hash.js";
import type { RsSpec, RsStatus } from "./replicaset.js";
import {
  type Controller,
  type ControllerRuntime,
  type Enqueue,
  type LabelSelector,
  controllerOf,
  controllerRef,
  isObj,
  keyFor,
  nowTimestamp,
  selectorIsEmpty,
  selectorMatches,
  semanticEqual,
  splitKey,
} from "./runtime.js";

const REVISION = "deployment.kubernetes.io/revision";
const REVISION_HISTORY = "deployment.kubernetes.io/revision-history";
const DESIRED = "deployment.kubernetes.io/desired-replicas";
const MAX = "deployment.kubernetes.io/max-replicas";
const HASH_LABEL = "pod-template-hash";
const SKIP_ANNOTATIONS = new Set(["kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY, DESIRED, MAX, "deprecated.deployment.rollback.to"]);
const MAX_REV_HISTORY_CHARS = 2000;
const MAX_INT32 = 2147483647;

interface Condition {
  type: string;
  status: string;
  lastUpdateTime: string;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

interface DeploymentSpec {
  replicas?: number;
  selector?: LabelSelector;
  template?: { metadata?: Record<string, unknown> & { labels?: Record<string, string> }; spec?: unknown };
  strategy?: { type?: string; rollingUpdate?: { maxSurge?: number | string; maxUnavailable?: number | string } };
  minReadySeconds?: number;
  revisionHistoryLimit?: number;
  paused?: boolean;
  progressDeadlineSeconds?: number;
}

interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: Condition[];
  collisionCount?: number;
}

/** The working copy of a Deployment a sync carries along (as the Go code mutates `d`). */
interface D {
  obj: KubeObject;
  spec: DeploymentSpec;
  status: DeploymentStatus;
  annotations: Record<string, string>;
}

type RS = KubeObject;

const specOf = (rs: RS | undefined): RsSpec => (rs?.spec ?? {}) as RsSpec;
const statusOf = (rs: RS | undefined): RsStatus => (isObj(rs?.status) ? rs.status : {}) as RsStatus;
const replicasOf = (rs: RS | undefined): number => (rs ? (specOf(rs).replicas ?? 1) : 0);

/** intstr.GetScaledValueFromIntOrPercent */
function scaled(v: number | string | undefined, total: number, roundUp: boolean): number {
  if (v === undefined) return 0;
  if (typeof v === "number") return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) return Number(v) || 0;
  const x = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}

function isRolling(d: D): boolean {
  return (d.spec.strategy?.type ?? "RollingUpdate") === "RollingUpdate";
}

function desired(d: D): number {
  return d.spec.replicas ?? 1;
}

/** ResolveFenceposts */
function fenceposts(d: D): [number, number] {
  const ru = d.spec.strategy?.rollingUpdate ?? {};
  const surge = scaled(ru.maxSurge ?? 0, desired(d), true);
  let unavailable = scaled(ru.maxUnavailable ?? 0, desired(d), false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return [surge, unavailable];
}

function maxSurge(d: D): number {
  return isRolling(d) ? fenceposts(d)[0] : 0;
}

function maxUnavailable(d: D): number {
  if (!isRolling(d) || desired(d) === 0) return 0;
  return Math.min(fenceposts(d)[1], desired(d));
}

const sumSpec = (rss: (RS | undefined)[]) => rss.reduce((n, rs) => n + replicasOf(rs), 0);
const sumActual = (rss: (RS | undefined)[]) => rss.reduce((n, rs) => n + (rs ? (statusOf(rs).replicas ?? 0) : 0), 0);
const sumReady = (rss: (RS | undefined)[]) => rss.reduce((n, rs) => n + (rs ? (statusOf(rs).readyReplicas ?? 0) : 0), 0);
const sumAvailable = (rss: (RS | undefined)[]) => rss.reduce((n, rs) => n + (rs ? (statusOf(rs).availableReplicas ?? 0) : 0), 0);
const active = (rss: (RS | undefined)[]): RS[] => rss.filter((rs): rs is RS => !!rs && replicasOf(rs) > 0);

function created(rt: ControllerRuntime, rs: RS): number {
  // Go compares creationTimestamps (whole seconds), then names (random hashes); with the
  // precise creation time, ReplicaSets made within one second keep their real order.
  return rt.creationMs(rs);
}

function byCreation(rt: ControllerRuntime) {
  return (a: RS, b: RS) => created(rt, a) - created(rt, b) || (String(a.metadata.name) < String(b.metadata.name) ? -1 : 1);
}

function revisionOf(rs: RS): number {
  const v = Number(rs.metadata.annotations?.[REVISION] ?? "");
  return Number.isInteger(v) ? v : 0;
}

/** EqualIgnoreHash: templates equal apart from the pod-template-hash label. */
function equalIgnoreHash(a: unknown, b: unknown): boolean {
  const strip = (t: unknown) => {
    const c = structuredClone((t ?? {}) as { metadata?: { labels?: Record<string, string> } });
    if (c.metadata?.labels) delete c.metadata.labels[HASH_LABEL];
    return c;
  };
  return semanticEqual(strip(a), strip(b));
}

function newCondition(type: string, status: string, reason: string, message: string): Condition {
  const now = nowTimestamp();
  return { type, status, lastUpdateTime: now, lastTransitionTime: now, reason, message };
}

function getCondition(s: DeploymentStatus, type: string): Condition | undefined {
  return s.conditions?.find((c) => c.type === type);
}

/** util.SetDeploymentCondition */
function setCondition(s: DeploymentStatus, c: Condition): void {
  const cur = getCondition(s, c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return;
  if (cur && cur.status === c.status) c.lastTransitionTime = cur.lastTransitionTime;
  s.conditions = [...(s.conditions ?? []).filter((x) => x.type !== c.type), c];
}

function removeCondition(s: DeploymentStatus, type: string): void {
  if (!s.conditions) return;
  s.conditions = s.conditions.filter((c) => c.type !== type);
}

function hasProgressDeadline(d: D): boolean {
  const p = d.spec.progressDeadlineSeconds;
  return p !== undefined && p !== MAX_INT32;
}

/** The status as DeploymentStatus encodes it (every field omitempty). */
function encodeStatus(s: DeploymentStatus): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ["observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"] as const) if (s[k]) out[k] = s[k];
  if (s.conditions && s.conditions.length) out.conditions = s.conditions;
  if (s.collisionCount !== undefined) out.collisionCount = s.collisionCount;
  return out;
}

export class DeploymentController implements Controller {
  readonly name = "deployment-controller";
  private readonly enqueue: Enqueue;

  constructor(private readonly rt: ControllerRuntime) {
    this.enqueue = rt.enqueuer(this);
  }

  observe(e: StoreEvent): void {
    const r = e.resource;
    if (r.group === "apps" && r.resource === "deployments") {
      if (e.type !== "DELETED") this.enqueue(keyFor(e.object));
      return;
    }
    if (r.group === "apps" && r.resource === "replicasets") {
      for (const rs of [e.object, ...(e.oldObject ? [e.oldObject] : [])]) {
        const ref = controllerOf(rs);
        if (ref?.kind === "Deployment") this.enqueue(`${rs.metadata.namespace}/${ref.name}`);
        else if (!ref && e.type !== "DELETED")
          for (const d of this.rt.store.list("apps/v1/deployments", rs.metadata.namespace))
            if (selectorMatches((d.spec as DeploymentSpec | undefined)?.selector, rs.metadata.labels)) this.enqueue(keyFor(d));
      }
      return;
    }
    // Recreate waits for the old pods to be gone.
    if (r.group === "" && r.resource === "pods" && e.type === "DELETED") {
      const ref = controllerOf(e.object);
      if (ref?.kind !== "ReplicaSet") return;
      const rs = this.rt.store.get("apps/v1/replicasets", e.object.metadata.namespace, String(ref.name));
      const dref = rs && controllerOf(rs);
      if (rs && dref?.kind === "Deployment") this.enqueue(`${rs.metadata.namespace}/${dref.name}`);
    }
  }

  private load(ns: string | undefined, name: string): D | undefined {
    const obj = this.rt.store.get("apps/v1/deployments", ns, name);
    if (!obj) return undefined;
    return {
      obj,
      spec: (obj.spec ?? {}) as DeploymentSpec,
      status: structuredClone((isObj(obj.status) ? obj.status : {}) as DeploymentStatus),
      annotations: { ...(obj.metadata.annotations ?? {}) },
    };
  }

  /** UpdateStatus with the working copy (annotations and status; the status strategy keeps spec and labels). */
  private updateStatus(d: D): void {
    const ns = d.obj.metadata.namespace;
    const name = String(d.obj.metadata.name);
    const updated = this.rt.updateStatus("apps/v1/deployments", ns, name, (o) => {
      if (Object.keys(d.annotations).length) o.metadata.annotations = { ...d.annotations };
      else delete o.metadata.annotations;
      o.status = encodeStatus(d.status);
    });
    if (updated) d.obj = updated;
  }

  sync(key: string): void {
    const [ns, name] = splitKey(key);
    const d = this.load(ns, name);
    if (!d) return;
    if (selectorIsEmpty(d.spec.selector)) {
      this.rt.events.event("deployment-controller", d.obj, "Warning", "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.");
      if ((d.status.observedGeneration ?? 0) < (d.obj.metadata.generation ?? 0)) {
        d.status.observedGeneration = d.obj.metadata.generation;
        this.updateStatus(d);
      }
      return;
    }
    const rsList = this.replicaSetsFor(d);
    if (d.obj.metadata.deletionTimestamp) {
      const [newRS, oldRSs] = this.allReplicaSetsAndSyncRevision(d, rsList, false);
      this.syncDeploymentStatus([...oldRSs, newRS], newRS, d);
      return;
    }
    this.checkPausedConditions(d);
    if (d.spec.paused) {
      this.syncScale(d, rsList);
      return;
    }
    if (this.isScalingEvent(d, rsList)) {
      this.syncScale(d, rsList);
      return;
    }
    if (isRolling(d)) this.rolloutRolling(d, rsList);
    else this.rolloutRecreate(d, rsList);
  }

  /** getReplicaSetsForDeployment: ClaimReplicaSets (adopt matching orphans, release non-matching). */
  private replicaSetsFor(d: D): RS[] {
    const ns = d.obj.metadata.namespace;
    const uid = d.obj.metadata.uid;
    const out: RS[] = [];
    for (const rs of this.rt.store.list("apps/v1/replicasets", ns)) {
      const ref = controllerOf(rs);
      const matches = selectorMatches(d.spec.selector, rs.metadata.labels);
      if (ref) {
        if (ref.uid !== uid) continue;
        if (matches) out.push(rs);
        else if (!d.obj.metadata.deletionTimestamp)
          this.rt.update("apps/v1/replicasets", ns, String(rs.metadata.name), (o) => {
            const refs = ((o.metadata.ownerReferences ?? []) as { uid?: string }[]).filter((r) => r?.uid !== uid);
            if (refs.length) o.metadata.ownerReferences = refs;
            else delete o.metadata.ownerReferences;
          });
        continue;
      }
      if (!matches || d.obj.metadata.deletionTimestamp || rs.metadata.deletionTimestamp) continue;
      const adopted = this.rt.update("apps/v1/replicasets", ns, String(rs.metadata.name), (o) => {
        o.metadata.ownerReferences = [...(o.metadata.ownerReferences ?? []), controllerRef(d.obj)];
      });
      if (adopted) out.push(adopted);
    }
    return out;
  }

  /** FindNewReplicaSet: the oldest ReplicaSet whose template equals the Deployment's. */
  private findNew(d: D, rsList: RS[]): RS | undefined {
    return [...rsList].sort(byCreation(this.rt)).find((rs) => equalIgnoreHash(specOf(rs).template, d.spec.template));
  }

  private allReplicaSetsAndSyncRevision(d: D, rsList: RS[], create: boolean): [RS | undefined, RS[]] {
    const found = this.findNew(d, rsList);
    const oldRSs = rsList.filter((rs) => rs !== found);
    const newRS = this.getNewReplicaSet(d, rsList, oldRSs, create);
    return [newRS, oldRSs];
  }

  /** deploymentutil.SetNewReplicaSetAnnotations; returns whether anything changed. */
  private setNewReplicaSetAnnotations(d: D, rs: RS, newRevision: string, exists: boolean): boolean {
    const ann = (rs.metadata.annotations = { ...(rs.metadata.annotations ?? {}) });
    let changed = false;
    for (const [k, v] of Object.entries(d.annotations)) {
      if (SKIP_ANNOTATIONS.has(k) || ann[k] === v) continue;
      ann[k] = v;
      changed = true;
    }
    const oldRevision = ann[REVISION];
    const had = oldRevision !== undefined;
    let oldRev = 0;
    if (had && oldRevision !== "") {
      oldRev = Number(oldRevision);
      if (!Number.isInteger(oldRev)) return false;
    }
    const newRev = Number(newRevision);
    if (oldRev < newRev) {
      ann[REVISION] = newRevision;
      changed = true;
    }
    if (had && oldRev < newRev) {
      const history = ann[REVISION_HISTORY] ?? "";
      let olds = history.split(",");
      if (olds[0]!.length === 0) ann[REVISION_HISTORY] = String(oldRevision);
      else {
        let total = history.length + String(oldRevision).length + 1;
        let start = 0;
        while (total > MAX_REV_HISTORY_CHARS && start < olds.length) {
          total -= olds[start]!.length + 1;
          start++;
        }
        if (total <= MAX_REV_HISTORY_CHARS) {
          olds = [...olds.slice(start), String(oldRevision)];
          ann[REVISION_HISTORY] = olds.join(",");
        }
      }
    }
    if (!exists && this.setReplicasAnnotations(rs, desired(d), desired(d) + maxSurge(d))) changed = true;
    return changed;
  }

  private setReplicasAnnotations(rs: RS, want: number, max: number): boolean {
    const ann = (rs.metadata.annotations = { ...(rs.metadata.annotations ?? {}) });
    let changed = false;
    if (ann[DESIRED] !== String(want)) {
      ann[DESIRED] = String(want);
      changed = true;
    }
    if (ann[MAX] !== String(max)) {
      ann[MAX] = String(max);
      changed = true;
    }
    return changed;
  }

  private setDeploymentRevision(d: D, revision: string | undefined): boolean {
    if (revision === undefined || d.annotations[REVISION] === revision) return false;
    d.annotations[REVISION] = revision;
    return true;
  }

  private getNewReplicaSet(d: D, rsList: RS[], oldRSs: RS[], create: boolean): RS | undefined {
    const existing = this.findNew(d, rsList);
    const maxOld = Math.max(0, ...oldRSs.map(revisionOf));
    const newRevision = String(maxOld + 1);
    const ns = d.obj.metadata.namespace;
    if (existing) {
      const copy = structuredClone(existing);
      const annotationsUpdated = this.setNewReplicaSetAnnotations(d, copy, newRevision, true);
      const minReady = d.spec.minReadySeconds ?? 0;
      if (annotationsUpdated || (specOf(copy).minReadySeconds ?? 0) !== minReady) {
        return this.rt.update("apps/v1/replicasets", ns, String(copy.metadata.name), (o) => {
          o.metadata.annotations = copy.metadata.annotations;
          const s = o.spec as RsSpec;
          if (minReady) s.minReadySeconds = minReady;
          else delete s.minReadySeconds;
        });
      }
      let needsUpdate = this.setDeploymentRevision(d, copy.metadata.annotations?.[REVISION]);
      if (hasProgressDeadline(d) && !getCondition(d.status, "Progressing")) {
        setCondition(d.status, newCondition("Progressing", "True", "FoundNewReplicaSet", `Found new replica set "${copy.metadata.name}"`));
        needsUpdate = true;
      }
      if (needsUpdate) this.updateStatus(d);
      return copy;
    }
    if (!create) return undefined;

    const template = structuredClone(d.spec.template ?? {});
    const hash = computeHash(template, d.status.collisionCount);
    const tmeta = (template.metadata = template.metadata ?? {});
    tmeta.labels = { ...(d.spec.template?.metadata?.labels ?? {}), [HASH_LABEL]: hash };
    const selector = structuredClone(d.spec.selector ?? {});
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [HASH_LABEL]: hash };
    const rsName = `${d.obj.metadata.name}-${hash}`;
    const newRS: RS = {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: { name: rsName, namespace: ns, labels: { ...tmeta.labels }, ownerReferences: [controllerRef(d.obj)] },
      spec: {
        replicas: 0,
        ...(d.spec.minReadySeconds && { minReadySeconds: d.spec.minReadySeconds }),
        selector,
        template,
      },
      status: { replicas: 0 },
    };
    const count = this.newRSNewReplicas(d, [...oldRSs, newRS], newRS);
    (newRS.spec as RsSpec).replicas = count;
    this.setNewReplicaSetAnnotations(d, newRS, newRevision, false);
    let createdRS: RS;
    let alreadyExists = false;
    try {
      createdRS = this.rt.create(newRS);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (err.code === 409) {
        alreadyExists = true;
        const rs = this.rt.store.get("apps/v1/replicasets", ns, rsName);
        if (rs && controllerOf(rs)?.uid === d.obj.metadata.uid && equalIgnoreHash(d.spec.template, specOf(rs).template)) createdRS = rs;
        else {
          // A hash collision: bump collisionCount and try again with the next hash.
          d.status.collisionCount = (d.status.collisionCount ?? 0) + 1;
          this.updateStatus(d);
          throw err;
        }
      } else if (err.code === 403 && err.status.details?.causes?.some((c) => c.reason === "NamespaceTerminating")) {
        throw err;
      } else {
        const msg = `Failed to create new replica set "${rsName}": ${err.status.message}`;
        if (hasProgressDeadline(d)) {
          setCondition(d.status, newCondition("Progressing", "False", "ReplicaSetCreateError", msg));
          this.updateStatus(d);
        }
        this.rt.events.event("deployment-controller", d.obj, "Warning", "ReplicaSetCreateError", msg);
        throw err;
      }
    }
    if (!alreadyExists && count > 0)
      this.rt.events.event("deployment-controller", d.obj, "Normal", "ScalingReplicaSet", `Scaled up replica set ${createdRS.metadata.name} to ${count}`);
    let needsUpdate = this.setDeploymentRevision(d, newRevision);
    if (!alreadyExists && hasProgressDeadline(d)) {
      setCondition(d.status, newCondition("Progressing", "True", "NewReplicaSetCreated", `Created new replica set "${createdRS.metadata.name}"`));
      needsUpdate = true;
    }
    if (needsUpdate) this.updateStatus(d);
    return createdRS;
  }

  /** NewRSNewReplicas */
  private newRSNewReplicas(d: D, allRSs: RS[], newRS: RS): number {
    if (!isRolling(d)) return desired(d);
    const surge = scaled(d.spec.strategy?.rollingUpdate?.maxSurge ?? 0, desired(d), true);
    const current = sumSpec(allRSs);
    const maxTotal = desired(d) + surge;
    if (current >= maxTotal) return replicasOf(newRS);
    const up = Math.min(maxTotal - current, desired(d) - replicasOf(newRS));
    return replicasOf(newRS) + up;
  }

  private isScalingEvent(d: D, rsList: RS[]): boolean {
    const [newRS, oldRSs] = this.allReplicaSetsAndSyncRevision(d, rsList, false);
    for (const rs of active([...oldRSs, newRS])) {
      const v = rs.metadata.annotations?.[DESIRED];
      if (v === undefined || !/^-?\d+$/.test(v)) continue;
      if (Number(v) !== desired(d)) return true;
    }
    return false;
  }

  /** dc.sync: scaling (and paused) deployments. */
  private syncScale(d: D, rsList: RS[]): void {
    const [newRS, oldRSs] = this.allReplicaSetsAndSyncRevision(d, rsList, false);
    this.scale(d, newRS, oldRSs);
    if (d.spec.paused) this.cleanupDeployment(oldRSs, d);
    this.syncDeploymentStatus([...oldRSs, newRS], newRS, d);
  }

  private scale(d: D, newRS: RS | undefined, oldRSs: RS[]): void {
    const activeOrLatest = this.findActiveOrLatest(newRS, oldRSs);
    if (activeOrLatest) {
      if (replicasOf(activeOrLatest) === desired(d)) return;
      this.scaleAndRecord(activeOrLatest, desired(d), d);
      return;
    }
    if (this.isSaturated(d, newRS)) {
      for (const old of active(oldRSs)) this.scaleAndRecord(old, 0, d);
      return;
    }
    if (!isRolling(d)) return;
    const all = active([...oldRSs, newRS]);
    const allReplicas = sumSpec(all);
    const allowed = desired(d) > 0 ? desired(d) + maxSurge(d) : 0;
    const toAdd = allowed - allReplicas;
    let op = "";
    const byCreated = byCreation(this.rt);
    if (toAdd > 0) {
      // ReplicaSetsBySizeNewer: larger first, newer first among equals.
      all.sort((a, b) => (replicasOf(a) === replicasOf(b) ? byCreated(b, a) : replicasOf(b) - replicasOf(a)));
      op = "up";
    } else if (toAdd < 0) {
      // ReplicaSetsBySizeOlder: larger first, older first among equals.
      all.sort((a, b) => (replicasOf(a) === replicasOf(b) ? byCreated(a, b) : replicasOf(b) - replicasOf(a)));
      op = "down";
    }
    let added = 0;
    const size = new Map<string, number>();
    for (const rs of all) {
      if (toAdd !== 0) {
        const p = this.proportion(rs, d, toAdd, added);
        size.set(String(rs.metadata.name), replicasOf(rs) + p);
        added += p;
      } else size.set(String(rs.metadata.name), replicasOf(rs));
    }
    all.forEach((rs, i) => {
      const n = String(rs.metadata.name);
      if (i === 0 && toAdd !== 0) size.set(n, Math.max(0, size.get(n)! + toAdd - added));
      this.scaleReplicaSet(rs, size.get(n)!, d, op);
    });
  }

  /** GetProportion */
  private proportion(rs: RS, d: D, toAdd: number, added: number): number {
    if (replicasOf(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
    let fraction: number;
    if (desired(d) === 0) fraction = -replicasOf(rs);
    else {
      const deploymentReplicas = desired(d) + maxSurge(d);
      const ann = Number(rs.metadata.annotations?.[MAX] ?? NaN);
      const annotated = Number.isInteger(ann) ? ann : (d.status.replicas ?? 0);
      // integer.RoundToInt32: math.Round, half away from zero.
      const x = annotated > 0 ? (replicasOf(rs) * deploymentReplicas) / annotated : replicasOf(rs);
      fraction = Math.sign(x) * Math.round(Math.abs(x)) - replicasOf(rs);
    }
    const allowed = toAdd - added;
    return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
  }

  private findActiveOrLatest(newRS: RS | undefined, oldRSs: RS[]): RS | undefined {
    if (!newRS && oldRSs.length === 0) return undefined;
    const olds = [...oldRSs].sort(byCreation(this.rt)).reverse();
    const all = active([...olds, newRS]);
    if (all.length === 0) return newRS ?? olds[0];
    if (all.length === 1) return all[0];
    return undefined;
  }

  private isSaturated(d: D, rs: RS | undefined): boolean {
    if (!rs) return false;
    const want = Number(rs.metadata.annotations?.[DESIRED] ?? NaN);
    return replicasOf(rs) === desired(d) && want === desired(d) && (statusOf(rs).availableReplicas ?? 0) === desired(d);
  }

  private scaleAndRecord(rs: RS, newScale: number, d: D): [boolean, RS] {
    if (replicasOf(rs) === newScale) return [false, rs];
    return this.scaleReplicaSet(rs, newScale, d, replicasOf(rs) < newScale ? "up" : "down");
  }

  private scaleReplicaSet(rs: RS, newScale: number, d: D, op: string): [boolean, RS] {
    const sizeNeedsUpdate = replicasOf(rs) !== newScale;
    const max = desired(d) + maxSurge(d);
    const annotationsNeedUpdate = rs.metadata.annotations?.[DESIRED] !== String(desired(d)) || rs.metadata.annotations?.[MAX] !== String(max);
    if (!sizeNeedsUpdate && !annotationsNeedUpdate) return [false, rs];
    const old = replicasOf(rs);
    const updated = this.rt.update("apps/v1/replicasets", rs.metadata.namespace, String(rs.metadata.name), (o) => {
      (o.spec as RsSpec).replicas = newScale;
      this.setReplicasAnnotations(o, desired(d), max);
    });
    if (!updated) return [false, rs];
    if (sizeNeedsUpdate) this.rt.events.event("deployment-controller", d.obj, "Normal", "ScalingReplicaSet", `Scaled ${op} replica set ${rs.metadata.name} to ${newScale} from ${old}`);
    return [sizeNeedsUpdate, updated];
  }

  private rolloutRolling(d: D, rsList: RS[]): void {
    const [newRS, oldRSs] = this.allReplicaSetsAndSyncRevision(d, rsList, true);
    const allRSs = [...oldRSs, newRS];
    if (this.reconcileNewReplicaSet(d, allRSs, newRS!)) return this.syncRolloutStatus(allRSs, newRS, d);
    if (this.reconcileOldReplicaSets(d, allRSs, active(oldRSs), newRS!)) return this.syncRolloutStatus(allRSs, newRS, d);
    if (this.deploymentComplete(d, d.status)) this.cleanupDeployment(oldRSs, d);
    this.syncRolloutStatus(allRSs, newRS, d);
  }

  private reconcileNewReplicaSet(d: D, allRSs: (RS | undefined)[], newRS: RS): boolean {
    if (replicasOf(newRS) === desired(d)) return false;
    if (replicasOf(newRS) > desired(d)) return this.scaleAndRecord(newRS, desired(d), d)[0];
    const count = this.newRSNewReplicas(d, allRSs.filter((rs): rs is RS => !!rs), newRS);
    return this.scaleAndRecord(newRS, count, d)[0];
  }

  private reconcileOldReplicaSets(d: D, allRSs: (RS | undefined)[], oldRSs: RS[], newRS: RS): boolean {
    if (sumSpec(oldRSs) === 0) return false;
    const allPods = sumSpec(allRSs);
    const minAvailable = desired(d) - maxUnavailable(d);
    const newUnavailable = replicasOf(newRS) - (statusOf(newRS).availableReplicas ?? 0);
    const maxScaledDown = allPods - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return false;
    const [cleaned, cleanupCount] = this.cleanupUnhealthyReplicas(oldRSs, d, maxScaledDown);
    const scaledDown = this.scaleDownOldForRollingUpdate([...cleaned, newRS], cleaned, d);
    return cleanupCount + scaledDown > 0;
  }

  private cleanupUnhealthyReplicas(oldRSs: RS[], d: D, maxCleanup: number): [RS[], number] {
    const rss = [...oldRSs].sort(byCreation(this.rt));
    let total = 0;
    for (let i = 0; i < rss.length; i++) {
      const rs = rss[i]!;
      if (total >= maxCleanup) break;
      const want = replicasOf(rs);
      const avail = statusOf(rs).availableReplicas ?? 0;
      if (want === 0 || want === avail) continue;
      const down = Math.min(maxCleanup - total, want - avail);
      rss[i] = this.scaleAndRecord(rs, want - down, d)[1];
      total += down;
    }
    return [rss, total];
  }

  private scaleDownOldForRollingUpdate(allRSs: RS[], oldRSs: RS[], d: D): number {
    const minAvailable = desired(d) - maxUnavailable(d);
    const available = sumAvailable(allRSs);
    if (available <= minAvailable) return 0;
    const rss = [...oldRSs].sort(byCreation(this.rt));
    const totalDown = available - minAvailable;
    let total = 0;
    for (const rs of rss) {
      if (total >= totalDown) break;
      if (replicasOf(rs) === 0) continue;
      const down = Math.min(replicasOf(rs), totalDown - total);
      this.scaleAndRecord(rs, replicasOf(rs) - down, d);
      total += down;
    }
    return total;
  }

  private rolloutRecreate(d: D, rsList: RS[]): void {
    let [newRS, oldRSs] = this.allReplicaSetsAndSyncRevision(d, rsList, false);
    let allRSs = [...oldRSs, newRS];
    let scaledDown = false;
    for (const rs of active(oldRSs)) if (this.scaleAndRecord(rs, 0, d)[0]) scaledDown = true;
    if (scaledDown) return this.syncRolloutStatus(allRSs, newRS, d);
    if (this.oldPodsRunning(newRS, oldRSs)) return this.syncRolloutStatus(allRSs, newRS, d);
    if (!newRS) {
      [newRS, oldRSs] = this.allReplicaSetsAndSyncRevision(d, this.replicaSetsFor(d), true);
      allRSs = [...oldRSs, newRS];
    }
    if (newRS) this.scaleAndRecord(newRS, desired(d), d);
    if (this.deploymentComplete(d, d.status)) this.cleanupDeployment(oldRSs, d);
    this.syncRolloutStatus(allRSs, newRS, d);
  }

  private oldPodsRunning(newRS: RS | undefined, oldRSs: RS[]): boolean {
    if (sumActual(oldRSs) > 0) return true;
    const oldUids = new Set(oldRSs.map((rs) => rs.metadata.uid));
    for (const p of this.rt.store.list("pods", oldRSs[0]?.metadata.namespace ?? newRS?.metadata.namespace)) {
      const ref = controllerOf(p);
      if (!ref || !oldUids.has(ref.uid)) continue;
      const ph = (p.status as { phase?: string } | undefined)?.phase;
      if (ph !== "Failed" && ph !== "Succeeded") return true;
    }
    return false;
  }

  /** cleanupDeployment: old ReplicaSets beyond revisionHistoryLimit that are scaled to 0. */
  private cleanupDeployment(oldRSs: RS[], d: D): void {
    const limit = d.spec.revisionHistoryLimit;
    if (limit === undefined) return;
    const cleanable = oldRSs.filter((rs) => !rs.metadata.deletionTimestamp);
    const diff = cleanable.length - limit;
    if (diff <= 0) return;
    cleanable.sort((a, b) => revisionOf(a) - revisionOf(b) || byCreation(this.rt)(a, b));
    for (const rs of cleanable.slice(0, diff)) {
      const cur = this.rt.store.get("apps/v1/replicasets", rs.metadata.namespace, String(rs.metadata.name));
      if (!cur) continue;
      if ((statusOf(cur).replicas ?? 0) !== 0 || replicasOf(cur) !== 0 || (cur.metadata.generation ?? 0) > (statusOf(cur).observedGeneration ?? 0) || cur.metadata.deletionTimestamp) continue;
      this.rt.delete("apps/v1/replicasets", cur.metadata.namespace, String(cur.metadata.name));
    }
  }

  private checkPausedConditions(d: D): void {
    if (!hasProgressDeadline(d)) return;
    const cond = getCondition(d.status, "Progressing");
    if (cond?.reason === "ProgressDeadlineExceeded") return;
    const pausedExists = cond?.reason === "DeploymentPaused";
    if (d.spec.paused && !pausedExists) setCondition(d.status, newCondition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused"));
    else if (!d.spec.paused && pausedExists) setCondition(d.status, newCondition("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed"));
    else return;
    this.updateStatus(d);
  }

  private deploymentComplete(d: D, s: DeploymentStatus): boolean {
    const want = desired(d);
    return (s.updatedReplicas ?? 0) === want && (s.replicas ?? 0) === want && (s.availableReplicas ?? 0) === want && (s.observedGeneration ?? 0) >= (d.obj.metadata.generation ?? 0);
  }

  /** Current ReplicaSet objects (a sync's own scaling changed them since they were listed). */
  private fresh(rss: (RS | undefined)[]): (RS | undefined)[] {
    return rss.map((rs) => (rs ? (this.rt.store.get("apps/v1/replicasets", rs.metadata.namespace, String(rs.metadata.name)) ?? rs) : undefined));
  }

  private calculateStatus(allRSs: (RS | undefined)[], newRS: RS | undefined, d: D): DeploymentStatus {
    const all = this.fresh(allRSs);
    const [nrs] = this.fresh([newRS]);
    const available = sumAvailable(all);
    const total = sumSpec(all);
    const status: DeploymentStatus = {
      observedGeneration: d.obj.metadata.generation,
      replicas: sumActual(all),
      updatedReplicas: sumActual([nrs]),
      readyReplicas: sumReady(all),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, total - available),
      ...(d.status.collisionCount !== undefined && { collisionCount: d.status.collisionCount }),
      conditions: [...(d.status.conditions ?? [])],
    };
    if (available >= desired(d) - maxUnavailable(d)) setCondition(status, newCondition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."));
    else setCondition(status, newCondition("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."));
    return status;
  }

  private syncDeploymentStatus(allRSs: (RS | undefined)[], newRS: RS | undefined, d: D): void {
    const next = this.calculateStatus(allRSs, newRS, d);
    if (semanticEqual(encodeStatus(d.status), encodeStatus(next))) return;
    d.status = next;
    this.updateStatus(d);
  }

  private syncRolloutStatus(allRSs: (RS | undefined)[], newRS: RS | undefined, d: D): void {
    const next = this.calculateStatus(allRSs, newRS, d);
    if (!hasProgressDeadline(d)) removeCondition(next, "Progressing");
    const cur = getCondition(d.status, "Progressing");
    const complete = next.replicas === next.updatedReplicas && cur?.reason === "NewReplicaSetAvailable";
    if (hasProgressDeadline(d) && !complete) {
      if (this.deploymentComplete(d, next)) {
        const msg = newRS ? `ReplicaSet "${newRS.metadata.name}" has successfully progressed.` : `Deployment "${d.obj.metadata.name}" has successfully progressed.`;
        setCondition(next, newCondition("Progressing", "True", "NewReplicaSetAvailable", msg));
      } else if (this.progressing(d, next)) {
        const msg = newRS ? `ReplicaSet "${newRS.metadata.name}" is progressing.` : `Deployment "${d.obj.metadata.name}" is progressing.`;
        const c = newCondition("Progressing", "True", "ReplicaSetUpdated", msg);
        if (cur) {
          if (cur.status === "True") c.lastTransitionTime = cur.lastTransitionTime;
          removeCondition(next, "Progressing");
        }
        setCondition(next, c);
      } else if (this.timedOut(d, next)) {
        const msg = newRS ? `ReplicaSet "${newRS.metadata.name}" has timed out progressing.` : `Deployment "${d.obj.metadata.name}" has timed out progressing.`;
        setCondition(next, newCondition("Progressing", "False", "ProgressDeadlineExceeded", msg));
      }
    }
    // Move the ReplicaFailure condition of the ReplicaSets (the new one first) to the Deployment.
    const failure = this.fresh([newRS, ...allRSs.filter((r) => r !== newRS)])
      .map((rs) => statusOf(rs).conditions?.find((c) => c.type === "ReplicaFailure"))
      .find((c) => c !== undefined);
    if (failure)
      setCondition(next, { type: "ReplicaFailure", status: failure.status, lastUpdateTime: failure.lastTransitionTime ?? nowTimestamp(), lastTransitionTime: failure.lastTransitionTime ?? nowTimestamp(), reason: failure.reason ?? "", message: failure.message ?? "" });
    else removeCondition(next, "ReplicaFailure");
    if (semanticEqual(encodeStatus(d.status), encodeStatus(next))) {
      this.requeueStuck(d, next);
      return;
    }
    d.status = next;
    this.updateStatus(d);
  }

  /** util.DeploymentProgressing */
  private progressing(d: D, next: DeploymentStatus): boolean {
    const old = d.status;
    const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
    const newOld = (next.replicas ?? 0) - (next.updatedReplicas ?? 0);
    return (
      (next.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) ||
      newOld < oldOld ||
      (next.readyReplicas ?? 0) > (old.readyReplicas ?? 0) ||
      (next.availableReplicas ?? 0) > (old.availableReplicas ?? 0)
    );
  }

  private timedOut(d: D, s: DeploymentStatus): boolean {
    if (!hasProgressDeadline(d)) return false;
    const c = getCondition(s, "Progressing");
    if (!c || c.reason === "NewReplicaSetAvailable") return false;
    if (c.reason === "ProgressDeadlineExceeded") return true;
    return Date.parse(c.lastUpdateTime) + (d.spec.progressDeadlineSeconds ?? 0) * 1000 < Date.now();
  }

  /** requeueStuckDeployment: check again when the progress deadline passes. */
  private requeueStuck(d: D, s: DeploymentStatus): void {
    const c = getCondition(s, "Progressing");
    if (!hasProgressDeadline(d) || !c || c.reason === "NewReplicaSetAvailable" || c.reason === "ProgressDeadlineExceeded") return;
    if (this.deploymentComplete(d, s)) return;
    const after = Date.parse(c.lastUpdateTime) + (d.spec.progressDeadlineSeconds ?? 0) * 1000 - Date.now();
    // +1 s: the deadline counts from a timestamp with whole seconds.
    this.enqueue(keyFor(d.obj), Math.max(1, after + 1000));
  }
}
