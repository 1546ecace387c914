import { readFileSync } from "node:fs";

/** The package's version (package.json beside dist/ or src/): `--version` and the console's /info. */
export const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
