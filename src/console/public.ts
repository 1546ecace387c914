// What other capabilities may use of the console: its routes, for `audit serve` to serve the page
// next to its JSON API (one process owns the DuckDB file), and the headers those responses carry.
export { consoleRoutes, type ConsoleRoutes } from "./routes.js";
export { SECURITY_HEADERS, CONTENT_SECURITY_POLICY } from "./static.js";
export type { ConsoleContext } from "./context.js";
export { readTokenFile } from "./server.js";
