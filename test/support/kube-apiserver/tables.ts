// Table output (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), as kube-apiserver v1.25
// converts objects for `kubectl get`:
// - the printers of pods, configmaps, deployments and namespaces (pkg/printers/internalversion) with
//   their column definitions word for word, the wide columns (priority 1) included;
// - every other built-in kind gets the default convertor's `Name` and `Created At` (RFC 3339) columns;
// - custom resources get `Name` plus the CRD's additionalPrinterColumns (simple JSONPaths), or
//   `Age` when it declares none, as the apiextensions-apiserver does;
// - each row's `object` follows `includeObject`: `Metadata` (default) a PartialObjectMetadata,
//   `Object` the whole object with apiVersion/kind, `None` null; another value is a 400;
// - the Table's metadata is the list's (resourceVersion, continue, remainingItemCount) or the
//   object's resourceVersion.
// Ages are computed as apimachinery's duration.HumanDuration does ("0s", "34s", "6m45s", "22m", "5h3m", "3d4h").
import type { ResourceInfo } from "./resources.js";
import { ApiError, statusObject } from "./status.js";
import type { KubeObject } from "./store.js";

export interface ColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface TableRow {
  cells: unknown[];
  conditions?: { type: string; status: string; reason: string; message: string }[];
  object: unknown;
}

export interface TableOptions {
  info: ResourceInfo;
  /** meta.k8s.io/v1 or meta.k8s.io/v1beta1. */
  apiVersion: string;
  includeObject: string;
  /** The request's group and version (what includeObject=Object objects are written in). */
  group: string;
  version: string;
  /** Watch frames after the first carry no column definitions. */
  noHeaders: boolean;
}

const NAME_DOC =
  "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: http://kubernetes.io/docs/user-guide/identifiers#names";
const CREATED_DOC =
  "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

function col(name: string, description: string, opts: { type?: string; format?: string; priority?: number } = {}): ColumnDefinition {
  return { name, type: opts.type ?? "string", format: opts.format ?? "", description, priority: opts.priority ?? 0 };
}
const NAME_COLUMN = col("Name", NAME_DOC, { format: "name" });
const AGE_COLUMN = col("Age", CREATED_DOC);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === "string" ? v : "");
const num = (v: unknown): number => (typeof v === "number" ? v : 0);

interface Printer {
  columns: ColumnDefinition[];
  row(o: KubeObject, now: number): TableRow;
}

const POD_SUCCEEDED = [{ type: "Completed", status: "True", reason: "Succeeded", message: "The pod has completed successfully." }];
const POD_FAILED = [{ type: "Completed", status: "True", reason: "Failed", message: "The pod failed." }];

