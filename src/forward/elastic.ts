/**
 * Elasticsearch forwarding through `_bulk`. Alerts handed over together (the runner attempts several due
 * actions at once) go in one NDJSON request; each item's answer decides its own action's fate. A new alert is
 * sent with `create` and the alert id as `_id` (a repeated delivery then answers 409, which counts as done); a
 * later state is sent with `index` and the same `_id`, replacing the document.
 */
import type { ElasticOptions, ForwardTls } from './config.js';
import { post, refusal, requestError } from './http.js';
import type { Delivery, DeliveryResult, ForwardItem } from './types.js';

/** How long the first alert of a batch waits for others (the runner hands its due actions over within it). */
const LINGER_MS = 5;

interface Waiting {
  item: ForwardItem;
  resolve: (r: DeliveryResult) => void;
}

interface BulkItem {
  status?: number;
  error?: { type?: string; reason?: string };
}

export function bulkBody(items: ForwardItem[], index: string): Buffer {
  const lines: string[] = [];
  for (const it of items) {
    lines.push(JSON.stringify({ [it.update ? 'index' : 'create']: { _index: index, _id: it.alertId } }), JSON.stringify(it.doc));
  }
  // _bulk requires the last line to end with a newline too.
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

export class ElasticSender implements Delivery {
  private waiting: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: ElasticOptions,
    private readonly tls: ForwardTls | undefined,
    private readonly timeoutMs: number,
  ) {}

  deliver(item: ForwardItem): Promise<DeliveryResult> {
    return new Promise((resolve) => {
      this.waiting.push({ item, resolve });
      if (this.waiting.length >= this.o.batchSize) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), LINGER_MS);
    });
  }

  close(): void {
    this.flush();
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.o.batchSize);
      void this.send(batch.map((w) => w.item)).then((results) => batch.forEach((w, i) => w.resolve(results[i]!)));
    }
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = { 'content-type': 'application/x-ndjson', accept: 'application/json' };
    const auth = this.o.auth;
    if (auth && 'apiKey' in auth) h.authorization = `ApiKey ${auth.apiKey}`;
    else if (auth) h.authorization = `Basic ${Buffer.from(`${auth.basic.username}:${auth.basic.password}`, 'utf8').toString('base64')}`;
    return h;
  }

  /** One _bulk request; a result per item, in order. */
  async send(items: ForwardItem[]): Promise<DeliveryResult[]> {
    const all = (r: DeliveryResult): DeliveryResult[] => items.map(() => r);
    let res;
    try {
      // Elasticsearch answers about 200 bytes per item; the cap bounds what a confused server can make us hold.
      res = await post(`${this.o.url}/_bulk`, this.headers(), bulkBody(items, this.o.index), { timeoutMs: this.timeoutMs, maxResponseBytes: (64 << 10) + 2048 * items.length, ...(this.tls ? { tls: this.tls } : {}) });
    } catch (err) {
      return all({ ok: false, final: false, error: `${this.o.url}/_bulk: ${requestError(err, this.timeoutMs)}` });
    }
    if (res.status < 200 || res.status >= 300) {
      const final = refusal(res.status);
      return all({ ok: false, final, error: `HTTP ${res.status} from ${this.o.url}/_bulk: ${res.text.slice(0, 300)}`, detail: { status: res.status } });
    }
    let parsed: { items?: Record<string, BulkItem>[] };
    try {
      parsed = JSON.parse(res.text) as typeof parsed;
    } catch {
      return all({ ok: false, final: false, error: `${this.o.url}/_bulk answered ${res.status} with a body that is not JSON${res.cut ? ' (too long)' : ''}` });
    }
    if (!Array.isArray(parsed.items) || parsed.items.length !== items.length) {
      return all({ ok: false, final: false, error: `${this.o.url}/_bulk answered ${parsed.items?.length ?? 'no'} items for ${items.length}` });
    }
    return parsed.items.map((entry, i) => itemResult(entry, items[i]!));
  }
}

function itemResult(entry: Record<string, BulkItem>, item: ForwardItem): DeliveryResult {
  const r = entry[item.update ? 'index' : 'create'] ?? Object.values(entry)[0] ?? {};
  const status = r.status ?? 0;
  if (status >= 200 && status < 300) return { ok: true, detail: { status } };
  // A create that finds the document already there: an earlier attempt got through (at-least-once delivery).
  if (!item.update && status === 409) return { ok: true, detail: { status, already_indexed: true } };
  const why = `${r.error?.type ?? 'error'}: ${(r.error?.reason ?? '').slice(0, 300)}`;
  return { ok: false, final: refusal(status), error: `item status ${status} ${why}`, detail: { status } };
}
