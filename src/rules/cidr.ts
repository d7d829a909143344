/**
 * IPv4/IPv6 addresses and CIDR networks as bigints, for the `cidr` modifier.
 */
import type { SigmaValue } from './model.js';

export type CidrValue = Extract<SigmaValue, { kind: 'cidr' }>;

/** Parses `a.b.c.d/n` or an IPv6 network; a bare address is a /32 or /128. Throws on bad input. */
export function parseCidr(text: string): CidrValue {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const addr = parseIp(addrText);
  if (!addr) throw new Error(`'${text}' is not an IPv4 or IPv6 network`);
  const bits = addr.version === 4 ? 32 : 128;
  const prefix = slash < 0 ? bits : Number(text.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) throw new Error(`'${text}' has a bad prefix length`);
  return { kind: 'cidr', version: addr.version, network: addr.value & mask(prefix, bits), prefix, text };
}

function mask(prefix: number, bits: number): bigint {
  if (prefix === 0) return 0n;
  return ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
}

/** True when `ip` (any rendering: brackets, zone id, IPv4-mapped IPv6) lies in the network. */
export function cidrContains(net: CidrValue, ip: string): boolean {
  let addr = parseIp(ip);
  if (!addr) return false;
  // ::ffff:a.b.c.d is the IPv4 address a.b.c.d.
  if (addr.version === 6 && net.version === 4 && addr.value >> 32n === 0xffffn) addr = { version: 4, value: addr.value & 0xffffffffn };
  if (addr.version !== net.version) return false;
  return (addr.value & mask(net.prefix, net.version === 4 ? 32 : 128)) === net.network;
}

export function parseIp(text: string): { version: 4 | 6; value: bigint } | undefined {
  let t = text.trim();
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  const zone = t.indexOf('%');
  if (zone >= 0) t = t.slice(0, zone);
  const v4 = parseIpv4(t);
  if (v4 !== undefined) return { version: 4, value: v4 };
  const v6 = parseIpv6(t);
  return v6 === undefined ? undefined : { version: 6, value: v6 };
}

function parseIpv4(t: string): bigint | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(t);
  if (!m) return undefined;
  let v = 0n;
  for (let i = 1; i <= 4; i++) {
    const n = Number(m[i]);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseIpv6(t: string): bigint | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(t) || !t.includes(':')) return undefined;
  const halves = t.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(p)) return undefined;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  let v = 0n;
  for (const g of all) v = (v << 16n) | BigInt(g);
  return v;
}
