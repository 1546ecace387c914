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

export interface AuthFlagsOptions {
  /**
   * For a component whose data route is an extra (the exporter's /status): without --auth (or
   * --auth-token-file) that route is not served at all. The text names the route(s).
   */
  offByDefault?: string;
}

export function addAuthOptions(cmd: Command, serviceName: string, o: AuthFlagsOptions = {}): Command {
  const what = o.offByDefault ?? "the HTTP API";
  const byDefault = o.offByDefault ? `${o.offByDefault} not served` : "kubernetes, token-file with --auth-token-file";
  return cmd
    .addOption(
      new Option("--auth <mode>", `who may call ${what}: kubernetes (bearer token checked with TokenReview + SubjectAccessReview), token-file, none (anyone: logged loudly) (default: ${byDefault})`).choices([
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

/** For AuthFlagsOptions.offByDefault: undefined (route not served) unless --auth or --auth-token-file is given. */
export function optionalAuthConfigFrom(o: AuthCliOpts, serviceName: string): HttpAuthConfig | undefined {
  if (o.auth !== undefined || o.authTokenFile !== undefined) return authConfigFrom(o, serviceName);
  const stray = [
    ["--kubeconfig", o.kubeconfig],
    ["--auth-resource-attributes", o.authResourceAttributes],
    ["--auth-protect-metrics", o.authProtectMetrics],
  ].filter(([, v]) => v !== undefined);
  if (stray.length > 0) throw new UsageError(`${stray.map(([f]) => f).join(", ")} only apply with --auth (or --auth-token-file)`);
  return undefined;
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
