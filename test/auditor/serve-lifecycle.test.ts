// End to end: orphan sweep after a crash, graceful SIGTERM mid-cycle, two replicas with one leader.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FAST, eventually, managedPods, startCluster, startServe } from "./helpers.js";

const LEASE = ["--lease-duration", "3s", "--renew-deadline", "2s", "--retry-period", "300ms", "--lease-namespace", "watch-auditor"];

test("a canary left by a killed auditor is swept at the next start", async () => {
  // Dead controller and a long deadline: the canary lives for the whole cycle.
  const c = await startCluster({ controller: { mode: "dead" } });
  const first = await startServe(c, [...FAST, "--canary-deadline", "30s", "--leader-elect", "false"]);
  let orphan: string;
  try {
    orphan = await eventually(() => managedPods(c.api)[0], { timeoutMs: 15_000, what: "a canary" });
  } finally {
    const r = await first.stop("SIGKILL");
    assert.equal(r.signal, "SIGKILL");
  }
  try {
    assert.deepEqual(managedPods(c.api), [orphan], "SIGKILL leaves the canary behind");
    const second = await startServe(c, [...FAST, "--canary-deadline", "30s", "--leader-elect", "false"]);
    try {
      await eventually(() => !managedPods(c.api).includes(orphan), { timeoutMs: 15_000, what: "orphan swept" });
      assert.ok((await second.metric("watch_auditor_orphans_deleted_total")) >= 1);
      assert.ok(second.child.output.stderr.split("\n").some((l) => l.includes(orphan) && l.includes("orphan sweep: deleted leftover canary")));
    } finally {
      const r = await second.stop();
      assert.equal(r.code, 0, r.stderr);
    }
    assert.deepEqual(managedPods(c.api), []);
  } finally {
    await c.close();
  }
});

test("SIGTERM mid-cycle: the canary is deleted, the lease released, exit 0", async () => {
  const c = await startCluster({ controller: { mode: "dead" } });
  const s = await startServe(c, [...FAST, "--canary-deadline", "30s", ...LEASE, "--identity", "replica-a"]);
  try {
    await eventually(() => managedPods(c.api).length === 1, { timeoutMs: 15_000, what: "a canary in flight" });
    const lease = c.api.store.get("leases.coordination.k8s.io", "watch-auditor", "watch-auditor");
    assert.equal((lease?.spec as { holderIdentity?: string }).holderIdentity, "replica-a");
  } finally {
    const r = await s.stop("SIGTERM");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /check aborted/);
  }
  try {
    assert.deepEqual(managedPods(c.api), [], "canary deleted on SIGTERM");
    const lease = c.api.store.get("leases.coordination.k8s.io", "watch-auditor", "watch-auditor");
    assert.equal((lease?.spec as { holderIdentity?: string }).holderIdentity, "", "lease released");
  } finally {
    await c.close();
  }
});

test("two replicas: exactly one leads and checks; the other takes over when it stops", async () => {
  const c = await startCluster({ controller: { mode: "healthy" } });
  const a = await startServe(c, [...FAST, ...LEASE, "--identity", "replica-a"]);
  const b = await startServe(c, [...FAST, ...LEASE, "--identity", "replica-b"]);
  let stoppedA = false;
  try {
    const statuses = await eventually(async () => {
      const [sa, sb] = [await a.status(), await b.status()];
      return sa.leader !== sb.leader && (sa.leader ? sa : sb).probes.default!.checks.length >= 2 ? [sa, sb] : undefined;
    }, { timeoutMs: 20_000, what: "one leader with checks" });
    const [leader, follower] = statuses[0]!.leader ? [a, b] : [b, a];
    const followerStatus = await follower.status();
    assert.equal(followerStatus.leader, false);
    assert.equal(followerStatus.probes.default!.checks.length, 0, "the follower never checks");
    assert.equal(await follower.metric("watch_auditor_leader"), 0);
    assert.equal(await leader.metric("watch_auditor_leader"), 1);
    // A follower is ready: the API answers, it is a warm standby.
    assert.equal((await follower.get("/readyz")).status, 200);
    // Never two canaries at once.
    assert.ok(managedPods(c.api).length <= 1);

    const r = await leader.stop();
    if (leader === a) stoppedA = true;
    assert.equal(r.code, 0, r.stderr);
    // Released lease: the follower takes over well before the 3 s lease would expire, and checks.
    await eventually(async () => (await follower.status()).leader && (await follower.metric("watch_auditor_checks_total", { probe: "default", result: "pass" })) >= 1, {
      timeoutMs: 15_000,
      what: "follower leads and passes",
    });
  } finally {
    if (!stoppedA) await a.stop();
    await b.stop();
    await c.close();
  }
});
