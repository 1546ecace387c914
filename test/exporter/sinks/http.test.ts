import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSink } from "../../../src/exporter/sinks/index.js";
import type { Sink, SinkOutcome } from "../../../src/exporter/sink.js";
import { RecordingServer, ndjsonLines, records } from "./helpers.js";

const never = new AbortController().signal;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "wa-http-sink-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function withServer(fn: (s: RecordingServer) => Promise<void>, tls?: { key: Buffer; cert: Buffer }): Promise<void> {
  const s = await RecordingServer.start(tls);
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

/** A recording server and an http sink pointed at it (closed afterwards). */
function withSink(url: (s: RecordingServer) => string, fn: (s: RecordingServer, sink: Sink) => Promise<void>): Promise<void> {
  return withServer(async (s) => {
    const sink = createSink(url(s));
    try {
      await fn(s, sink);
    } finally {
      await sink.close();
    }
  });
}

/** The record numbers (`n`) of one recorded NDJSON request. */
const numbers = (r: { body: Buffer }): number[] => (ndjsonLines(r.body) as Array<{ n: number }>).map((l) => l.n);

test("posts NDJSON with the records byte for byte, sequence headers and custom headers", async () => {
  await withServer(async (s) => {
    const sink = createSink(`${s.url}/ingest?header=X-Team:platform&param.dataset=decisions&batchRecords=50`, { headers: { "X-Env": "prod" } });
    try {
      assert.equal(sink.name, `${s.url}/ingest?param.dataset=decisions`);
      assert.equal(sink.maxBatchRecords, 50);
      const batch = records(41, 3);
      assert.deepEqual(await sink.send(batch, never), { kind: "ok" });
      assert.equal(s.requests.length, 1);
      const r = s.requests[0]!;
      assert.equal(r.method, "POST");
      assert.equal(r.url, "/ingest?dataset=decisions");
      assert.equal(r.headers["content-type"], "application/x-ndjson");
      assert.equal(r.headers["idempotency-key"], "41-43");
      assert.equal(r.headers["x-watch-auditor-first-seq"], "41");
      assert.equal(r.headers["x-watch-auditor-last-seq"], "43");
      assert.equal(r.headers["x-watch-auditor-seq-ranges"], "41-43");
      assert.equal(r.headers["x-team"], "platform");
      assert.equal(r.headers["x-env"], "prod");
      assert.equal(r.headers["content-encoding"], undefined);
      assert.deepEqual(r.body, Buffer.concat(batch.flatMap((b) => [b.data, Buffer.from("\n")])));
    } finally {
      await sink.close();
    }
  });
});

test("gaps in the sequence show in X-Watch-Auditor-Seq-Ranges; URL userinfo becomes basic auth and never appears in the name", async () => {
  await withServer(async (s) => {
    const sink = createSink(s.url.replace("://", "://alice:p%40ss@") + "/x");
    try {
      assert.equal(sink.name, `${s.url}/x`);
      const batch = [...records(1, 3), ...records(7, 1), ...records(9, 2)];
      assert.deepEqual(await sink.send(batch, never), { kind: "ok" });
      const r = s.requests[0]!;
      assert.equal(r.headers["x-watch-auditor-seq-ranges"], "1-3,7,9-10");
      assert.equal(r.headers["idempotency-key"], "1-10");
      assert.equal(r.headers.authorization, "Basic " + Buffer.from("alice:p@ss").toString("base64"));

      // Thousands of gaps: the header would get too long, so the batch goes as several requests.
      const sparse = Array.from({ length: 2000 }, (_, i) => ({ seq: BigInt(1_000_000 + i * 2), data: Buffer.from(`{"i":${i}}`) }));
      assert.deepEqual(await sink.send(sparse, never), { kind: "ok" });
      const parts = s.requests.slice(1);
      assert.ok(parts.length > 1, `split into ${parts.length} requests`);
      for (const p of parts) assert.ok(String(p.headers["x-watch-auditor-seq-ranges"]).length <= 4000);
      const seqs = parts.flatMap((p) => String(p.headers["x-watch-auditor-seq-ranges"]).split(",").map(Number));
      assert.deepEqual(seqs, sparse.map((r) => Number(r.seq)));
      assert.equal(parts.reduce((n, p) => n + ndjsonLines(p.body).length, 0), 2000);
    } finally {
      await sink.close();
    }
  });
});

