// The real sample data lives in ../shared/samples beside the checkout (CI clones the repo with
// shared/ next to it); WATCH_AUDITOR_SAMPLES overrides the location.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const SAMPLES_ROOT = process.env.WATCH_AUDITOR_SAMPLES ?? fileURLToPath(new URL("../../../shared/samples", import.meta.url));

if (!existsSync(SAMPLES_ROOT)) throw new Error(`sample data not found at ${SAMPLES_ROOT}: clone the repo beside shared/ or set WATCH_AUDITOR_SAMPLES`);

export const AUDIT_SAMPLES = `${SAMPLES_ROOT}/audit`;
export const FLOW_SAMPLES = `${SAMPLES_ROOT}/flows`;
