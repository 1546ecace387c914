// Kubeconfig loading: precedence, kubectl-style merging, in-cluster, and errors naming file + field.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeClient, KubeConfigError } from "../../../src/core/kube/index.js";
import { resolveConnection } from "../../../src/core/kube/kubeconfig.js";
import { makePki, writeKubeconfig, type Pki } from "./fixtures.js";

describe("kubeconfig resolution", () => {
  let dir: string;
  let pki: Pki;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kubeconfig-"));
    await mkdir(join(dir, "pki"));
    pki = await makePki(join(dir, "pki"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const file = (name: string) => join(dir, name);
  const throwsConfig = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof KubeConfigError, `KubeConfigError, got ${String(err)}`);
      assert.match(err.message, re);
      return true;
    });

  it("reads server, namespace, token and a CA file relative to the kubeconfig", async () => {
    await writeFile(file("ca-rel.crt"), pki.ca);
    const path = await writeKubeconfig(file("rel.yaml"), { server: "https://127.0.0.1:6443/", cluster: { "certificate-authority": "ca-rel.crt" }, user: { token: "t0k" }, namespace: "shop" });
    const c = resolveConnection({ kubeconfig: path, env: {} });
    assert.equal(c.server, "https://127.0.0.1:6443");
    assert.equal(c.namespace, "shop");
    assert.equal(c.token, "t0k");
    assert.equal(c.ca?.toString(), pki.ca);
    assert.equal(c.inCluster, false);
    assert.ok(!c.source.includes("t0k"), "source never includes credentials");
  });

  it("decodes inline certificate data and client cert/key data", async () => {
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const path = await writeKubeconfig(file("inline.yaml"), {
      server: "https://h:1",
      cluster: { "certificate-authority-data": b64(pki.ca) },
      user: { "client-certificate-data": b64(pki.clientCert), "client-key-data": b64(pki.clientKey) },
    });
    const c = resolveConnection({ kubeconfig: path, env: {} });
    assert.equal(c.ca?.toString(), pki.ca);
    assert.equal(c.cert?.toString(), pki.clientCert);
    assert.equal(c.key?.toString(), pki.clientKey);
  });

  it("explains bad configs naming the file and the field", async () => {
    const missingCtx = await writeKubeconfig(file("ctx.yaml"), { server: "https://h:1" });
    throwsConfig(() => resolveConnection({ kubeconfig: missingCtx, context: "foo", env: {} }), new RegExp(`kubeconfig ${missingCtx}: context "foo" not found`));
    throwsConfig(() => resolveConnection({ kubeconfig: file("nope.yaml"), env: {} }), /kubeconfig .*nope\.yaml: file does not exist/);

    await writeFile(file("broken.yaml"), "clusters:\n  - name: c\n    cluster: [unclosed\n");
    throwsConfig(() => resolveConnection({ kubeconfig: file("broken.yaml"), env: {} }), /broken\.yaml:\d+: not valid YAML/);

    const noServer = await writeKubeconfig(file("noserver.yaml"), { server: "" });
    throwsConfig(() => resolveConnection({ kubeconfig: noServer, env: {} }), /noserver\.yaml: clusters\[name=c\]\.cluster\.server is missing/);

    const badData = await writeKubeconfig(file("baddata.yaml"), { server: "https://h:1", cluster: { "certificate-authority-data": "bm90IGEgY2VydA==" } });
    throwsConfig(() => resolveConnection({ kubeconfig: badData, env: {} }), /clusters\[name=c\]\.cluster\.certificate-authority-data: not base64-encoded PEM/);

    const missingCa = await writeKubeconfig(file("missingca.yaml"), { server: "https://h:1", cluster: { "certificate-authority": "absent.crt" } });
    throwsConfig(() => resolveConnection({ kubeconfig: missingCa, env: {} }), /certificate-authority: cannot read .*absent\.crt: ENOENT/);

    const proxy = await writeKubeconfig(file("proxy.yaml"), { server: "https://h:1", cluster: { "proxy-url": "http://proxy:3128" } });
    throwsConfig(() => resolveConnection({ kubeconfig: proxy, env: {} }), /cluster\.proxy-url is not supported/);

    const certOnly = await writeKubeconfig(file("certonly.yaml"), { server: "https://h:1", user: { "client-certificate": pki.clientCertFile } });
    throwsConfig(() => resolveConnection({ kubeconfig: certOnly, env: {} }), /users\[name=u\]\.user: client-certificate and client-key must be given together/);

    const oldExec = await writeKubeconfig(file("oldexec.yaml"), { server: "https://h:1", user: { exec: { apiVersion: "client.authentication.k8s.io/v1alpha1", command: "x" } } });
    throwsConfig(() => resolveConnection({ kubeconfig: oldExec, env: {} }), /user\.exec\.apiVersion: "client\.authentication\.k8s\.io\/v1alpha1" is not supported/);

    const authProvider = await writeKubeconfig(file("ap.yaml"), { server: "https://h:1", user: { "auth-provider": { name: "gcp" } } });
    throwsConfig(() => resolveConnection({ kubeconfig: authProvider, env: {} }), /user\.auth-provider is not supported/);

    const ftp = await writeKubeconfig(file("ftp.yaml"), { server: "ftp://h:1" });
    throwsConfig(() => resolveConnection({ kubeconfig: ftp, env: {} }), /cluster\.server: scheme ftp: is not supported/);
  });

  it("KubeClient.load rejects with the same message (CLI maps it to exit 2)", async () => {
    const path = await writeKubeconfig(file("load.yaml"), { server: "https://h:1" });
    await assert.rejects(KubeClient.load({ kubeconfig: path, context: "missing" }), /context "missing" not found/);
  });

  it("merges $KUBECONFIG like kubectl: first definition and first current-context win, missing files ignored", async () => {
    const a = file("merge-a.yaml");
    const b = file("merge-b.yaml");
    await writeFile(
      a,
      JSON.stringify({
        "current-context": "dev",
        contexts: [{ name: "dev", context: { cluster: "shared", user: "me", namespace: "from-a" } }],
        users: [{ name: "me", user: { token: "token-a" } }],
      }),
    );
    await writeFile(
      b,
      JSON.stringify({
        "current-context": "prod",
        contexts: [
          { name: "dev", context: { cluster: "other", user: "me", namespace: "from-b" } },
          { name: "prod", context: { cluster: "shared", user: "me" } },
        ],
        clusters: [{ name: "shared", cluster: { server: "https://shared:6443" } }],
        users: [{ name: "me", user: { token: "token-b" } }],
      }),
    );
    const env = { KUBECONFIG: [a, file("missing.yaml"), b].join(":") };
    const c = resolveConnection({ env });
    assert.equal(c.server, "https://shared:6443", "cluster from the second file");
    assert.equal(c.namespace, "from-a", "context dev from the first file wins");
    assert.equal(c.token, "token-a", "user from the first file wins");
    const prod = resolveConnection({ env, context: "prod" });
    assert.equal(prod.namespace, "default");
    throwsConfig(() => resolveConnection({ env: { KUBECONFIG: file("x1.yaml") + ":" + file("x2.yaml") } }), /\$KUBECONFIG: none of the files exist/);
  });

  it("precedence: explicit path > inCluster > $KUBECONFIG > in-cluster env > ~/.kube/config", async () => {
    const explicit = await writeKubeconfig(file("explicit.yaml"), { server: "https://explicit:1" });
    const viaEnv = await writeKubeconfig(file("env.yaml"), { server: "https://env:1" });
    const home = join(dir, "home");
    await mkdir(join(home, ".kube"), { recursive: true });
    await writeKubeconfig(join(home, ".kube", "config"), { server: "https://home:1" });
    const sa = join(dir, "sa");
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, "token"), "sa-token\n");
    await writeFile(join(sa, "ca.crt"), pki.ca);
    await writeFile(join(sa, "namespace"), "kube-audit\n");
    const inClusterPaths = { tokenFile: join(sa, "token"), caFile: join(sa, "ca.crt"), namespaceFile: join(sa, "namespace") };
    const podEnv = { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" };

    assert.equal(resolveConnection({ kubeconfig: explicit, inCluster: true, env: { ...podEnv, KUBECONFIG: viaEnv }, home, inClusterPaths }).server, "https://explicit:1");
    const ic = resolveConnection({ inCluster: true, env: { ...podEnv, KUBECONFIG: viaEnv }, home, inClusterPaths });
    assert.equal(ic.server, "https://10.0.0.1:443");
    assert.equal(ic.namespace, "kube-audit");
    assert.equal(ic.tokenFile, inClusterPaths.tokenFile);
    assert.equal(ic.inCluster, true);
    assert.equal(resolveConnection({ env: { ...podEnv, KUBECONFIG: viaEnv }, home, inClusterPaths }).server, "https://env:1");
    assert.equal(resolveConnection({ env: podEnv, home, inClusterPaths }).inCluster, true);
    assert.equal(resolveConnection({ env: {}, home, inClusterPaths }).server, "https://home:1");
    assert.equal(resolveConnection({ inCluster: true, env: { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" }, inClusterPaths }).server, "https://[fd00::1]:443");

    throwsConfig(() => resolveConnection({ env: {}, home: join(dir, "empty-home") }), /no Kubernetes configuration/);
    throwsConfig(() => resolveConnection({ inCluster: true, env: {}, inClusterPaths }), /KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set/);
    throwsConfig(() => resolveConnection({ inCluster: true, env: podEnv, inClusterPaths: { ...inClusterPaths, caFile: join(sa, "none") } }), /in-cluster: CA certificate .*none: ENOENT/);
  });
});