test("format=array with gzip sends a gzipped JSON array the server can decode", async () => {
  await withSink((s) => `${s.url}/bulk?format=array&gzip=true`, async (s, sink) => {
    const batch = records(1, 20, "x".repeat(100));
    assert.deepEqual(await sink.send(batch, never), { kind: "ok" });
    const r = s.requests[0]!;
    assert.equal(r.headers["content-encoding"], "gzip");
    assert.equal(r.headers["content-type"], "application/json");
    assert.ok(Number(r.headers["content-length"]) < r.body.length, "gzip made the body smaller");
    assert.deepEqual(JSON.parse(r.body.toString()), batch.map((b) => JSON.parse(b.data.toString())));
  });
});

test("bearer token is read from a file and re-read after it changes; a missing file is transient and the token never appears in reasons", async () => {
  await withServer(async (s) => {
    const tokenFile = join(dir, "token");
    await writeFile(tokenFile, "secret-one\n");
    const sink = createSink(`${s.url}/x?tokenFile=${encodeURIComponent(tokenFile)}`);
    try {
      assert.deepEqual(await sink.send(records(1, 1), never), { kind: "ok" });
      assert.equal(s.requests[0]!.headers.authorization, "Bearer secret-one");
      // Kubernetes rotates projected tokens by swapping the file in.
      await writeFile(`${tokenFile}.new`, "secret-two-longer");
      await rename(`${tokenFile}.new`, tokenFile);
      assert.deepEqual(await sink.send(records(2, 1), never), { kind: "ok" });
      assert.equal(s.requests[1]!.headers.authorization, "Bearer secret-two-longer");

      s.respond = (_r, res) => res.writeHead(401).end("unauthorized");
      assert.deepEqual(await sink.send(records(3, 1), never), { kind: "permanent", reason: "HTTP 401 Unauthorized: unauthorized" });

      await rm(tokenFile);
      const out = await sink.send(records(4, 1), never);
      assert.equal(out.kind, "transient");
      assert.match((out as { reason: string }).reason, /token file .*token: ENOENT/);
      assert.doesNotMatch((out as { reason: string }).reason, /secret/);
      assert.equal(s.requests.length, 3, "no request without the token");
    } finally {
      await sink.close();
    }
  });
});

test("status codes map to outcomes: 5xx/408/429 transient with Retry-After, other 4xx permanent with a 512-byte reason", async () => {
  await withSink((s) => `${s.url}/x`, async (s, sink) => {
    const cases: Array<[number, Record<string, string>, string, (o: SinkOutcome) => void]> = [
      [500, {}, "db down", (o) => assert.deepEqual(o, { kind: "transient", reason: "HTTP 500 Internal Server Error: db down" })],
      [503, { "Retry-After": new Date(Date.now() + 30_000).toUTCString() }, "", (o) => {
        assert.equal(o.kind, "transient");
        const ms = (o as { retryAfterMs: number }).retryAfterMs;
        assert.ok(ms > 25_000 && ms <= 30_000, `retryAfterMs from an HTTP date: ${ms}`);
      }],
      [429, { "Retry-After": "7" }, "slow down", (o) => assert.deepEqual(o, { kind: "transient", reason: "HTTP 429 Too Many Requests: slow down", retryAfterMs: 7000 })],
      [408, {}, "", (o) => assert.deepEqual(o, { kind: "transient", reason: "HTTP 408 Request Timeout" })],
      [400, {}, "bad\nrecord " + "y".repeat(2000), (o) => {
        assert.equal(o.kind, "permanent");
        const reason = (o as { reason: string }).reason;
        assert.ok(reason.startsWith("HTTP 400 Bad Request: bad record yyy"), reason);
        assert.ok(reason.length < 600 && reason.endsWith("…"), `reason cut to 512 bytes: ${reason.length}`);
        // Refused whatever the batch: bisection ends at the first record alone.
        assert.equal((o as { accepted?: number }).accepted, 0);
        assert.equal((o as { rejected?: number }).rejected, 1);
      }],
      [403, {}, "forbidden", (o) => assert.deepEqual(o, { kind: "permanent", reason: "HTTP 403 Forbidden: forbidden" })],
      [302, { Location: "/elsewhere" }, "", (o) => assert.match((o as { reason: string }).reason, /^HTTP 302 .*redirects are not followed/)],
    ];
    for (const [status, headers, body, check] of cases) {
      s.respond = (_r, res) => res.writeHead(status, headers).end(body);
      check(await sink.send(records(1, 2), never));
    }
  });
});

