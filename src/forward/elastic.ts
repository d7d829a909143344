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
  return Buffer.from(items.map((it) => bulkLines(it, index)).join(''), 'utf8');
}

/** One item's action and document lines, each ending with a newline (_bulk requires the last one too). */
function bulkLines(it: ForwardItem, index: string): string {
  return `${JSON.stringify({ [it.update ? 'index' : 'create']: { _index: index, _id: it.alertId } })}\n${JSON.stringify(it.doc)}\n`;
}

/**
 * Items cut into _bulk batches: at most `size` items and `bytes` bytes each (an item larger than `bytes` goes
 * alone). Returns the batches as index ranges into `items`.
 */
export function bulkBatches(items: ForwardItem[], index: string, size: number, bytes: number): { from: number; to: number; body: Buffer }[] {
  const out: { from: number; to: number; body: Buffer }[] = [];
  let parts: string[] = [];
  let from = 0;
  let held = 0;
  items.forEach((it, i) => {
    const lines = bulkLines(it, index);
    const n = Buffer.byteLength(lines, 'utf8');
    if (parts.length > 0 && (parts.length >= size || held + n > bytes)) {
      out.push({ from, to: i, body: Buffer.from(parts.join(''), 'utf8') });
      parts = [];
      from = i;
      held = 0;
    }
    parts.push(lines);
    held += n;
  });
  if (parts.length > 0) out.push({ from, to: items.length, body: Buffer.from(parts.join(''), 'utf8') });
  return out;
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

  /** The runner's batch of due forwards: _bulk requests of at most batch_size alerts and batch_bytes, in turn. */
  async deliverMany(items: ForwardItem[]): Promise<DeliveryResult[]> {
    const results: DeliveryResult[] = [];
    for (const b of bulkBatches(items, this.o.index, this.o.batchSize, this.o.batchBytes)) results.push(...(await this.sendBody(items.slice(b.from, b.to), b.body)));
    return results;
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
    return this.sendBody(items, bulkBody(items, this.o.index));
  }

  private async sendBody(items: ForwardItem[], body: Buffer): Promise<DeliveryResult[]> {
    const all = (r: DeliveryResult): DeliveryResult[] => items.map(() => r);
    let res;
    try {
      // Elasticsearch answers about 200 bytes per item; the cap bounds what a confused server can make us hold.
      res = await post(`${this.o.url}/_bulk`, this.headers(), body, { timeoutMs: this.timeoutMs, maxResponseBytes: (64 << 10) + 2048 * items.length, ...(this.tls ? { tls: this.tls } : {}) });
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
