// Leader election and Event recording against the test API server.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { Event } from "kubernetes-types/core/v1.js";
import { startTestApiServer, type TestApiServer } from "../../support/kube-apiserver/index.js";
import { EVENTS, KubeClient, LEASES, LeaderElector, recordEvent, type LeaderElectionOptions } from "../../../src/core/kube/index.js";
import { until } from "./helpers.js";

// Sub-second retry, but deadlines generous enough for 2 shared, loaded CI cores.
const FAST = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 150 };

interface Candidate {
  elector: LeaderElector;
  ac: AbortController;
  done: Promise<void>;
  log: string[];
}

function candidate(kube: KubeClient, identity: string, extra: Partial<LeaderElectionOptions> = {}): Candidate {
  const log: string[] = [];
  const elector = new LeaderElector(kube, {
    name: "auditor",
    namespace: "le",
    identity,
    ...FAST,
    onStartedLeading: (signal) => {
      log.push("started");
      signal.addEventListener("abort", () => log.push("signal-aborted"));
    },
    onStoppedLeading: () => log.push("stopped"),
    onNewLeader: (id) => log.push(`leader=${id}`),
    ...extra,
  });
  const ac = new AbortController();
  return { elector, ac, done: elector.run(ac.signal), log };
}

describe("LeaderElector", () => {
  let api: TestApiServer;
  let dir: string;
  let kube: KubeClient;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kube-le-"));
    api = await startTestApiServer();
    kube = await KubeClient.load({ kubeconfig: api.writeKubeconfig(dir), requestTimeoutMs: 2000 });
  });
  after(async () => {
    kube.close();
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("only one of two candidates leads; release hands over at once and counts the transition", async () => {
    const a = candidate(kube, "a");
    let b: Candidate | undefined;
    try {
      await until(() => assert.ok(a.elector.isLeader(), "a.elector.isLeader()"));
      b = candidate(kube, "b");
      await until(() => assert.ok(b!.log.includes("leader=a"), "b sees a as leader"));
      // Over several renew periods, b must never take over a lease a keeps renewing.
      const deadline = Date.now() + 2500;
      while (Date.now() < deadline) {
        assert.equal(b.elector.isLeader(), false, "b must not lead while a renews");
        assert.equal(a.elector.isLeader(), true);
        await new Promise((r) => setTimeout(r, 50));
      }
      const held = await kube.get<Lease>(LEASES, "auditor", "le");
      assert.equal(held.spec?.holderIdentity, "a");
      assert.equal(held.spec?.leaseDurationSeconds, 2);
      assert.equal(held.spec?.leaseTransitions, 0);
      assert.match(held.spec?.renewTime ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, "MicroTime format");

      const releasedAt = Date.now();
      a.ac.abort();
      await a.done;
      assert.deepEqual(a.log, ["leader=a", "started", "signal-aborted", "stopped"]);
      await until(() => assert.ok(b!.elector.isLeader(), "b!.elector.isLeader()"));
      // Released (holder "") means no waiting for the lease to expire — well under leaseDuration + slack.
      assert.ok(Date.now() - releasedAt < 5000, "Date.now() - releasedAt < 5000");
      const taken = await kube.get<Lease>(LEASES, "auditor", "le");
      assert.equal(taken.spec?.holderIdentity, "b");
      assert.equal(taken.spec?.leaseTransitions, 1);
    } finally {
      a.ac.abort();
      b?.ac.abort();
      await Promise.all([a.done, b?.done]);
    }
    const final = await kube.get<Lease>(LEASES, "auditor", "le");
    assert.equal(final.spec?.holderIdentity, "", "b released on shutdown");
  });

  it("a crashed leader (no release) is replaced after the lease expires", async () => {
    const a = candidate(kube, "crash-a", { name: "crash", releaseOnCancel: false });
    try {
      await until(() => assert.ok(a.elector.isLeader(), "a.elector.isLeader()"));
    } finally {
      a.ac.abort();
      await a.done;
    } // stops renewing, lease still names crash-a
    assert.equal((await kube.get<Lease>(LEASES, "crash", "le")).spec?.holderIdentity, "crash-a");
    const b = candidate(kube, "crash-b", { name: "crash" });
    try {
      await until(() => assert.ok(b.elector.isLeader(), "b.elector.isLeader()"));
      const lease = await kube.get<Lease>(LEASES, "crash", "le");
      assert.equal(lease.spec?.holderIdentity, "crash-b");
      assert.equal(lease.spec?.leaseTransitions, 1);
    } finally {
      b.ac.abort();
      await b.done;
    }
  });

  it("steps down when renewals fail past renewDeadline, and campaigns again afterwards", async () => {
    const a = candidate(kube, "flaky", { name: "flaky" });
    try {
      await until(() => assert.ok(a.elector.isLeader(), "a.elector.isLeader()"));
      api.faults.inject({ pathRegex: "/leases/flaky$", status: 503 });
      await until(() => assert.ok(a.log.includes("stopped"), `a.log.includes("stopped")`));
      assert.equal(a.elector.isLeader(), false);
      assert.ok(a.log.includes("signal-aborted"), "the leading signal aborts on step-down");
      api.faults.clear();
      await until(() => assert.ok(a.elector.isLeader(), "re-acquires once the API answers again"));
      assert.equal(a.log.filter((l) => l === "started").length, 2);
    } finally {
      api.faults.clear();
      a.ac.abort();
      await a.done;
    }
  });

  it("rejects inconsistent timings", () => {
    assert.throws(() => new LeaderElector(kube, { name: "x", namespace: "le", identity: "i", leaseDurationMs: 1000, renewDeadlineMs: 1000 }), /renewDeadline/);
    assert.throws(() => new LeaderElector(kube, { name: "x", namespace: "le", identity: "", leaseDurationMs: 1000 }), /identity/);
  });
});

describe("recordEvent", () => {
  let api: TestApiServer;
  let dir: string;
  let kube: KubeClient;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kube-events-"));
    api = await startTestApiServer();
    kube = await KubeClient.load({ kubeconfig: api.writeKubeconfig(dir) });
  });
  after(async () => {
    kube.close();
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("creates a core/v1 Event in the object's namespace", async () => {
    const res = await recordEvent(kube, {
      involvedObject: { apiVersion: "apps/v1", kind: "Deployment", name: "web", namespace: "shop", uid: "u-1" },
      reason: "RolloutRestarted",
      message: "restarted by the auditor",
      type: "Normal",
      component: "watch-auditor",
    });
    assert.equal(res.error, undefined);
    const events = await kube.list<Event>(EVENTS, { namespace: "shop" });
    assert.equal(events.items.length, 1);
    const ev = events.items[0]!;
    assert.match(ev.metadata?.name ?? "", /^web\.[0-9a-f]+$/);
    assert.equal(ev.involvedObject.uid, "u-1");
    assert.equal(ev.reason, "RolloutRestarted");
    assert.equal(ev.type, "Normal");
    assert.equal(ev.source?.component, "watch-auditor");
    assert.equal(ev.count, 1);
  });

  it("returns the error instead of throwing", async () => {
    api.faults.inject({ verb: "create", pathRegex: "/events$", status: 403, count: 1 });
    const res = await recordEvent(kube, { involvedObject: { kind: "Pod", name: "p", namespace: "shop" }, reason: "R", message: "m", type: "Warning", component: "c" });
    assert.equal(res.event, undefined);
    assert.equal(res.error?.status, 403);
  });
});
