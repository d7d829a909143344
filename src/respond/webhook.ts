/**
 * Webhook delivery: one HTTP attempt with a timeout and an HMAC-SHA256 signature of the exact body bytes.
 * Retries, backoff and dead-lettering belong to the runner, which calls this once per attempt.
 */
import { createHmac } from 'node:crypto';
import type { WebhookSpec } from './config.js';

export interface WebhookRequest {
  url: string;
  method: 'POST' | 'PUT';
  /** The exact body sent (and signed). */
  body: string;
}

export interface AttemptResult {
  ok: boolean;
  /** Short description for the audit log and the action record. */
  detail: Record<string, unknown>;
  error?: string;
}

const MAX_RESPONSE_CHARS = 4096;

export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export async function deliverWebhook(spec: WebhookSpec, req: WebhookRequest, deliveryId: string): Promise<AttemptResult> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'procwatch',
    'x-procwatch-delivery': deliveryId,
    ...spec.headers,
  };
  if (spec.secret) headers[spec.signatureHeader] = signBody(spec.secret, req.body);
  const started = Date.now();
  try {
    const res = await fetch(req.url, { method: req.method, headers, body: req.body, signal: AbortSignal.timeout(spec.timeoutMs), redirect: 'manual' });
    const text = (await res.text()).slice(0, MAX_RESPONSE_CHARS);
    const detail = { status: res.status, ms: Date.now() - started, response: text };
    return res.ok ? { ok: true, detail } : { ok: false, detail, error: `HTTP ${res.status} from ${safeUrl(req.url)}` };
  } catch (err) {
    const e = err as Error;
    const why = e.name === 'TimeoutError' ? `timed out after ${spec.timeoutMs} ms` : `${e.message}${causeOf(e)}`;
    return { ok: false, detail: { ms: Date.now() - started }, error: `${safeUrl(req.url)}: ${why}` };
  }
}

function causeOf(e: Error): string {
  const c = (e as { cause?: { code?: string; message?: string } }).cause;
  return c ? ` (${c.code ?? c.message ?? ''})` : '';
}

/** The URL without credentials or query (which may carry tokens), for messages. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
