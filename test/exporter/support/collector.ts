// A real loopback HTTP endpoint standing in for a log collector: records every request,
// answers as the test's `behave` function says (status code, or "hang").
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type Behaviour = number | "hang";

export interface Attempt {
  at: number;
  status: Behaviour;
  lines: string[];
  idempotencyKey: string | undefined;
}

export class Collector {
  readonly attempts: Attempt[] = [];
  /** Lines of every request answered 2xx, in arrival order. */
  readonly accepted: string[] = [];
  behave: (req: { n: number; lines: string[] }) => Behaviour = () => 200;
  private server: Server;
  private hung = new Set<ServerResponse>();
  port = 0;

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 1000;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/ingest`;
  }

  async listen(port = 0): Promise<this> {
    await new Promise<void>((r) => this.server.listen(port, "127.0.0.1", () => r()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const parts: Buffer[] = [];
    req.on("data", (d: Buffer) => parts.push(d));
    req.on("end", () => {
      const lines = Buffer.concat(parts).toString("utf8").split("\n").filter(Boolean);
      const status = this.behave({ n: this.attempts.length, lines });
      this.attempts.push({ at: performance.now(), status, lines, idempotencyKey: req.headers["idempotency-key"] as string | undefined });
      if (status === "hang") {
        this.hung.add(res);
        res.on("close", () => this.hung.delete(res));
        return;
      }
      if (status >= 200 && status < 300) this.accepted.push(...lines);
      res.writeHead(status, { "content-type": "text/plain" }).end(status >= 300 ? `refused with ${status}` : "ok");
    });
  }

  async close(): Promise<void> {
    for (const r of this.hung) r.destroy();
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }
}
