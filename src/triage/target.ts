/**
 * The `-config` target of a certreq command: a URL (an enrollment web service — or anything that answers a
 * POST), a CA config string `host\CA name`, `-` (the local machine's CA), or nothing.
 */
import { isIP } from 'node:net';

export type ConfigTarget =
  | { kind: 'url'; url: string; scheme: string; host: string; host_type: 'ipv4' | 'ipv6' | 'name'; port: number; path: string; private_address?: boolean; paste_or_tunnel_service?: boolean; valid: true }
  | { kind: 'url'; url: string; valid: false }
  | { kind: 'ca'; ca_host: string; ca_name: string }
  | { kind: 'host'; host: string }
  | { kind: 'local_ca' }
  | { kind: 'empty' };

const MAX_TARGET_CHARS = 4096;

/** Hosting, paste and request-catcher services seen as certreq download/exfil endpoints. Suffix match. */
const PASTE_OR_TUNNEL = [
  'pastebin.com', 'raw.githubusercontent.com', 'gist.githubusercontent.com', 'webhook.site', 'requestbin.net', 'pipedream.net',
  'ngrok.io', 'ngrok-free.app', 'trycloudflare.com', 'transfer.sh', 'paste.ee', 'hastebin.com', 'discord.com', 'discordapp.com',
  'interact.sh', 'oast.pro', 'oast.fun', 'burpcollaborator.net', 'file.io', 'temp.sh', 'serveo.net', 'localhost.run',
];

export function parseConfigTarget(value: string): ConfigTarget {
  const raw = value.length > MAX_TARGET_CHARS ? value.slice(0, MAX_TARGET_CHARS) : value.trim();
  if (raw === '') return { kind: 'empty' };
  if (raw === '-') return { kind: 'local_ca' };
  const scheme = /^([a-z][a-z0-9+.-]{0,15}):\/\//i.exec(raw);
  if (scheme) return parseUrl(raw, scheme[1]!.toLowerCase());
  const slash = raw.indexOf('\\');
  if (slash > 0) return { kind: 'ca', ca_host: raw.slice(0, slash), ca_name: raw.slice(slash + 1) };
  return { kind: 'host', host: raw };
}

function parseUrl(raw: string, scheme: string): ConfigTarget {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { kind: 'url', url: raw, valid: false };
  }
  const bare = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const ipVersion = isIP(bare);
  const host_type = ipVersion === 4 ? 'ipv4' : ipVersion === 6 ? 'ipv6' : 'name';
  const port = u.port !== '' ? Number(u.port) : scheme === 'https' ? 443 : scheme === 'http' ? 80 : 0;
  const target: ConfigTarget = { kind: 'url', url: u.href, scheme, host: bare, host_type, port, path: u.pathname, valid: true };
  if (host_type !== 'name' && isPrivateAddress(bare)) target.private_address = true;
  if (host_type === 'name' && PASTE_OR_TUNNEL.some((d) => bare === d || bare.endsWith(`.${d}`))) target.paste_or_tunnel_service = true;
  return target;
}

/** RFC 1918, loopback, link-local, CGNAT, IPv6 ULA/loopback/link-local. */
export function isPrivateAddress(ip: string): boolean {
  if (isIP(ip) === 4) {
    const [a, b] = ip.split('.').map(Number) as [number, number];
    return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127);
  }
  const v6 = ip.toLowerCase();
  return v6 === '::1' || v6.startsWith('fc') || v6.startsWith('fd') || v6.startsWith('fe80');
}

/** One-line text of a target, for reasons. */
export function describeTarget(t: ConfigTarget): string {
  switch (t.kind) {
    case 'url':
      return t.url;
    case 'ca':
      return `CA ${t.ca_host}\\${t.ca_name}`;
    case 'host':
      return `CA host ${t.host}`;
    case 'local_ca':
      return 'the local CA';
    case 'empty':
      return 'an empty -config';
  }
}
