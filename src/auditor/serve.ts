// `watch-auditor serve`: turns flags into probes, connects to Kubernetes, runs the
// Auditor until SIGTERM/SIGINT, then shuts down cleanly (canary deleted, lease released).
import { hostname } from "node:os";
import { UsageError, errorMessage } from "../core/errors.js";
import { createLogger } from "../core/logger.js";
import { untilTerminated } from "../core/signals.js";
import { KubeClient } from "../core/kube/index.js";
import { Auditor, AlwaysLeader, type Leadership } from "./auditor.js";
import { probesFromFlags, type ServeFlags } from "./flags.js";
import { randomSuffix } from "./canary.js";
import { KubeAuditorApi } from "./kube-api.js";
import { KubeReactionApi } from "./reaction-api.js";
import { isReaction } from "./reaction-probe.js";
import { LeaseLeadership } from "./leadership.js";

export async function runServe(f: ServeFlags): Promise<void> {
  if (f.renewDeadline >= f.leaseDuration) throw new UsageError(`--renew-deadline (${f.renewDeadline}ms) must be shorter than --lease-duration (${f.leaseDuration}ms)`);
  if (f.retryPeriod >= f.renewDeadline) throw new UsageError(`--retry-period (${f.retryPeriod}ms) must be shorter than --renew-deadline (${f.renewDeadline}ms)`);
  const probes = await probesFromFlags(f);
  const logger = createLogger(f.logLevel, "watch-auditor-serve");
  let kube: KubeClient;
  try {
    kube = await KubeClient.load({ kubeconfig: f.kubeconfig, context: f.context, inCluster: f.inCluster, requestTimeoutMs: f.requestTimeout, logger });
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  const reactionApi = new KubeReactionApi(kube);
  if (f.printRbac) {
    const { renderRbac } = await import("./rbac.js");
    const [saNamespace, saName] = (f.serviceAccount ?? "watch-auditor/watch-auditor").split("/") as [string, string];
    try {
      const leaseNamespace = f.leaderElect ? (f.leaseNamespace ?? process.env.POD_NAMESPACE ?? "watch-auditor") : undefined;
      process.stdout.write(await renderRbac(probes, (v, k) => reactionApi.resolve(v, k), { serviceAccount: { namespace: saNamespace, name: saName }, leaseNamespace }));
    } finally {
      kube.close();
    }
    return;
  }
  // /readyz lists pods in the first canary namespace; with reaction probes only, it reads discovery.
  const sidecar = probes.find((p) => !isReaction(p));
  const api = new KubeAuditorApi(kube, sidecar && !isReaction(sidecar) ? sidecar.canary.namespace : undefined);
  const identity = f.identity ?? process.env.POD_NAME ?? `${hostname()}-${randomSuffix(5)}`;
  const leadership: Leadership = f.leaderElect
    ? new LeaseLeadership(kube, {
        name: f.leaseName,
        namespace: f.leaseNamespace ?? process.env.POD_NAMESPACE ?? "watch-auditor",
        identity,
        leaseDurationMs: f.leaseDuration,
        renewDeadlineMs: f.renewDeadline,
        retryPeriodMs: f.retryPeriod,
        logger,
      })
    : new AlwaysLeader();
  const auditor = new Auditor({ probes, canaryApi: api, controllerApi: api, reactionApi, pingApi: api, leadership, logger, port: f.port, host: f.host });
  const port = await auditor.start();
  logger.info(
    { port, identity: leadership.identity, mode: f.mode, probes: probes.map((p) =>
        isReaction(p)
          ? { name: p.name, kind: "reaction", mode: p.mode, every: p.everyMs, stimulus: `${p.stimulus.action} ${String(p.stimulus.template.apiVersion)}/${String(p.stimulus.template.kind)}`, expectations: p.expect.length, roll: p.roll ?? "none" }
          : { name: p.name, mode: p.mode, every: p.everyMs, canaryNamespace: p.canary.namespace, controller: p.controller },
      ) },
    "watch-auditor serve started",
  );

  const signal = await untilTerminated();
  logger.info({ signal }, "shutting down: aborting checks, deleting canaries, releasing the lease");
  // Kubernetes gives us terminationGracePeriodSeconds (30 s in deploy/): never hang past it.
  setTimeout(() => {
    logger.error("shutdown took longer than 25s; exiting");
    process.exit(1);
  }, 25_000).unref();
  await auditor.stop();
  kube.close();
  logger.info("stopped");
}