test("413 splits the batch and remembers the smaller size; a single record that is too large is permanent", async () => {
  await withSink((s) => `${s.url}/x`, async (s, sink) => {
    // The endpoint takes at most 3 records per request and refuses record 9 whatever the batch.
    s.respond = (r, res) => {
      const ns = numbers(r);
      if (ns.length > 3 || ns.includes(9)) res.writeHead(413).end();
      else res.writeHead(200).end();
    };
    const out = await sink.send(records(1, 10), never);
    assert.deepEqual(out, { kind: "permanent", reason: "HTTP 413 Payload Too Large for a single record", accepted: 8, rejected: 1 });
    // Accepted requests are the ones with ≤3 records and no 9; they arrive in order.
    const accepted = s.requests.filter((r) => numbers(r).length <= 3 && !numbers(r).includes(9));
    assert.deepEqual(accepted.flatMap(numbers), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.ok(s.requests.length > accepted.length, "some requests were refused with 413 and split");

    // Later batches start at the learned size: no 413 round trip first.
    const before = s.requests.length;
    assert.deepEqual(await sink.send(records(20, 4), never), { kind: "ok" });
    const sizes = s.requests.slice(before).map((r) => ndjsonLines(r.body).length);
    assert.ok(sizes.every((n) => n <= 3), `sizes ${sizes}`);
    assert.equal(sizes.reduce((a, b) => a + b, 0), 4);
  });
});

test("400/422 on a batch: the sink bisects to the one refused record and delivers the others around it", async () => {
  await withSink((s) => `${s.url}/x`, async (s, sink) => {
    // The receiver refuses any request holding record 23 (400) or record 40 (422).
    s.respond = (r, res) => {
      const ns = numbers(r);
      if (ns.includes(23)) res.writeHead(400).end("record 23 is bad");
      else if (ns.includes(40)) res.writeHead(422).end("record 40 is bad");
      else res.writeHead(200).end();
    };
    const delivered = (from: number): number[] =>
      s.requests.slice(from).flatMap((r) => (numbers(r).some((n) => n === 23 || n === 40) ? [] : numbers(r)));
    // Batch 1..50: records 1..22 go through, 23 is pinpointed.
    const out = await sink.send(records(1, 50), never);
    assert.deepEqual(out, { kind: "permanent", reason: "HTTP 400 Bad Request: record 23 is bad", accepted: 22, rejected: 1 });
    assert.deepEqual(delivered(0), Array.from({ length: 22 }, (_, i) => i + 1));
    // One request for the batch, then halving: at most log2(50) + 1 more.
    assert.ok(s.requests.length <= 1 + Math.ceil(Math.log2(50)) + 1, `requests ${s.requests.length}`);
    // The forwarder re-sends the rest (24..50): 40 is pinpointed the same way (422).
    const before = s.requests.length;
    const rest = await sink.send(records(24, 27), never);
    assert.deepEqual(rest, { kind: "permanent", reason: "HTTP 422 Unprocessable Entity: record 40 is bad", accepted: 16, rejected: 1 });
    const after = await sink.send(records(41, 10), never);
    assert.deepEqual(after, { kind: "ok" });
    assert.deepEqual(delivered(before), [...Array.from({ length: 16 }, (_, i) => i + 24), ...Array.from({ length: 10 }, (_, i) => i + 41)]);
    // A receiver that refuses only the combination: every record alone is fine, none is refused.
    let first = true;
    s.respond = (_r, res) => {
      res.writeHead(first ? 400 : 200).end();
      first = false;
    };
    assert.deepEqual(await sink.send(records(60, 5), never), { kind: "ok" });
  });
});

test("a server that never answers times out as transient; a refused connection is transient", async () => {
  await withServer(async (s) => {
    s.respond = () => undefined; // hang
    const sink = createSink(`${s.url}/x?timeout=300ms`);
    try {
      const t0 = Date.now();
      const out = await sink.send(records(1, 1), never);
      assert.equal(out.kind, "transient");
      assert.match((out as { reason: string }).reason, /no answer within 300ms/);
      assert.ok(Date.now() - t0 < 5000);
    } finally {
      await sink.close();
    }
  });

  const port = await closedPort();
  const sink = createSink(`http://127.0.0.1:${port}/x`);
  try {
    const out = await sink.send(records(1, 1), never);
    assert.equal(out.kind, "transient");
    assert.match((out as { reason: string }).reason, /ECONNREFUSED/);
  } finally {
    await sink.close();
  }
});

test("aborting the signal ends a send in flight as transient", async () => {
  await withServer(async (s) => {
    s.respond = () => undefined;
    const sink = createSink(`${s.url}/x`);
    try {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 100);
      const out = await sink.send(records(1, 1), ac.signal);
      assert.deepEqual(out, { kind: "transient", reason: "send aborted (exporter shutting down)" });
    } finally {
      await sink.close();
    }
  });
});

