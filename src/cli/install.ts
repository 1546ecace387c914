import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { BASE_COMPONENTS, HOME_NAMESPACE, checkNamespace, parseComponents, renderInstall } from "../dashboards/install.js";
import { toMultiDocYaml } from "../dashboards/kustomize.js";

export function register(program: Command): void {
  program
    .command("install")
    .description("render the Kubernetes manifests of every component (pipe to `kubectl apply -f -`)")
    .option("--print", "print the manifests as one multi-document YAML on stdout")
    .option("--components <list>", `comma-separated: auditor, audit-webhook, flows, controlplane, monitoring, exporter-example (default: ${BASE_COMPONENTS.join(",")})`)
    .option("--namespace <ns>", "namespace the components run in", HOME_NAMESPACE)
    .option("--deploy-dir <dir>", "kustomize tree to render (default: the deploy/ shipped with watch-auditor)")
    .action(async (o: { print?: boolean; components?: string; namespace: string; deployDir?: string }) => {
      // Applying to a cluster is kubectl's job: we only render, and say so rather than do nothing.
      if (!o.print) throw new UsageError("install: only --print is supported (run `watch-auditor install --print | kubectl apply -f -`)");
      const components = o.components === undefined ? BASE_COMPONENTS : parseComponents(o.components);
      const objects = await renderInstall({ components, namespace: checkNamespace(o.namespace), deployDir: o.deployDir });
      process.stdout.write(toMultiDocYaml(objects));
    });
}
