/**
 * Splunk HTTP Event Collector forwarding: one event per request to `/services/collector/event` with
 * `Authorization: Splunk <token>`, in the HEC envelope (time in epoch seconds, host, source, sourcetype, index).
 * Indexer acknowledgement is not used: a 200 with code 0 counts as delivered.
 */
import type { ForwardTls, SplunkOptions } from './config.js';
import { post, refusal, requestError } from './http.js';
import type { Delivery, DeliveryResult, ForwardItem } from './types.js';

export function hecEnvelope(item: ForwardItem, o: SplunkOptions): Record<string, unknown> {
  const ms = Date.parse(item.time);
  return {
    time: Number.isFinite(ms) ? ms / 1000 : Date.now() / 1000,
    host: item.host,
    source: o.source,
    sourcetype: o.sourcetype,
    ...(o.index ? { index: o.index } : {}),
    event: item.doc,
  };
}

export class SplunkSender implements Delivery {
  constructor(
    private readonly o: SplunkOptions,
    private readonly tls: ForwardTls | undefined,
    private readonly timeoutMs: number,
  ) {}

  async deliver(item: ForwardItem): Promise<DeliveryResult> {
    const url = `${this.o.url}/services/collector/event`;
    const body = Buffer.from(JSON.stringify(hecEnvelope(item, this.o)), 'utf8');
    let res;
    try {
      res = await post(url, { 'content-type': 'application/json', authorization: `Splunk ${this.o.token}` }, body, { timeoutMs: this.timeoutMs, maxResponseBytes: 64 << 10, ...(this.tls ? { tls: this.tls } : {}) });
    } catch (err) {
      return { ok: false, final: false, error: `${url}: ${requestError(err, this.timeoutMs)}` };
    }
    const code = hecCode(res.text);
    if (res.status >= 200 && res.status < 300 && (code === undefined || code === 0)) return { ok: true, detail: { status: res.status } };
    // 400 (bad data, code 5-7/12...) cannot get better by retrying; a 401/403 (token) can once someone fixes it.
    const final = refusal(res.status);
    return { ok: false, final, error: `HTTP ${res.status} from ${url}: ${res.text.slice(0, 300)}`, detail: { status: res.status, ...(code !== undefined ? { code } : {}) } };
  }

  close(): void {}
}

function hecCode(text: string): number | undefined {
  try {
    const c = (JSON.parse(text) as { code?: unknown }).code;
    return typeof c === 'number' ? c : undefined;
  } catch {
    return undefined; // not JSON (a proxy's error page): the HTTP status decides alone
  }
}