test("https with a private CA: trusted via caFile, refused (transient) without it", async () => {
  const ca = makeCertificates(dir);
  await withServer(async (s) => {
    const trusted = createSink(`${s.url}/x?caFile=${encodeURIComponent(ca.caFile)}`);
    const untrusted = createSink(`${s.url}/x`);
    try {
      assert.deepEqual(await trusted.send(records(5, 2), never), { kind: "ok" });
      assert.equal(s.requests.length, 1);
      assert.deepEqual(ndjsonLines(s.requests[0]!.body), records(5, 2).map((r) => JSON.parse(r.data.toString())));
      const out = await untrusted.send(records(7, 1), never);
      assert.equal(out.kind, "transient");
      assert.match((out as { reason: string }).reason, /certificate/i);
      assert.equal(s.requests.length, 1);
    } finally {
      await trusted.close();
      await untrusted.close();
    }
  }, { key: await readFile(ca.keyFile), cert: await readFile(ca.certFile) });
});

test("bad URLs and options are rejected naming the sink (without credentials) and the option", () => {
  const cases: Array<[string, object, RegExp]> = [
    ["http://u:hunter2@host/x?timeout=5x", {}, /^sink "http:\/\/host\/x": option "timeout": invalid duration "5x"/],
    ["http://host/x?gzipp=true", {}, /^sink "http:\/\/host\/x": unknown option "gzipp"/],
    ["http://host/x?format=csv", {}, /option "format": .*'ndjson' \| 'array'/],
    ["http://host/x?batchRecords=0", {}, /option "batchRecords": expected an integer between 1/],
    ["http://host/x?batchBytes=lots", {}, /option "batchBytes": expected a size/],
    ["http://host/x?maxFileBytes=1MiB", {}, /option "maxFileBytes" does not apply to http:\/\/ sinks/],
    ["http://host/x?header=Content-Length:5", {}, /header "Content-Length" is set by the sink/],
    ["http://host/x?header=novalue", {}, /option "header": expected Name:value/],
    ["http://host/x?gzip=true", { gzip: false }, /option "gzip" is set both in the URL and in the options/],
    ["http://host/x?caFile=/ca.pem", {}, /option "caFile" needs an https:\/\/ URL/],
    ["https://host/x?caFile=/nonexistent/ca.pem", {}, /option "caFile": cannot read \/nonexistent\/ca.pem: ENOENT/],
    ["ftp://host/x", {}, /^sink "ftp:\/\/host\/x": unsupported scheme "ftp:"/],
    ["not a url", {}, /^sink "not a url": not a valid URL/],
  ];
  for (const [url, opts, re] of cases) {
    assert.throws(
      () => createSink(url, opts),
      (err: Error & { exitCode?: number }) => {
        assert.match(err.message, re, url);
        assert.equal(err.exitCode, 2, "a usage error");
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      },
    );
  }
});

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function makeCertificates(into: string): { caFile: string; keyFile: string; certFile: string } {
  const caKey = join(into, "ca.key");
  const caFile = join(into, "ca.pem");
  const keyFile = join(into, "server.key");
  const csr = join(into, "server.csr");
  const certFile = join(into, "server.pem");
  const ext = join(into, "ext.cnf");
  const run = (...args: string[]): void => void execFileSync("openssl", args, { stdio: "pipe" });
  run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", caFile, "-days", "1", "-subj", "/CN=watch-auditor test CA");
  run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", csr, "-subj", "/CN=127.0.0.1");
  execFileSync("sh", ["-c", `printf 'subjectAltName=IP:127.0.0.1\\n' > '${ext}'`]);
  run("x509", "-req", "-in", csr, "-CA", caFile, "-CAkey", caKey, "-CAcreateserial", "-out", certFile, "-days", "1", "-extfile", ext);
  return { caFile, keyFile, certFile };
}
