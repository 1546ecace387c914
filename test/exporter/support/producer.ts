// A raw NDJSON producer over a real socket, for tests: writes bytes, collects reply lines.
import { createConnection, type Socket } from "node:net";
import { eventually } from "../../support/cli.js";

export interface Reply {
  ack?: number;
  error?: string;
  line?: number;
}

export class RawProducer {
  readonly replies: Reply[] = [];
  private buf = "";
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf("\n")) >= 0) {
        this.replies.push(JSON.parse(this.buf.slice(0, nl)) as Reply);
        this.buf = this.buf.slice(nl + 1);
      }
    });
    socket.on("close", () => (this.closed = true));
    socket.on("error", () => {});
  }

  static connect(path: string, opts: { paused?: boolean } = {}): Promise<RawProducer> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once("connect", () => {
        const p = new RawProducer(s);
        if (opts.paused) s.pause();
        resolve(p);
      });
      s.once("error", reject);
    });
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (err) => (err ? reject(err) : resolve())));
  }

  get lastAck(): number {
    let a = 0;
    for (const r of this.replies) if (r.ack !== undefined) a = r.ack;
    return a;
  }

  get errors(): Reply[] {
    return this.replies.filter((r) => r.error !== undefined);
  }

  waitAck(n: number, timeoutMs = 15_000): Promise<true> {
    return eventually(() => this.lastAck >= n || undefined, { timeoutMs, what: `ack ${n} (last ${this.lastAck})` }) as Promise<true>;
  }

  close(): void {
    this.socket.destroy();
  }
}
