import { Option, type Command } from "commander";
import { UsageError } from "../core/errors.js";
import type { AuditStore } from "../audit/store.js";
import { parseTimeArg } from "../audit/time-arg.js";
import { AmbiguousObjectError, objectHistory } from "../audit/history/history.js";
import { parseResource } from "../audit/history/resource.js";
import { renderHistory } from "../audit/history/render.js";

interface HistoryCliOpts {
  db: string;
  namespace?: string;
  since?: Date;
  until?: Date;
  allFields?: boolean;
  objects?: boolean;
  output: "table" | "json";
}

/** `audit history RESOURCE NAME`: src/audit/history/. */
export function registerHistory(
  audit: Command,
  db: Option,
  withReadOnlyStore: <T>(db: string, fn: (s: AuditStore) => Promise<T>) => Promise<T>,
): void {
  audit
    .command("history")
    .description("Every revision of one object rebuilt from its write events' bodies: who (user, agent, verb, field manager), field-level diffs, lifetime")
    .argument("<resource>", "resource: plural, plural.group, short name or kind (deploy, deployments.apps)")
    .argument("<name>", "object name")
    .addOption(db)
    .option("-n, --namespace <ns>", "the object's namespace (needed when the name exists in several; - for a cluster-scoped object)")
    .option("--since <time>", "only events at or after this RFC3339 time or duration ago (e.g. 1h)", (v) => parseTimeArg(v))
    .option("--until <time>", "only events before this RFC3339 time or duration ago", (v) => parseTimeArg(v))
    .option("--all-fields", "also show metadata.managedFields and metadata.resourceVersion changes")
    .option("--objects", "with -o json, include each revision's whole object")
    .addOption(new Option("-o, --output <format>", "output format").choices(["table", "json"]).default("table"))
    .action(async (resource: string, name: string, o: HistoryCliOpts) => {
      await withReadOnlyStore(o.db, async (s) => {
        try {
          const h = await objectHistory(s, parseResource(resource), name, { namespace: o.namespace === "-" ? "" : o.namespace, since: o.since, until: o.until, allFields: o.allFields === true, objects: o.objects === true });
          process.stdout.write(o.output === "json" ? JSON.stringify(h, null, 2) + "\n" : renderHistory(h, o.allFields === true));
        } catch (err) {
          if (err instanceof AmbiguousObjectError) throw new UsageError(err.message);
          throw err;
        }
      });
    });
}
