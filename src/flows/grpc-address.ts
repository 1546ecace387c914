import { UsageError } from "../core/errors.js";

/** Checks an address flag: unix:// socket path or host:port (kept apart from grpc-input.ts so the CLI does not load gRPC to parse flags). */
export function parseGrpcAddress(flag: string, v: string): string {
  if (/^unix:(\/\/)?\/./.test(v)) return v.startsWith("unix://") ? v : `unix://${v.slice(5)}`;
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new UsageError(`${flag}: expected unix:///path/to.sock or host:port, got "${v}"`);
  return v;
}
