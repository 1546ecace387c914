// Per-endpoint etcd status over the v3 gRPC API (etcd3 client: Maintenance.Status and
// Maintenance.Alarm) and the quota from each endpoint's /metrics. A failing endpoint is a row
// with ok: false and the reason, never an exception.
import { AlarmAction, AlarmType } from "etcd3";
import { DEFAULT_TIMEOUT_MS, checkConnection, describeError, readTls, type TlsMaterial } from "./connection.js";
import { openClient } from "./client.js";
import { QUOTA_METRIC, gaugeValue, metricsUrlFor, scrapeEtcdMetrics } from "./metrics-scrape.js";
import type { EtcdAlarm, EtcdConnection, EtcdEndpointStatus, EtcdStatusReport } from "./types.js";

/** etcd's own alarm names (etcdserverpb.AlarmType); etcd3 answers "Nospace" or a number. */
const ALARM_NAMES: Record<string, string> = { "0": "NONE", "1": "NOSPACE", "2": "CORRUPT" };
const alarmName = (a: unknown): string => ALARM_NAMES[String(a)] ?? String(a).toUpperCase();

const hexId = (id: string | undefined): string | undefined => (id === undefined || id === "" ? undefined : BigInt(id).toString(16));

async function endpointStatus(endpoint: string, metricsUrl: string | undefined, tls: TlsMaterial, timeoutMs: number): Promise<{ status: EtcdEndpointStatus; alarms?: EtcdAlarm[] }> {
  const client = openClient(endpoint, tls, timeoutMs);
  const status: EtcdEndpointStatus = { endpoint, ok: false };
  let alarms: EtcdAlarm[] | undefined;
  const metrics = scrapeEtcdMetrics(metricsUrlFor(endpoint, metricsUrl), tls, timeoutMs).then(
    (f) => {
      const q = gaugeValue(f, QUOTA_METRIC);
      if (q !== undefined) status.quotaBytes = q;
      else status.metricsError = `${QUOTA_METRIC} not in ${metricsUrlFor(endpoint, metricsUrl)}`;
    },
    (err: unknown) => {
      status.metricsError = describeError(err);
    },
  );
  try {
    const s = await client.maintenance.status();
    status.ok = true;
    status.dbSizeBytes = Number(s.dbSize);
    status.dbSizeInUseBytes = Number(s.dbSizeInUse);
    status.memberId = hexId(s.header.member_id);
    status.leaderId = hexId(s.leader);
    status.isLeader = s.leader !== "0" && s.leader === s.header.member_id;
    status.raftIndex = Number(s.raftIndex);
    status.raftTerm = Number(s.raftTerm);
    status.version = s.version;
    const a = await client.maintenance.alarm({ action: AlarmAction.Get, memberID: 0, alarm: AlarmType.None });
    alarms = a.alarms.map((x) => ({ memberId: hexId(x.memberID) ?? "0", alarm: alarmName(x.alarm) }));
  } catch (err) {
    status.ok = false;
    status.error = describeError(err);
  } finally {
    client.close();
  }
  await metrics;
  return { status, ...(alarms !== undefined ? { alarms } : {}) };
}

/** Status of every endpoint (in parallel, each call with a deadline), the alarms, and the quota. */
export async function etcdStatus(conn: EtcdConnection): Promise<EtcdStatusReport> {
  const urls = checkConnection(conn);
  const tls = readTls(conn);
  const timeoutMs = conn.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const rows = await Promise.all(urls.map((u, i) => endpointStatus(u.origin, conn.metricsUrls?.[i], tls, timeoutMs)));
  const alarms = new Map<string, EtcdAlarm>();
  for (const r of rows) for (const a of r.alarms ?? []) alarms.set(`${a.memberId}/${a.alarm}`, a);
  const endpoints = rows.map((r) => r.status);
  const quota = endpoints.find((e) => e.quotaBytes !== undefined)?.quotaBytes;
  const sizes = endpoints.filter((e) => e.ok && e.dbSizeBytes !== undefined).map((e) => e.dbSizeBytes!);
  return {
    endpoints,
    alarms: [...alarms.values()],
    ...(quota !== undefined ? { quotaBytes: quota } : {}),
    ...(sizes.length > 0 ? { dbSizeBytes: Math.max(...sizes) } : {}),
    ok: endpoints.every((e) => e.ok) && alarms.size === 0,
  };
}
