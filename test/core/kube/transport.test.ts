// The client over real loopback HTTPS: CA trust, mTLS, tls-server-name, credentials
// (token file rotation, exec plugins, in-cluster), timeouts and error mapping.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { KubeApiError, KubeClient, PODS, type WatchEvent } from "../../../src/core/kube/index.js";
import { json, makePki, startScriptedServer, writeKubeconfig, type Pki, type ScriptedServer } from "./fixtures.js";

const podList = { kind: "PodList", apiVersion: "v1", metadata: { resourceVersion: "7" }, items: [{ metadata: { name: "p", namespace: "default" } }] };
const isKubeError = (pred: (e: KubeApiError) => boolean) => (err: unknown) => {
  assert.ok(err instanceof KubeApiError, `KubeApiError, got ${String(err)}`);
  assert.ok(pred(err), `unexpected ${JSON.stringify({ message: err.message, status: err.status, code: err.code })}`);
  return true;
};

describe("KubeClient over HTTPS", () => {
  let dir: string;
  let pki: Pki;
  let srv: ScriptedServer;
  let n = 0;
  const kc = (parts: Parameters<typeof writeKubeconfig>[1]) => writeKubeconfig(join(dir, `kc-${++n}.yaml`), parts);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kube-transport-"));
    pki = await makePki(dir);
    srv = await startScriptedServer(pki);
  });
  after(async () => {
    await srv.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("trusts the kubeconfig CA (file or data), sends the token, rejects an unknown CA as non-transient", async () => {
    srv.handler = (_req, res) => json(res, 200, podList);
    const viaFile = await KubeClient.load({ kubeconfig: await kc({ server: srv.url, cluster: { "certificate-authority": pki.caFile }, user: { token: "abc" } }) });
    const list = await viaFile.list(PODS, { namespace: "default" });
    assert.equal(list.metadata.resourceVersion, "7");
    assert.equal(srv.seen.at(-1)?.authorization, "Bearer abc");
    assert.equal(srv.seen.at(-1)?.url, "/api/v1/namespaces/default/pods");
    viaFile.close();

    const viaData = await KubeClient.load({ kubeconfig: await kc({ server: srv.url, cluster: { "certificate-authority-data": Buffer.from(pki.ca).toString("base64") } }) });
    await viaData.get(PODS, "p", "ns1");
    assert.equal(srv.seen.at(-1)?.url, "/api/v1/namespaces/ns1/pods/p");
    assert.equal(srv.seen.at(-1)?.authorization, undefined, "anonymous without credentials");
    viaData.close();

    const wrongCa = await KubeClient.load({ kubeconfig: await kc({ server: srv.url, cluster: { "certificate-authority": pki.otherCaFile } }) });
    await assert.rejects(wrongCa.get(PODS, "p", "x"), isKubeError((e) => e.status === undefined && e.code !== undefined && !e.transient));
    wrongCa.close();

    const insecure = await KubeClient.load({ kubeconfig: await kc({ server: srv.url, cluster: { "insecure-skip-tls-verify": true } }) });
    await insecure.get(PODS, "p", "x");
    insecure.close();
  });

  it("authenticates with a client certificate (files and inline data)", async () => {
    const mtls = await startScriptedServer(pki, { requireClientCert: true });
    try {
      mtls.handler = (_req, res) => json(res, 200, podList);
      const files = await KubeClient.load({
        kubeconfig: await kc({ server: mtls.url, cluster: { "certificate-authority": pki.caFile }, user: { "client-certificate": pki.clientCertFile, "client-key": pki.clientKeyFile } }),
      });
      await files.list(PODS);
      assert.equal(mtls.seen.at(-1)?.clientCN, "alice");
      files.close();
      const b64 = (s: string) => Buffer.from(s).toString("base64");
      const data = await KubeClient.load({
        kubeconfig: await kc({ server: mtls.url, cluster: { "certificate-authority": pki.caFile }, user: { "client-certificate-data": b64(pki.clientCert), "client-key-data": b64(pki.clientKey) } }),
      });
      await data.list(PODS);
      assert.equal(mtls.seen.length, 2);
      data.close();
      const none = await KubeClient.load({ kubeconfig: await kc({ server: mtls.url, cluster: { "certificate-authority": pki.caFile } }) });
      await assert.rejects(none.list(PODS), isKubeError((e) => e.status === undefined));
      none.close();
    } finally {
      await mtls.close();
    }
  });

  it("verifies the certificate against tls-server-name when set", async () => {
    const sniDir = join(dir, "sni");
    await mkdir(sniDir);
    const sniPki = await makePki(sniDir, "DNS:api.cluster.internal");
    const sni = await startScriptedServer(sniPki);
    try {
      sni.handler = (_req, res) => json(res, 200, podList);
      const withName = await KubeClient.load({ kubeconfig: await kc({ server: sni.url, cluster: { "certificate-authority": sniPki.caFile, "tls-server-name": "api.cluster.internal" } }) });
      await withName.list(PODS);
      withName.close();
      const without = await KubeClient.load({ kubeconfig: await kc({ server: sni.url, cluster: { "certificate-authority": sniPki.caFile } }) });
      await assert.rejects(without.list(PODS), isKubeError((e) => e.code === "ERR_TLS_CERT_ALTNAME_INVALID" && !e.transient));
      without.close();
    } finally {
      await sni.close();
    }
  });

  it("re-reads a rotated tokenFile: on 401 at once, and periodically without one", async () => {
    let accepted = new Set(["one"]);
    srv.handler = (req, res) => (accepted.has((req.headers.authorization ?? "").replace("Bearer ", "")) ? json(res, 200, podList) : json(res, 401, { kind: "Status", code: 401, reason: "Unauthorized", message: "Unauthorized" }));
    const tokenFile = join(dir, "token");
    await writeFile(tokenFile, "one\n");
    const kube = await KubeClient.load({ kubeconfig: await kc({ server: srv.url, cluster: { "certificate-authority": pki.caFile }, user: { tokenFile } }) });
    await kube.list(PODS);
    assert.equal(srv.seen.at(-1)?.authorization, "Bearer one");
    // Rotation the server already enforces: the 401 makes the client re-read and retry once.
    await writeFile(tokenFile, "two\n");
    accepted = new Set(["two"]);
    await kube.list(PODS);
    assert.deepEqual(srv.seen.slice(-2).map((s) => s.authorization), ["Bearer one", "Bearer two"]);
    // A token the server never accepts: one retry, then the 401 surfaces.
    await writeFile(tokenFile, "three\n");
    accepted = new Set(["revoked-all"]);
    await assert.rejects(kube.list(PODS), isKubeError((e) => e.status === 401 && e.reason === "Unauthorized" && !e.transient));
    kube.close();

    // Periodic re-read (projected SA tokens rotate before the old one is revoked).
    accepted = new Set(["three", "four"]);
    const periodic = await KubeClient.load({ kubeconfig: await kc({ server: srv.url, cluster: { "certificate-authority": pki.caFile }, user: { tokenFile } }), tokenRefreshMs: 50 });
    await periodic.list(PODS);
    assert.equal(srv.seen.at(-1)?.authorization, "Bearer three");
    await writeFile(tokenFile, "four\n");
    await new Promise((r) => setTimeout(r, 120));
    await periodic.list(PODS);
    assert.equal(srv.seen.at(-1)?.authorization, "Bearer four");
    periodic.close();
  });

  it("runs exec credential plugins, caches until expiry, re-runs once on 401", async () => {
    const plugin = join(dir, "plugin.mjs");
    const counter = join(dir, "plugin-runs");
    const tokenSource = join(dir, "plugin-token");
    await writeFile(counter, "");
    await writeFile(tokenSource, "exec-1");
    await writeFile(
      plugin,
      `#!${process.execPath}
import { appendFileSync, readFileSync } from "node:fs";
const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO);
appendFileSync(process.env.COUNTER, JSON.stringify({ args: process.argv.slice(2), interactive: info.spec.interactive, server: info.spec.cluster?.server }) + "\\n");
if (process.argv.includes("--fail")) { console.error("cloud said no"); process.exit(3); }
const expires = process.argv.includes("--expired") ? new Date(Date.now() - 1000) : new Date(Date.now() + 3600e3);
console.log(JSON.stringify({ apiVersion: info.apiVersion, kind: "ExecCredential", status: { token: readFileSync(process.env.TOKEN_SOURCE, "utf8"), expirationTimestamp: expires.toISOString() } }));
`,
    );
    await chmod(plugin, 0o755);
    const exec = (args: string[], apiVersion = "client.authentication.k8s.io/v1") => ({
      exec: { apiVersion, command: "./plugin.mjs", args, env: [{ name: "COUNTER", value: counter }, { name: "TOKEN_SOURCE", value: tokenSource }], provideClusterInfo: true, interactiveMode: "Never" },
    });
    const runs = async () => (await readFile(counter, "utf8")).trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as { args: string[]; interactive: boolean; server?: string });
    let accepted = "exec-1";
    srv.handler = (req, res) => (req.headers.authorization === `Bearer ${accepted}` ? json(res, 200, podList) : json(res, 401, { kind: "Status", code: 401, reason: "Unauthorized" }));

    // The command is relative: it resolves against the kubeconfig's directory.
    const kube = await KubeClient.load({ kubeconfig: await kc({ server: srv.url, cluster: { "certificate-authority": pki.caFile }, user: exec(["--region", "eu"]) }) });
    await Promise.all([kube.list(PODS), kube.list(PODS)]);
    await kube.list(PODS);
    assert.equal((await runs()).length, 1, "one run, token cached until expiry, concurrent callers share it");
    assert.deepEqual((await runs())[0], { args: ["--region", "eu"], interactive: false, server: srv.url });
    await writeFile(tokenSource, "exec-2");
    accepted = "exec-2";
    await kube.list(PODS);
    assert.equal((await runs()).length, 2, "re-ran after the 401");
    assert.equal(srv.seen.at(-1)?.authorization, "Bearer exec-2");
    kube.close();

    const expired = await KubeClient.load({ kubeconfig: await kc({ server: srv.url, cluster: { "certificate-authority": pki.caFile }, user: exec(["--expired"], "client.authentication.k8s.io/v1beta1") }) });
    await expired.list(PODS);
    await expired.list(PODS);
    assert.equal((await runs()).length, 4, "an expired token is not reused");
    expired.close();

    const failing = await KubeClient.load({ kubeconfig: await kc({ server: srv.url, cluster: { "certificate-authority": pki.caFile }, user: exec(["--fail"]) }) });
    await assert.rejects(failing.list(PODS), isKubeError((e) => e.code === "EEXEC" && /users\[name=u\]\.user\.exec: .*plugin\.mjs: exited with 3: cloud said no/.test(e.message)));
    failing.close();
  });

  it("in-cluster: service-account token, CA and namespace from overridable paths", async () => {
    const sa = join(dir, "sa");
    await mkdir(sa);
    await writeFile(join(sa, "token"), "sa-token-1");
    await writeFile(join(sa, "ca.crt"), pki.ca);
    await writeFile(join(sa, "namespace"), "audit");
    srv.handler = (_req, res) => json(res, 200, podList);
    const kube = await KubeClient.load({
      inCluster: true,
      env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(srv.port) },
      inClusterPaths: { tokenFile: join(sa, "token"), caFile: join(sa, "ca.crt"), namespaceFile: join(sa, "namespace") },
      tokenRefreshMs: 50,
    });
    assert.equal(kube.namespace, "audit");
    await kube.get(PODS, "p");
    assert.equal(srv.seen.at(-1)?.url, "/api/v1/namespaces/audit/pods/p", "namespaced calls default to the pod's namespace");
    assert.equal(srv.seen.at(-1)?.authorization, "Bearer sa-token-1");
    await writeFile(join(sa, "token"), "sa-token-2");
    await new Promise((r) => setTimeout(r, 120));
    await kube.get(PODS, "p");
    assert.equal(srv.seen.at(-1)?.authorization, "Bearer sa-token-2");
    kube.close();
  });
});

