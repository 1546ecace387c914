// Page problems for the auditor, control-plane and traffic browser tests: uncaught exceptions,
// console errors, and failed HTTP responses except the browser's own /favicon.ico probe (the page
// has no icon: a 404 there says nothing about the views).
import type { Page } from "playwright-core";

export function watchProblems(page: Page & { errors: string[] }): () => string[] {
  const failed: string[] = [];
  page.on("response", (r) => {
    if (r.status() >= 400 && new URL(r.url()).pathname !== "/favicon.ico") failed.push(`${r.status()} ${r.url()}`);
  });
  return () => [...page.errors.filter((e) => !e.startsWith("console.error: Failed to load resource")), ...failed];
}
