// Page problems for the auditor, control-plane and traffic browser tests: uncaught exceptions,
// console errors, and failed HTTP responses except the browser's own /favicon.ico probe (the page
// has no icon: a 404 there says nothing about the views).
import type { Page } from "playwright-core";
import { eventually } from "../support/cli.js";

export function watchProblems(page: Page & { errors: string[] }): () => string[] {
  const failed: string[] = [];
  page.on("response", (r) => {
    if (r.status() >= 400 && new URL(r.url()).pathname !== "/favicon.ico") failed.push(`${r.status()} ${r.url()}`);
  });
  return () => [...page.errors.filter((e) => !e.startsWith("console.error: Failed to load resource")), ...failed];
}

/** Waits until the page shows `n` elements with this data-testid (the view re-rendered after a change). */
export async function countIs(page: Page, testid: string, n: number): Promise<void> {
  let last = -1;
  await eventually(async () => ((last = await page.getByTestId(testid).count()) === n ? true : undefined), { timeoutMs: 30_000, intervalMs: 100, what: `${n} × ${testid}` }).catch((err: Error) => {
    throw new Error(`${err.message} (last seen ${last})`);
  });
}
