// A throwaway CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI.
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TlsMaterial {
  caFile: string;
  caPem: string;
  certPem: string;
  keyPem: string;
}

export async function generateTls(dir: string): Promise<TlsMaterial> {
  const p = (f: string) => join(dir, f);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", ["req", "-x509", ...ec, "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "2", "-subj", "/CN=watch-auditor-test-ca"]);
  await run("openssl", ["req", ...ec, "-keyout", p("server.key"), "-out", p("server.csr"), "-subj", "/CN=127.0.0.1"]);
  await writeFile(
    p("server.ext"),
    "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
  );
  await run("openssl", [
    "x509", "-req", "-in", p("server.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial",
    "-out", p("server.crt"), "-days", "2", "-extfile", p("server.ext"),
  ]);
  const [caPem, certPem, keyPem] = await Promise.all([readFile(p("ca.crt"), "utf8"), readFile(p("server.crt"), "utf8"), readFile(p("server.key"), "utf8")]);
  return { caFile: p("ca.crt"), caPem, certPem, keyPem };
}

/** A client certificate (clientAuth) signed by the CA that generateTls(dir) made in the same dir. */
export async function generateClientCert(dir: string, cn: string): Promise<{ certFile: string; keyFile: string }> {
  const p = (f: string) => join(dir, f);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", ["req", ...ec, "-keyout", p(`${cn}.key`), "-out", p(`${cn}.csr`), "-subj", `/CN=${cn}`]);
  await writeFile(p(`${cn}.ext`), "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");
  await run("openssl", ["x509", "-req", "-in", p(`${cn}.csr`), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial", "-out", p(`${cn}.crt`), "-days", "2", "-extfile", p(`${cn}.ext`)]);
  return { certFile: p(`${cn}.crt`), keyFile: p(`${cn}.key`) };
}
