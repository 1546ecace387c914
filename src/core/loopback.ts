/**
 * Whether a listen address is loopback-only: where an HTTP API may run without a token (console)
 * and where plain HTTP carries no token across a network (the warnings of audit serve, console).
 */
export const isLoopbackHost = (host: string): boolean => host === "localhost" || host === "::1" || host.startsWith("127.");
