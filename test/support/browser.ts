// Real-browser tests of the web console: Debian's Chromium (/usr/bin/chromium, installed by
// .ci/run) driven by playwright-core, which never downloads a browser of its own. Screenshots go to
// artifacts/screenshots/ (README: "Console screenshots"), kept by CI as artifacts.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { spawnCli, stopCli, eventually } from "./cli.js";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SCREENSHOT_DIR = fileURLToPath(new URL("../../artifacts/screenshots/", import.meta.url));

/**
 * Headless, no sandbox (CI runs as root), and none of Chromium's background connections: the
 * machine's network is closed and each refused connection costs time at start.
 */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
}

/** A page that fails the test on any console error or uncaught exception of the page. */
export async function newPage(browser: Browser, viewport = { width: 1400, height: 900 }): Promise<Page & { errors: string[] }> {
  const page = (await browser.newPage({ viewport })) as Page & { errors: string[] };
  page.errors = [];
  page.on("pageerror", (err) => page.errors.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") page.errors.push(`console.error: ${msg.text()}`);
  });
  return page;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

export interface RunningConsole {
  url: string;
  /** Everything the process printed so far. */
  output: { stdout: string; stderr: string };
  stop(): Promise<void>;
}

/** Starts the real `watch-auditor console` (default --listen 127.0.0.1:0) and waits for its "console listening" log line (stderr). */
export async function startConsole(args: string[], opts: { env?: Record<string, string> } = {}): Promise<RunningConsole> {
  const withListen = args.includes("--listen") ? args : [...args, "--listen", "127.0.0.1:0"];
  const child = spawnCli(["console", ...withListen], opts.env ? { env: opts.env } : {});
  let exited = false;
  // A console that exits (bad flag, unreadable store) fails the start at once, with its output.
  const exit = new Promise<never>((_resolve, reject) =>
    child.on("exit", () => {
      exited = true;
      reject(new Error(`console exited: ${child.output.stderr}${child.output.stdout}`));
    }),
  );
  const listening = eventually(
    () => {
      if (exited) return "exited";
      for (const line of child.output.stderr.split("\n")) {
        if (!line.includes('"console listening"')) continue;
        return (JSON.parse(line) as { url: string }).url;
      }
      return undefined;
    },
    { timeoutMs: 30_000, what: "console listening" },
  );
  exit.catch(() => undefined); // the exit at stop() rejects it again, unobserved
  const url = await Promise.race([listening, exit]);
  return {
    url,
    output: child.output,
    stop: async () => {
      if (!exited) await stopCli(child);
    },
  };
}
