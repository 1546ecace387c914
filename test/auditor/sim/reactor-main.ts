// One reactor as a process of its own, so a test can SIGSTOP/SIGCONT it like a real
// controller: `node --import tsx reactor-main.ts <widget-operator|networkpolicy-generator|secret-replicator> <kubeconfig>`.
// Prints "ready" once its informer has synced; exits on SIGTERM.
import { KubeClient } from "../../../src/core/kube/index.js";
import { networkPolicyGenerator, secretReplicator, widgetOperator } from "./reactors.js";

const [which, kubeconfig] = process.argv.slice(2);
const factories = { "widget-operator": widgetOperator, "networkpolicy-generator": networkPolicyGenerator, "secret-replicator": secretReplicator };
const make = factories[which as keyof typeof factories];
if (!make || !kubeconfig) {
  console.error(`usage: reactor-main.ts <${Object.keys(factories).join("|")}> <kubeconfig>`);
  process.exit(2);
}
const kube = await KubeClient.load({ kubeconfig });
const reactor = await make(kube).listen();
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  void reactor.stop().finally(() => {
    kube.close();
    process.exit(0);
  });
});
