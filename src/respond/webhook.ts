/**
 * Webhook delivery: one HTTP attempt with a timeout and an HMAC-SHA256 signature of the exact body bytes.
 * Retries, backoff and dead-lettering belong to the runner, which calls this once per attempt.
 */
import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { urlAllowed, type WebhookSpec } from './config.js';

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
  // Checked again at delivery: the allow list may have been tightened since the action was planned.
  if (spec.allow.length > 0 && !urlAllowed(req.url, spec.allow)) {
    return { ok: false, detail: {}, error: `${safeUrl(req.url)} is not in the workflow's allow list; not sent` };
  }
  const started = Date.now();
  try {
    const res = await send(req, headers, spec.timeoutMs);
    const detail = { status: res.status, ms: Date.now() - started, response: res.text };
    return res.status >= 200 && res.status < 300 ? { ok: true, detail } : { ok: false, detail, error: `HTTP ${res.status} from ${safeUrl(req.url)}` };
  } catch (err) {
    const e = err as Error;
    const why = e.name === 'TimeoutError' || e.name === 'AbortError' ? `timed out after ${spec.timeoutMs} ms` : `${e.message}${causeOf(e)}`;
    return { ok: false, detail: { ms: Date.now() - started }, error: `${safeUrl(req.url)}: ${why}` };
  }
}

/**
 * One request with the path and query exactly as rendered: fetch() would parse the URL and resolve
 * `%2E%2E` segments that came from event values, so node:http(s) is used with the raw path. Redirects are
 * not followed (a 3xx is a failed attempt); the response text is capped.
 */
function send(req: WebhookRequest, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; text: string }> {
  const m = /^(https?):\/\/([^/?#]*)([^#]*)/i.exec(req.url);
  if (!m) return Promise.reject(new Error('not an http(s) URL'));
  const origin = new URL(`${m[1]}://${m[2]}`);
  const path = m[3] === '' ? '/' : m[3]!.startsWith('/') ? m[3]! : `/${m[3]}`;
  const body = Buffer.from(req.body, 'utf8');
  const request = origin.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = request(
      {
        protocol: origin.protocol,
        hostname: origin.hostname.replace(/^\[|\]$/g, ''),
        port: origin.port || undefined,
        path,
        method: req.method,
        headers: { ...headers, 'content-length': String(body.length) },
        ...(origin.username ? { auth: `${decodeURIComponent(origin.username)}:${decodeURIComponent(origin.password)}` } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < MAX_RESPONSE_CHARS) text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: text.slice(0, MAX_RESPONSE_CHARS) }));
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(body);
  });
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
