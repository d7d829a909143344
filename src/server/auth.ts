/**
 * Token authentication in every form the supported clients send it:
 *   Authorization: Bearer <token>            (API, console, Prometheus, generic shippers)
 *   Authorization: Splunk <token>            (Splunk HEC clients)
 *   Authorization: Basic base64(user:<token>) (Elasticsearch outputs: any user name, the token as password)
 *   Authorization: ApiKey base64(id:<token>) or ApiKey <token> (Elasticsearch API-key outputs)
 * Tokens are compared in constant time (over their SHA-256 digests, so lengths leak nothing either); a token
 * configured as `hash: sha256:<hex>` is that digest, so the config need not hold the token itself.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiToken } from '../service/config.js';
import { expandScopes, type Scope } from '../service/roles.js';

export type AuthResult = { ok: true; actor: string; scopes: Scope[] } | { ok: false; status: 401 | 403; reason: string };

interface Known {
  name: string;
  digest: Buffer;
  scopes: Scope[];
}

export class Authenticator {
  private readonly digests: Known[];

  constructor(tokens: ApiToken[]) {
    this.digests = tokens.map((t) => ({
      name: t.name,
      digest: t.sha256 !== undefined ? Buffer.from(t.sha256, 'hex') : sha(t.token ?? ''),
      scopes: expandScopes(t.scopes ?? ['admin']),
    }));
  }

  get size(): number {
    return this.digests.length;
  }

  check(header: string | undefined): AuthResult {
    if (!header) return { ok: false, status: 401, reason: 'missing Authorization header (Bearer, Splunk, Basic or ApiKey with the procwatch token)' };
    const candidate = extractToken(header);
    if (candidate === undefined) return { ok: false, status: 401, reason: 'unsupported Authorization scheme (use Bearer, Splunk, Basic or ApiKey)' };
    const d = sha(candidate);
    let hit: Known | undefined;
    // Compare against every token (no early exit) so timing does not reveal which one matched.
    for (const t of this.digests) if (timingSafeEqual(t.digest, d) && hit === undefined) hit = t;
    return hit !== undefined ? { ok: true, actor: hit.name, scopes: hit.scopes } : { ok: false, status: 403, reason: 'invalid token' };
  }
}

/** `sha256:<hex>` of a token, as the config's `hash:` takes it. */
export function tokenHash(token: string): string {
  return `sha256:${sha(token).toString('hex')}`;
}

function sha(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export function extractToken(header: string): string | undefined {
  const m = /^\s*(\w+)\s+(\S+)\s*$/.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  const value = m[2]!;
  if (scheme === 'bearer' || scheme === 'splunk') return value;
  if (scheme === 'basic' || scheme === 'apikey') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) return decoded.slice(colon + 1);
    return scheme === 'apikey' ? value : undefined;
  }
  return undefined;
}
