/**
 * Response actions as the console reads them. Every field of the API's action object is read here and only
 * here, so an API rename is a one-line change.
 */
import { arr, obj, str, type Doc } from './api.js';

export interface ActionView {
  id: string;
  alertId: string;
  workflow: string;
  kind: string;
  status: string;
  dryRun: boolean;
  destructive: boolean;
  attempts: number;
  maxAttempts: number;
  lastError: string | undefined;
  createdAt: number | undefined;
  updatedAt: number | undefined;
  request: ActionRequest;
  result: Doc | undefined;
}

export interface StopTargetView {
  host: string | undefined;
  pid: string | undefined;
  name: string | undefined;
  image: string | undefined;
}

/** What the runner executes, exactly as stored when the action was planned. */
export interface ActionRequest {
  target: StopTargetView | undefined;
  command: { argv: string[]; env: [string, string][]; stdinBytes: number } | undefined;
  webhook: { method: string; url: string; body: string } | undefined;
  /** Planning refused to build a request (e.g. a protected process, a URL outside the allow list). */
  refused: string | undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** An ISO 8601 time of the API as epoch milliseconds. */
function epochMs(v: unknown): number | undefined {
  const ms = typeof v === 'string' ? Date.parse(v) : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

function requestOf(raw: Doc | undefined): ActionRequest {
  const t = obj(raw?.['target']);
  const c = obj(raw?.['command']);
  const w = obj(raw?.['webhook']);
  return {
    target: t ? { host: str(t['host']), pid: str(t['pid']), name: str(t['name']), image: str(t['image']) } : undefined,
    command: c
      ? {
          argv: arr(c['argv']).map((x) => String(x)),
          env: Object.entries(obj(c['env']) ?? {}).map(([k, v]) => [k, String(v)] as [string, string]),
          stdinBytes: new TextEncoder().encode(str(c['stdin']) ?? '').length,
        }
      : undefined,
    webhook: w ? { method: str(w['method']) ?? 'POST', url: str(w['url']) ?? '', body: str(w['body']) ?? '' } : undefined,
    refused: str(raw?.['refused']),
  };
}

/** The one adapter from the API's action JSON. */
export function toAction(raw: Doc): ActionView {
  return {
    id: str(raw['id']) ?? '',
    alertId: str(raw['alert_id']) ?? '',
    workflow: str(raw['workflow']) ?? '',
    kind: str(raw['kind']) ?? '',
    status: str(raw['status']) ?? '',
    dryRun: raw['dry_run'] === true,
    destructive: raw['destructive'] === true,
    attempts: num(raw['attempts']) ?? 0,
    maxAttempts: num(raw['max_attempts']) ?? 0,
    lastError: str(raw['last_error']),
    createdAt: epochMs(raw['created_at']),
    updatedAt: epochMs(raw['updated_at']),
    request: requestOf(obj(raw['request'])),
    result: obj(raw['result']),
  };
}

export type Verification = { ok: true; evidence: string } | { ok: false; reason: string };

/** GET /api/actions/:id adds the audit trail and, while awaiting a decision, what verification finds now. */
export function verificationOf(raw: Doc): Verification | undefined {
  const v = obj(raw['verification']);
  if (!v) return undefined;
  if (v['ok'] === true) {
    const s = obj(v['start']);
    const parts = [str(s?.['event']), str(s?.['time']) ? `at ${str(s?.['time'])}` : undefined, str(s?.['image'])].filter(Boolean);
    return { ok: true, evidence: `process start observed${parts.length ? `: ${parts.join(' ')}` : ''}` };
  }
  return { ok: false, reason: str(v['reason']) ?? 'not corroborated' };
}

/** Statuses after which nothing more happens to an action. */
export const FINAL_STATUSES = new Set(['succeeded', 'failed', 'rejected', 'dead_letter', 'dry_run']);
