// Small fetch wrapper shared by the test API server's own tests.
export interface Reply {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  opts: { contentType?: string; token?: string; raw?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (body !== undefined || opts.raw !== undefined) headers["Content-Type"] = opts.contentType ?? "application/json";
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  const r = await fetch(new URL(`${base}${path}`), {
    method,
    headers,
    body: opts.raw ?? (body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body)),
  });
  const text = await r.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // non-JSON answers (healthz) stay text
  }
  return { status: r.status, headers: r.headers, body: parsed };
}

export function pod(name: string, labels: Record<string, string> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels },
    spec: { containers: [{ name: "app", image: "nginx:1.27" }], ...extra },
  };
}

export function deployment(name: string, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "app", image: "nginx:1.27", env: [{ name: "A", value: "1" }] }] },
      },
      ...spec,
    },
  };
}