const PRINTERS: Record<string, Printer> = {
  "/pods": {
    columns: [
      NAME_COLUMN,
      col("Ready", "The aggregate readiness state of this pod for accepting traffic."),
      col("Status", "The aggregate status of the containers in this pod."),
      col("Restarts", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
      AGE_COLUMN,
      col("IP", "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", { priority: 1 }),
      col("Node", "NodeName is a request to schedule this pod onto a specific node. If it is non-empty, the scheduler simply schedules this pod onto that node, assuming that it fits resource requirements.", { priority: 1 }),
      col(
        "Nominated Node",
        "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.",
        { priority: 1 },
      ),
      col(
        "Readiness Gates",
        'If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to "True" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates',
        { priority: 1 },
      ),
    ],
    row: printPod,
  },
  "/configmaps": {
    columns: [
      NAME_COLUMN,
      col(
        "Data",
        "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
      ),
      AGE_COLUMN,
    ],
    row: (o, now) => ({
      cells: [o.metadata.name ?? "", Object.keys(obj(o.data)).length + Object.keys(obj(o.binaryData)).length, age(o.metadata.creationTimestamp, now)],
      object: o,
    }),
  },
  "apps/deployments": {
    columns: [
      NAME_COLUMN,
      col("Ready", "Number of the pod with ready state"),
      col("Up-to-date", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
      col("Available", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
      AGE_COLUMN,
      col("Containers", "Names of each container in the template.", { priority: 1 }),
      col("Images", "Images referenced by each container in the template.", { priority: 1 }),
      col("Selector", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.", { priority: 1 }),
    ],
    row: (o, now) => {
      const spec = obj(o.spec);
      const status = obj(o.status);
      const containers = arr(obj(obj(obj(spec.template).spec)).containers).map(obj);
      return {
        cells: [
          o.metadata.name ?? "",
          `${num(status.readyReplicas)}/${num(spec.replicas)}`,
          num(status.updatedReplicas),
          num(status.availableReplicas),
          age(o.metadata.creationTimestamp, now),
          containers.map((c) => str(c.name)).join(","),
          containers.map((c) => str(c.image)).join(","),
          selectorString(spec.selector),
        ],
        object: o,
      };
    },
  },
  "/namespaces": {
    columns: [NAME_COLUMN, col("Status", "The status of the namespace"), AGE_COLUMN],
    row: (o, now) => ({ cells: [o.metadata.name ?? "", str(obj(o.status).phase), age(o.metadata.creationTimestamp, now)], object: o }),
  },
};

/** duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    return dy === 0 ? `${Math.trunc(hours / 24 / 365)}y` : `${Math.trunc(hours / 24 / 365)}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** translateTimestampSince: `<unknown>` for a zero time. */
function age(ts: unknown, now: number): string {
  if (typeof ts !== "string" || ts === "") return "<unknown>";
  const t = Date.parse(ts);
  return Number.isNaN(t) ? "<unknown>" : humanDuration(now - t);
}

/** metav1.LabelSelectorAsSelector(...).String(): requirements sorted by key. */
function selectorString(sel: unknown): string {
  if (!isObj(sel)) return "";
  const reqs: [string, string][] = [];
  for (const [k, v] of Object.entries(obj(sel.matchLabels))) reqs.push([k, `${k}=${String(v)}`]);
  for (const e of arr(sel.matchExpressions).map(obj)) {
    const key = str(e.key);
    const values = arr(e.values).map(String).sort();
    switch (e.operator) {
      case "In":
        reqs.push([key, `${key} in (${values.join(",")})`]);
        break;
      case "NotIn":
        reqs.push([key, `${key} notin (${values.join(",")})`]);
        break;
      case "Exists":
        reqs.push([key, key]);
        break;
      case "DoesNotExist":
        reqs.push([key, `!${key}`]);
        break;
      default:
        return "<invalid>";
    }
  }
  return reqs
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, s]) => s)
    .join(",");
}

/** printPod (wide). */
function printPod(pod: KubeObject, now: number): TableRow {
  const spec = obj(pod.spec);
  const status = obj(pod.status);
  let restarts = 0;
  const totalContainers = arr(spec.containers).length;
  let readyContainers = 0;
  let lastRestart = 0;
  let reason = str(status.phase);
  if (str(status.reason) !== "") reason = str(status.reason);
  const row: TableRow = { cells: [], object: pod };
  if (status.phase === "Succeeded") row.conditions = POD_SUCCEEDED;
  else if (status.phase === "Failed") row.conditions = POD_FAILED;
  const noteRestart = (c: Obj) => {
    const finished = str(obj(obj(c.lastState).terminated).finishedAt);
    const t = finished ? Date.parse(finished) : NaN;
    if (!Number.isNaN(t) && t > lastRestart) lastRestart = t;
  };
  let initializing = false;
  const initStatuses = arr(status.initContainerStatuses).map(obj);
  for (let i = 0; i < initStatuses.length; i++) {
    const c = initStatuses[i]!;
    restarts += num(c.restartCount);
    noteRestart(c);
    const state = obj(c.state);
    const terminated = isObj(state.terminated) ? state.terminated : undefined;
    const waiting = isObj(state.waiting) ? state.waiting : undefined;
    if (terminated && num(terminated.exitCode) === 0) continue;
    if (terminated) {
      if (str(terminated.reason) === "") reason = num(terminated.signal) !== 0 ? `Init:Signal:${num(terminated.signal)}` : `Init:ExitCode:${num(terminated.exitCode)}`;
      else reason = `Init:${str(terminated.reason)}`;
    } else if (waiting && str(waiting.reason) !== "" && waiting.reason !== "PodInitializing") reason = `Init:${str(waiting.reason)}`;
    else reason = `Init:${i}/${arr(spec.initContainers).length}`;
    initializing = true;
    break;
  }
  if (!initializing) {
    restarts = 0;
    let hasRunning = false;
    const statuses = arr(status.containerStatuses).map(obj);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i]!;
      restarts += num(c.restartCount);
      noteRestart(c);
      const state = obj(c.state);
      const terminated = isObj(state.terminated) ? state.terminated : undefined;
      const waiting = isObj(state.waiting) ? state.waiting : undefined;
      if (waiting && str(waiting.reason) !== "") reason = str(waiting.reason);
      else if (terminated && str(terminated.reason) !== "") reason = str(terminated.reason);
      else if (terminated) reason = num(terminated.signal) !== 0 ? `Signal:${num(terminated.signal)}` : `ExitCode:${num(terminated.exitCode)}`;
      else if (c.ready === true && isObj(state.running)) {
        hasRunning = true;
        readyContainers++;
      }
    }
    if (reason === "Completed" && hasRunning) {
      const ready = arr(status.conditions).map(obj).some((c) => c.type === "Ready" && c.status === "True");
      reason = ready ? "Running" : "NotReady";
    }
  }
  if (pod.metadata.deletionTimestamp && status.reason === "NodeLost") reason = "Unknown";
  else if (pod.metadata.deletionTimestamp) reason = "Terminating";
  const restartsStr = lastRestart > 0 ? `${restarts} (${humanDuration(now - lastRestart)} ago)` : String(restarts);
  const podIPs = arr(status.podIPs).map(obj);
  const podIP = (podIPs.length > 0 ? str(podIPs[0]!.ip) : "") || "<none>";
  let readinessGates = "<none>";
  const gates = arr(spec.readinessGates).map(obj);
  if (gates.length > 0) {
    let trueConditions = 0;
    for (const g of gates) {
      const cond = arr(status.conditions).map(obj).find((c) => c.type === g.conditionType);
      if (cond?.status === "True") trueConditions++;
    }
    readinessGates = `${trueConditions}/${gates.length}`;
  }
  row.cells = [
    pod.metadata.name ?? "",
    `${readyContainers}/${totalContainers}`,
    reason,
    restartsStr,
    age(pod.metadata.creationTimestamp, now),
    podIP,
    str(spec.nodeName) || "<none>",
    str(status.nominatedNodeName) || "<none>",
    readinessGates,
  ];
  return row;
}

