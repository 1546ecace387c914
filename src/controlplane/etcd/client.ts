// The maintained etcd3 client (gRPC) for one endpoint at a time, so that each member is asked about
// itself and a failing member is reported by name instead of being retried on another one.
import { Etcd3, type IOptions } from "etcd3";
import { DEFAULT_TIMEOUT_MS, MAX_RECEIVE_BYTES, type TlsMaterial } from "./connection.js";

/**
 * An etcd3 client talking to exactly one endpoint. Retries and circuit breakers of etcd3 are
 * replaced by a single attempt (the caller decides what a failure means), and every call carries a
 * deadline unless it gives its own.
 */
export function openClient(endpoint: string, tls: TlsMaterial, timeoutMs = DEFAULT_TIMEOUT_MS): Etcd3 {
  const once = singleAttemptPolicy();
  const opts: IOptions = {
    hosts: [endpoint],
    dialTimeout: timeoutMs,
    grpcOptions: {
      "grpc.max_receive_message_length": MAX_RECEIVE_BYTES,
      // One TCP connection per client: the scan and the latency probe use separate clients.
      "grpc.use_local_subchannel_pool": 1,
    },
    defaultCallOptions: () => ({ deadline: Date.now() + timeoutMs }),
    faultHandling: { host: () => once, global: once },
  };
  if (tls.ca !== undefined || tls.cert !== undefined) {
    // grpc-js takes null as "the system's roots" when no CA file is given.
    opts.credentials = { rootCertificate: (tls.ca ?? null) as Buffer, ...(tls.key ? { privateKey: tls.key } : {}), ...(tls.cert ? { certChain: tls.cert } : {}) };
  }
  return new Etcd3(opts);
}

type Policy = NonNullable<NonNullable<IOptions["faultHandling"]>["global"]>;

/** A cockatiel-compatible policy that runs the call once and passes its failure on. */
function singleAttemptPolicy(): Policy {
  const noopEvent = (): { dispose(): void } => ({ dispose() {} });
  const policy = {
    _altReturn: undefined,
    onSuccess: noopEvent,
    onFailure: noopEvent,
    execute: <T>(fn: (ctx: { signal: AbortSignal }) => T | Promise<T>, signal: AbortSignal = new AbortController().signal): Promise<T> =>
      Promise.resolve().then(() => fn({ signal })),
  };
  return policy as unknown as Policy;
}

