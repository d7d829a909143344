/**
 * The console's API client: the token travels in the Authorization header (never in a URL), kept in this tab's
 * sessionStorage only. A refused token signs the console out.
 */
const TOKEN_KEY = 'procwatch.token';

export function savedToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function saveToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** Called when the server refuses the token (the app shell goes back to the sign-in page). */
let onRefused: () => void = () => {};
export function whenRefused(f: () => void): void {
  onRefused = f;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}, token = savedToken()): Promise<T> {
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  // A body that is not JSON (a proxy's error page) is reported by its status below.
  const body: unknown = res.status === 204 ? null : await res.json().catch((err: unknown) => (err instanceof SyntaxError ? null : Promise.reject(err)));
  const msg = body && typeof body === 'object' && 'error' in body ? String((body as { error: unknown }).error) : `HTTP ${res.status}`;
  // A valid token without the scope a request needs stays signed in; a missing or invalid one is signed out.
  if (res.status === 403 && /lacks the \w+ scope/.test(msg)) throw new ApiError(msg, res.status);
  if (res.status === 401 || res.status === 403) {
    onRefused();
    throw new ApiError('the server refused the token', res.status);
  }
  if (!res.ok) throw new ApiError(msg, res.status);
  return body as T;
}

/** A JSON object from the API, read defensively (documents are free-form). */
export type Doc = Record<string, unknown>;

// The API's types come from the server's contract (one declaration; snake_case payloads).
export type {
  ActionItem,
  AlertDetail,
  AlertItem,
  AuditItem,
  IncidentDetail,
  IncidentItem,
  Me,
  Page,
  RuleItem as RuleMeta,
  Stats,
  SuppressionBody,
  SuppressionCreated,
  SuppressionItem,
  SuppressionList,
  SuppressionPreview,
} from '../../src/server/contract.js';
import type { RuleItem as RuleMeta } from '../../src/server/contract.js';

let rulesCache: Promise<Map<string, RuleMeta>> | undefined;
/** The loaded rules by id (titles and levels for "why it fired"), fetched once per page load. */
export function rulesById(): Promise<Map<string, RuleMeta>> {
  rulesCache ??= api<{ items: RuleMeta[] }>('/api/rules').then(
    (r) => new Map(r.items.map((m) => [m.id, m])),
    (err: unknown) => {
      rulesCache = undefined;
      throw err;
    },
  );
  return rulesCache;
}

/** `obj.a.b.c` of a free-form document, or undefined. */
export function get(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Doc)[k];
  }
  return cur;
}

export function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function obj(v: unknown): Doc | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Doc) : undefined;
}