describe("KubeClient error mapping (plain HTTP)", () => {
  let srv: ScriptedServer;
  let kube: KubeClient;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kube-errors-"));
    srv = await startScriptedServer();
    kube = await KubeClient.load({ kubeconfig: await writeKubeconfig(join(dir, "kc.yaml"), { server: srv.url }), requestTimeoutMs: 300, maxBodyBytes: 4096 });
  });
  after(async () => {
    kube.close();
    await srv.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("times out a request that never answers (ETIMEDOUT, transient) and honours the caller's signal", async () => {
    srv.handler = () => {};
    const started = Date.now();
    await assert.rejects(kube.get(PODS, "slow", "x"), isKubeError((e) => e.code === "ETIMEDOUT" && e.transient && /GET \/api\/v1\/namespaces\/x\/pods\/slow/.test(e.message)));
    assert.ok(Date.now() - started < 5000, "Date.now() - started < 5000");
    const ac = new AbortController();
    const pending = kube.request("GET", "/api/v1/pods", { signal: ac.signal, timeoutMs: 10_000 });
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(pending, isKubeError((e) => e.code === "EABORTED" && !e.transient));
  });

  it("bounds a body that stalls after the headers, and a watch that never answers", async () => {
    srv.handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"items": [');
    };
    await assert.rejects(kube.list(PODS), isKubeError((e) => e.code === "ETIMEDOUT" && e.transient));
    srv.handler = () => {};
    await assert.rejects(
      (async () => {
        for await (const _ of kube.watch(PODS, { idleTimeoutMs: 60_000 })) assert.fail("no events");
      })(),
      isKubeError((e) => e.code === "ETIMEDOUT" && /watch \/api\/v1\/pods: no response within 300 ms/.test(e.message)),
    );
  });

  it("exposes Retry-After on 429 (seconds and HTTP date) and marks 5xx transient, 4xx not", async () => {
    srv.handler = (_req, res) => json(res, 429, { kind: "Status", code: 429, reason: "TooManyRequests", message: "slow down" }, { "retry-after": "3" });
    await assert.rejects(kube.list(PODS), isKubeError((e) => e.status === 429 && e.retryAfterMs === 3000 && e.transient && e.reason === "TooManyRequests"));
    srv.handler = (_req, res) => json(res, 429, {}, { "retry-after": new Date(Date.now() + 60_000).toUTCString() });
    await assert.rejects(kube.list(PODS), isKubeError((e) => e.retryAfterMs !== undefined && e.retryAfterMs > 50_000 && e.retryAfterMs <= 60_000));
    srv.handler = (_req, res) => {
      res.writeHead(502, { "content-type": "text/html" });
      res.end("<html>bad gateway</html>");
    };
    await assert.rejects(kube.list(PODS), isKubeError((e) => e.status === 502 && e.transient && /bad gateway/.test(e.message)));
    srv.handler = (_req, res) => json(res, 403, { kind: "Status", code: 403, reason: "Forbidden", message: 'pods is forbidden: User "x" cannot list' });
    await assert.rejects(kube.list(PODS), isKubeError((e) => e.status === 403 && !e.transient && /cannot list/.test(e.message)));
  });

  it("rejects malformed JSON naming the path, oversized bodies, and refused connections", async () => {
    srv.handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{not json");
    };
    await assert.rejects(kube.get(PODS, "p", "ns"), isKubeError((e) => e.code === "EBADJSON" && e.message.includes("/api/v1/namespaces/ns/pods/p")));
    srv.handler = (_req, res) => json(res, 200, { items: [], pad: "x".repeat(10_000) });
    await assert.rejects(kube.list(PODS), isKubeError((e) => e.code === "EBODYTOOLARGE" && !e.transient));
    const dead = await KubeClient.load({ kubeconfig: await writeKubeconfig(join(dir, "dead.yaml"), { server: "http://127.0.0.1:1" }) });
    await assert.rejects(dead.list(PODS), isKubeError((e) => e.code === "ECONNREFUSED" && e.transient));
    dead.close();
  });

  it("sends the right verbs, content types and delete options", async () => {
    srv.handler = (_req, res) => json(res, 200, { metadata: { name: "p" } });
    await kube.patch(PODS, "p", { metadata: { labels: { a: "b" } } }, { namespace: "n", type: "apply", fieldManager: "me", force: true });
    assert.equal(srv.seen.at(-1)?.method, "PATCH");
    assert.equal(srv.seen.at(-1)?.contentType, "application/apply-patch+yaml");
    assert.equal(srv.seen.at(-1)?.url, "/api/v1/namespaces/n/pods/p?fieldManager=me&force=true");
    await kube.patch(PODS, "p", {}, { namespace: "n", type: "strategic", subresource: "status" });
    assert.equal(srv.seen.at(-1)?.url, "/api/v1/namespaces/n/pods/p/status");
    assert.equal(srv.seen.at(-1)?.contentType, "application/strategic-merge-patch+json");
    await assert.rejects(kube.patch(PODS, "p", {}, { type: "apply" }), isKubeError((e) => e.code === "EINVALID"));
    await kube.delete(PODS, "p", { namespace: "n", gracePeriodSeconds: 0, propagationPolicy: "Foreground", preconditionUid: "u1" });
    assert.equal(srv.seen.at(-1)?.method, "DELETE");
    assert.deepEqual(JSON.parse(srv.seen.at(-1)!.body), { kind: "DeleteOptions", apiVersion: "v1", gracePeriodSeconds: 0, propagationPolicy: "Foreground", preconditions: { uid: "u1" } });
    await kube.create(PODS, { metadata: { name: "q", namespace: "from-obj" } }, { dryRun: true, fieldValidation: "Strict" });
    assert.equal(srv.seen.at(-1)?.url, "/api/v1/namespaces/from-obj/pods?dryRun=All&fieldValidation=Strict");
    assert.deepEqual(JSON.parse(srv.seen.at(-1)!.body), { apiVersion: "v1", kind: "Pod", metadata: { name: "q", namespace: "from-obj" } });
  });

  it("parses watch streams split at arbitrary byte boundaries, including multi-byte characters", async () => {
    const events = [
      { type: "ADDED", object: { metadata: { name: "ä-1", resourceVersion: "1" } } },
      { type: "BOOKMARK", object: { metadata: { resourceVersion: "2" } } },
      { type: "DELETED", object: { metadata: { name: "ä-1", resourceVersion: "3" } } },
    ];
    const payload = Buffer.from(events.map((e) => JSON.stringify(e)).join("\n") + "\n");
    srv.handler = (req, res) => {
      assert.match(req.url ?? "", /watch=true.*resourceVersion=1.*timeoutSeconds=30.*allowWatchBookmarks=true/);
      res.writeHead(200, { "content-type": "application/json" });
      let i = 0;
      const step = () => {
        if (i >= payload.length) return res.end();
        res.write(payload.subarray(i, i + 3)); // splits JSON and the UTF-8 "ä"
        i += 3;
        setImmediate(step);
      };
      step();
    };
    const seen: WatchEvent<{ metadata: { name?: string; resourceVersion: string } }>[] = [];
    for await (const ev of kube.watch<{ metadata: { name?: string; resourceVersion: string } }>(PODS, { resourceVersion: "1", timeoutSeconds: 30, allowWatchBookmarks: true })) seen.push(ev);
    assert.deepEqual(seen, events);

    // Any split of any events (unicode names included) parses back to the same events.
    const eventArb = fc.record({ type: fc.constantFrom("ADDED", "MODIFIED", "DELETED"), object: fc.record({ metadata: fc.record({ name: fc.string({ unit: "grapheme", maxLength: 12 }), resourceVersion: fc.nat().map(String) }) }) });
    await fc.assert(
      fc.asyncProperty(fc.array(eventArb, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 }), async (evs, sizes) => {
        const bytes = Buffer.from(evs.map((e) => JSON.stringify(e)).join("\n") + "\n");
        srv.handler = (_req, res) => {
          res.writeHead(200, { "content-type": "application/json" });
          let i = 0;
          let k = 0;
          const step = () => {
            if (i >= bytes.length) return res.end();
            const n = sizes[k++ % sizes.length]!;
            res.write(bytes.subarray(i, i + n));
            i += n;
            setImmediate(step);
          };
          step();
        };
        const got: unknown[] = [];
        for await (const ev of kube.watch(PODS)) got.push(ev);
        assert.deepEqual(got, JSON.parse(JSON.stringify(evs)));
      }),
      { numRuns: 25 },
    );

    srv.handler = (_req, res) => {
      res.writeHead(200);
      res.end('{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version"}}\n');
    };
    await assert.rejects(
      (async () => {
        for await (const _ of kube.watch(PODS, { resourceVersion: "1" })) assert.fail("no event before the error");
      })(),
      isKubeError((e) => e.status === 410 && e.reason === "Expired" && /too old/.test(e.message)),
    );
    srv.handler = (_req, res) => json(res, 403, { kind: "Status", code: 403, reason: "Forbidden", message: "no watch for you" });
    await assert.rejects(
      (async () => {
        for await (const _ of kube.watch(PODS)) assert.fail("no events");
      })(),
      isKubeError((e) => e.status === 403),
    );
  });
});