/** The default convertor of built-in kinds without a printer (rest.NewDefaultTableConvertor). */
const DEFAULT_PRINTER: Printer = {
  columns: [NAME_COLUMN, col("Created At", CREATED_DOC, { type: "date" })],
  row: (o) => ({ cells: [o.metadata.name ?? "", String(o.metadata.creationTimestamp ?? "0001-01-01T00:00:00Z")], object: o }),
};

/** The apiextensions-apiserver's convertor: Name plus the version's additionalPrinterColumns (or Age). */
function crdPrinter(info: ResourceInfo): Printer {
  const declared = info.crd?.printerColumns ?? [];
  const columns = declared.length > 0 ? declared : [{ name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp", description: CREATED_DOC }];
  return {
    columns: [
      NAME_COLUMN,
      ...columns.map((c) =>
        col(c.name, c.description || `Custom resource definition column (in JSONPath format): ${c.jsonPath}`, { type: c.type, format: c.format ?? "", priority: c.priority ?? 0 }),
      ),
    ],
    row: (o, now) => ({
      cells: [
        o.metadata.name ?? "",
        ...columns.map((c) => {
          const v = jsonPath(o, c.jsonPath);
          if (v === undefined || v === null) return null;
          switch (c.type) {
            case "string":
              return typeof v === "object" ? JSON.stringify(v) : String(v);
            case "integer":
              return typeof v === "number" ? Math.trunc(v) : null;
            case "number":
              return typeof v === "number" ? v : null;
            case "boolean":
              return typeof v === "boolean" ? v : null;
            case "date":
              return typeof v === "string" ? (Number.isNaN(Date.parse(v)) ? "<invalid>" : age(v, now)) : null;
            default:
              return null;
          }
        }),
      ],
      object: o,
    }),
  };
}

/** The simple JSONPaths CRD columns use: `.a.b`, `.a[0].b`, `.a[?(@.type=="Ready")].status`. */
export function jsonPath(o: unknown, path: string): unknown {
  const p = path.replace(/^\{|\}$/g, "").trim().replace(/^\$/, "");
  const re = /\.([^.[\]]+)|\[(\d+)\]|\[\?\(@\.([^=!<>]+?)\s*==\s*(?:"([^"]*)"|'([^']*)')\)\]/gy;
  let cur: unknown = o;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < p.length && (m = re.exec(p)) !== null) {
    at = re.lastIndex;
    if (m[1] !== undefined) cur = isObj(cur) ? cur[m[1]] : undefined;
    else if (m[2] !== undefined) cur = Array.isArray(cur) ? cur[Number(m[2])] : undefined;
    else {
      const key = m[3]!;
      const want = m[4] ?? m[5];
      cur = Array.isArray(cur) ? cur.find((x) => isObj(x) && String(x[key]) === want) : undefined;
    }
    if (cur === undefined) return undefined;
  }
  return at === p.length ? cur : undefined;
}

function printerFor(info: ResourceInfo): Printer {
  if (info.crd) return crdPrinter(info);
  const byGroup = PRINTERS[`${info.group === "" ? "" : info.group.split(".")[0]}/${info.resource}`];
  if (byGroup && (info.group === "" || info.group === "apps")) return byGroup;
  if (!isBuiltin(info.group)) return crdPrinter(info);
  return DEFAULT_PRINTER;
}

function isBuiltin(group: string): boolean {
  return group === "" || !group.includes(".") || group.endsWith(".k8s.io");
}

/** TableOptions validation: includeObject must be Metadata, Object, None or empty. */
export function validateTableOptions(includeObject: string): void {
  if (["", "Metadata", "Object", "None"].includes(includeObject)) return;
  throw new ApiError(
    statusObject(
      400,
      "BadRequest",
      `Unable to convert to Table as requested: includeObject: Invalid value: ${JSON.stringify(includeObject)}: must be 'Metadata', 'Object', 'None', or empty`,
    ),
  );
}

function isListBody(v: unknown): v is { metadata?: Obj; items: KubeObject[] } {
  return isObj(v) && Array.isArray(v.items) && String(v.kind ?? "").endsWith("List");
}

/**
 * A list or a single object as a Table. Objects of another kind than the resource's (a Scale
 * answered on a subresource) get the default columns.
 */
export function toTable(body: unknown, opts: TableOptions, now = Date.now()): Record<string, unknown> {
  const list = isListBody(body);
  const single = list ? undefined : (body as KubeObject);
  const printer =
    single && typeof single.kind === "string" && single.kind !== opts.info.kind && single.kind !== "PartialObjectMetadata"
      ? DEFAULT_PRINTER
      : printerFor(opts.info);
  const items = list ? body.items : [single!];
  const groupVersion = opts.group === "" ? opts.version : `${opts.group}/${opts.version}`;
  const rows = items.map((o) => {
    const row = printer.row({ ...o, metadata: o.metadata ?? {} }, now);
    switch (opts.includeObject) {
      case "Object":
        row.object = list ? { kind: opts.info.kind, apiVersion: groupVersion, ...o } : o;
        break;
      case "None":
        row.object = null;
        break;
      default:
        row.object = { kind: "PartialObjectMetadata", apiVersion: opts.apiVersion, metadata: o.metadata ?? {} };
    }
    return row;
  });
  const metadata: Obj = {};
  if (list) {
    const lm = obj(body.metadata);
    if (lm.resourceVersion) metadata.resourceVersion = lm.resourceVersion;
    if (lm.continue) metadata.continue = lm.continue;
    if (lm.remainingItemCount !== undefined && lm.remainingItemCount !== null) metadata.remainingItemCount = lm.remainingItemCount;
  } else if (single?.metadata?.resourceVersion) metadata.resourceVersion = single.metadata.resourceVersion;
  return {
    kind: "Table",
    apiVersion: opts.apiVersion,
    metadata,
    columnDefinitions: opts.noHeaders ? null : printer.columns,
    // The default convertor leaves an empty list's rows nil; the printers make an empty slice.
    rows: rows.length === 0 && printer === DEFAULT_PRINTER ? null : rows,
  };
}
