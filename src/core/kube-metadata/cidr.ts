import { isIP } from "node:net";

/** A named network such as `10.0.0.0/8=corp`: unknown IPs inside it are labelled with the name instead of `world`. */
export interface NamedCidr {
  cidr: string;
  name: string;
  family: 4 | 6;
  bits: number;
  network: bigint;
}

function ipv4ToBigInt(ip: string): bigint {
  const parts = ip.split(".");
  let n = 0n;
  for (const p of parts) n = (n << 8n) | BigInt(Number(p));
  return n;
}

function ipv6ToBigInt(ip: string): bigint {
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  let s = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const n = Number(ipv4ToBigInt(v4[1]!));
    s = s.slice(0, v4.index) + ((n >>> 16) & 0xffff).toString(16) + ":" + (n & 0xffff).toString(16);
  }
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const fill = tail !== undefined ? 8 - h.length - t.length : 0;
  const groups = [...h, ...Array<string>(fill).fill("0"), ...t];
  let n = 0n;
  for (const g of groups) n = (n << 16n) | BigInt(parseInt(g, 16));
  return n;
}

/** Parses `CIDR=NAME` (the --cidr-name flag). Throws with a message quoting the input. */
export function parseNamedCidr(spec: string): NamedCidr {
  const eq = spec.indexOf("=");
  if (eq <= 0 || eq === spec.length - 1) throw new Error(`expected CIDR=NAME such as 10.0.0.0/8=corp, got "${spec}"`);
  const cidr = spec.slice(0, eq).trim();
  const name = spec.slice(eq + 1).trim();
  if (!/^[A-Za-z0-9_.:-]{1,63}$/.test(name)) throw new Error(`name in "${spec}" must be 1-63 characters of [A-Za-z0-9_.:-]`);
  const slash = cidr.indexOf("/");
  if (slash < 0) throw new Error(`"${cidr}" in "${spec}" is not a CIDR (missing /prefix)`);
  const addr = cidr.slice(0, slash);
  const family = isIP(addr);
  if (family !== 4 && family !== 6) throw new Error(`"${addr}" in "${spec}" is not an IP address`);
  const maxBits = family === 4 ? 32 : 128;
  const bitsText = cidr.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > maxBits) throw new Error(`prefix length "/${bitsText}" in "${spec}" must be 0-${maxBits}`);
  const bits = Number(bitsText);
  const n = family === 4 ? ipv4ToBigInt(addr) : ipv6ToBigInt(addr);
  return { cidr, name, family, bits, network: mask(n, bits, maxBits) };
}

function mask(n: bigint, bits: number, maxBits: number): bigint {
  if (bits === 0) return 0n;
  const shift = BigInt(maxBits - bits);
  return (n >> shift) << shift;
}

/** The most specific configured network containing ip, if any. */
export function matchCidr(cidrs: readonly NamedCidr[], ip: string): NamedCidr | undefined {
  if (cidrs.length === 0) return undefined;
  const family = isIP(ip);
  if (family !== 4 && family !== 6) return undefined;
  const n = family === 4 ? ipv4ToBigInt(ip) : ipv6ToBigInt(ip);
  let best: NamedCidr | undefined;
  for (const c of cidrs) {
    if (c.family !== family) continue;
    if (mask(n, c.bits, family === 4 ? 32 : 128) === c.network && (!best || c.bits > best.bits)) best = c;
  }
  return best;
}
