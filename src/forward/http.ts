/**
 * One HTTP(S) POST for the HTTP destinations (Elasticsearch, Splunk HEC): TLS options per destination, a
 * timeout for the whole exchange, the response text capped, no redirects followed.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ForwardTls } from './config.js';

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** True when the response was longer than the cap (text is then cut). */
  cut: boolean;
}

export function post(url: string, headers: Record<string, string>, body: Buffer, o: { tls?: ForwardTls; timeoutMs: number; maxResponseBytes: number }): Promise<HttpAnswer> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = request(
      {
        protocol: u.protocol,
        hostname: u.hostname.replace(/^\[|\]$/g, ''),
        port: u.port || undefined,
        path: `${u.pathname}${u.search}`,
        method: 'POST',
        headers: { 'user-agent': 'procwatch', ...headers, 'content-length': String(body.length) },
        signal: AbortSignal.timeout(o.timeoutMs),
        ...(u.protocol === 'https:'
          ? {
              rejectUnauthorized: o.tls?.verify ?? true,
              ...(o.tls?.ca ? { ca: o.tls.ca } : {}),
              ...(o.tls?.cert ? { cert: o.tls.cert, key: o.tls.key } : {}),
              ...(o.tls?.serverName ? { servername: o.tls.serverName } : {}),
            }
          : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let cut = false;
        res.on('data', (chunk: Buffer) => {
          if (size >= o.maxResponseBytes) {
            cut = true;
            return;
          }
          chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', () => {
          const all = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: all.subarray(0, o.maxResponseBytes).toString('utf8'), cut: cut || all.length > o.maxResponseBytes });
        });
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(body);
  });
}

/** Why a request failed, for the action record (timeouts named as such). */
export function requestError(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `timed out after ${timeoutMs} ms`;
  const code = (e as { code?: string }).code ?? e.cause?.code;
  return code && !e.message.includes(code) ? `${e.message} (${code})` : e.message;
}

/**
 * A refusal of the content itself (400, 413, 422 ...): retrying the same request cannot help. Not 401/403/404
 * (credentials, privileges or a path someone can fix), 408/429 (busy) or anything outside 4xx (a 3xx is a
 * misdirected address, 5xx overload).
 */
export function refusal(status: number): boolean {
  return status >= 400 && status < 500 && ![401, 403, 404, 408, 429].includes(status);
}
