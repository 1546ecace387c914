// The page's only way to the server: same-origin GETs under /api/, with the bearer token the
// user typed (kept in sessionStorage: gone when the tab closes, never in a cookie, so no CSRF).
const TOKEN_KEY = "watch-auditor-token";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token === null || token === "") sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
  for (const l of authListeners) l();
}

const authListeners = new Set<() => void>();
/** Called when the server answered 401: the shell asks for a token. */
export function onAuthChange(l: () => void): () => void {
  authListeners.add(l);
  return () => authListeners.delete(l);
}
let needToken = false;
export function tokenNeeded(): boolean {
  return needToken;
}

export type Params = Record<string, string | number | undefined | null>;

export function apiUrl(path: string, params: Params = {}): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") u.set(k, String(v));
  const q = u.toString();
  return `/api/console/${path.replace(/^\/+/, "")}${q ? `?${q}` : ""}`;
}

export async function getJson<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(apiUrl(path, params), { headers, signal, credentials: "omit", cache: "no-store" });
  if (res.status === 401) {
    needToken = true;
    for (const l of authListeners) l();
  }
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { error?: unknown };
      if (typeof body.error === "string") message = body.error;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(res.status, message);
  }
  needToken = false;
  return (await res.json()) as T;
}

/** Whether an error is a superseded request (AbortController.abort()), which views ignore. */
export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === "AbortError";
}
