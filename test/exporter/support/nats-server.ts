// A real nats-server with JetStream for tests (Debian package nats-server, installed by .ci/run).
import { spawn, type ChildProcess } from "node:child_process";
import { connect as netConnect } from "node:net";
import { eventually } from "../../support/cli.js";
import { freePort } from "../../support/ports.js";

const NATS_SERVER = "/usr/sbin/nats-server";

/** A real nats-server with JetStream; restartable on the same port and store dir. */
export class NatsServer {
  private proc: ChildProcess | undefined;
  log = "";
  constructor(
    readonly port: number,
    readonly storeDir: string,
    readonly extraArgs: string[] = [],
  ) {}

  async start(): Promise<void> {
    const proc = spawn(NATS_SERVER, ["-js", "-a", "127.0.0.1", "-p", String(this.port), "-sd", this.storeDir, ...this.extraArgs], { stdio: ["ignore", "pipe", "pipe"] });
    proc.stdout!.on("data", (d: Buffer) => (this.log += d.toString()));
    proc.stderr!.on("data", (d: Buffer) => (this.log += d.toString()));
    this.proc = proc;
    await eventually(() => canConnect(this.port), { timeoutMs: 20_000, what: `nats-server on port ${this.port}\n${this.log}` });
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export { freePort };
