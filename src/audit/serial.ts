// One DuckDB connection runs one statement at a time; callers that share a connection (webhook
// batches, HTTP API requests) queue here.
const locks = new WeakMap<object, Promise<unknown>>();

export function serialized<T>(key: object, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(key) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  locks.set(key, next.catch(() => undefined));
  return next;
}
