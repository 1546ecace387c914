// Flags of the bearer-token gate in front of a component's HTTP API (src/core/http-auth.ts).
import { InvalidArgumentError, Option, type Command } from "commander";
import { UsageError } from "../core/errors.js";
import type { HttpAuthConfig } from "../core/http-auth.js";
import { parseResourceAttributes, type ResourceAttributes } from "../core/resource-attributes.js";
import { durationParser, intParser } from "../core/options.js";

export interface AuthCliOpts {
  auth?: "kubernetes" | "token-file" | "none";
  authTokenFile?: string;
  kubeconfig?: string;
  authResourceAttributes?: Partial<ResourceAttributes>;
  authCacheTtl: number;
  authCacheDeniedTtl: number;
  authCacheSize: number;
  authProtectMetrics?: boolean;
}

function attributesParser(v: string): Partial<ResourceAttributes> {
  try {
    return parseResourceAttributes(v);
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}.`);
  }
}

export function addAuthOptions(cmd: Command, serviceName: string): Command {
  return cmd
    .addOption(
      new Option("--auth <mode>", "who may call the HTTP API: kubernetes (bearer token checked with TokenReview + SubjectAccessReview), token-file, none (anyone: logged loudly) (default: kubernetes, token-file with --auth-token-file)").choices([
        "kubernetes",
        "token-file",
        "none",
      ]),
    )
    .option("--auth-token-file <file>", 'static tokens instead of the API server: CSV lines token,user,uid[,"group1,group2"]; mode 0600')
    .option("--kubeconfig <file>", "kubeconfig for TokenReview/SubjectAccessReview (default: in-cluster, $KUBECONFIG, ~/.kube/config)")
    .option(
      "--auth-resource-attributes <k=v,...>",
      `SubjectAccessReview resource attributes (namespace, verb, group, version, resource, subresource, name) (default: namespace=<own namespace>,resource=services,subresource=proxy,name=${serviceName},verb=get; given keys override)`,
      attributesParser,
    )
    .option("--auth-cache-ttl <duration>", "how long an allowed token/identity is cached (0: no cache)", durationParser({ allowZero: true }), 30_000)
    .option("--auth-cache-denied-ttl <duration>", "how long an invalid token or denied identity is cached (0: no cache); errors never are", durationParser({ allowZero: true }), 10_000)
    .option("--auth-cache-size <n>", "entries per cache (tokens, identities)", intParser(1, 1_000_000), 1024)
    .option("--auth-protect-metrics", "require the token on /metrics too (/healthz and /readyz stay open)");
}

export function authConfigFrom(o: AuthCliOpts, serviceName: string): HttpAuthConfig {
  const mode = o.auth ?? (o.authTokenFile !== undefined ? "token-file" : "kubernetes");
  if (mode !== "token-file" && o.authTokenFile !== undefined) throw new UsageError(`--auth-token-file is only used with --auth=token-file, not --auth=${mode}`);
  if (mode !== "kubernetes" && (o.kubeconfig !== undefined || o.authResourceAttributes !== undefined)) {
    throw new UsageError(`--kubeconfig and --auth-resource-attributes are only used with --auth=kubernetes, not --auth=${mode}`);
  }
  if (mode === "none" && o.authProtectMetrics) throw new UsageError("--auth-protect-metrics needs --auth=kubernetes or --auth=token-file");
  const protectMetrics = o.authProtectMetrics ?? false;
  if (mode === "none") return { mode };
  if (mode === "token-file") {
    if (o.authTokenFile === undefined) throw new UsageError("--auth=token-file needs --auth-token-file FILE");
    return { mode, file: o.authTokenFile, protectMetrics };
  }
  return {
    mode,
    kubeconfig: o.kubeconfig,
    attributes: o.authResourceAttributes ?? {},
    defaultServiceName: serviceName,
    allowedTtlMs: o.authCacheTtl,
    deniedTtlMs: o.authCacheDeniedTtl,
    maxEntries: o.authCacheSize,
    protectMetrics,
  };
}
